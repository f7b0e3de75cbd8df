# Stratus's Python template process (a fork server).
#
# Starting Python and importing awslambdaric and boto3 takes ~300 ms here;
# forking a process that already did so takes a few milliseconds. The
# server starts one template per Python function package, in that
# function's sandbox (its root, /var/task, /var/runtime), as root inside the
# sandbox's namespaces. The template imports the runtime client and boto3 —
# never the function's code — then waits on fd 3 for requests. For each, it
# forks an intermediate process that
#   - joins the instance's cgroups (the server opened their cgroup.procs),
#   - unshares mount, pid, ipc, uts (and net) namespaces,
#   - forks the instance, PID 1 of its own pid namespace, which mounts its
#     own /proc and private /tmp, brings up lo and hands the server a Runtime
#     API listener made in its own network namespace, drops to the
#     instance's unprivileged user with no capabilities, and runs
#     awslambdaric, which imports the function's code (Lambda's init) as a
#     freshly started runtime would;
#   - waits for the instance and reports its wait status to the server.
#
# Protocol (SOCK_SEQPACKET, one JSON message per packet):
#   template -> server on fd 3:  {"ready": true}
#   server -> template on fd 3:  {"env": [[k, v], ...], "handler": ..., "uid": n,
#       "gid": n, "tmp_mb": n, "max_pids": n, "isolate_network": bool}
#       with fds [reply socket, stdout, stderr, cgroup.procs files...]
#   instance -> server on reply: {"listener": true} with fds [listener]
#                             or {"error": "..."}
#   intermediate -> server on reply: {"exit": wait status}

import ctypes
import fcntl
import json
import os
import signal
import socket
import struct
import sys
import traceback

# Started with `python -I`: nothing from the environment or the current
# directory is on the path; the runtime folder is put there explicitly.
sys.path.insert(0, os.environ.get("LAMBDA_RUNTIME_DIR", "/var/runtime"))

# What a fresh runtime would import anyway, and boto3 (part of Lambda's
# Python runtime): imported once here, shared copy-on-write by instances.
import awslambdaric.bootstrap  # noqa: E402,F401
import awslambdaric.lambda_config  # noqa: E402,F401
import awslambdaric.lambda_runtime_client  # noqa: E402,F401
from awslambdaric import __main__ as ric_main  # noqa: E402

try:
    import boto3  # noqa: F401
    import botocore.session  # noqa: F401
except ImportError:
    pass

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(source, target, fstype, flags, data=None):
    check(
        libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def lo_up():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        ifreq = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
    finally:
        s.close()


def send(sock, message, fds=()):
    socket.send_fds(sock, [json.dumps(message).encode()], list(fds))


def instance(request, reply, out, err):
    """PID 1 of the instance's pid namespace: finish the sandbox, run the runtime."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={int(request['tmp_mb'])}m,mode=1777")
    if os.path.isdir("/dev/shm"):
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
    if request["isolate_network"]:
        lo_up()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 9001 if request["isolate_network"] else 0))
    listener.listen(64)
    send(reply, {"listener": True}, [listener.fileno()])
    listener.close()
    reply.close()

    uid, gid = int(request["uid"]), int(request["gid"])
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    resource.setrlimit(resource.RLIMIT_NPROC, (int(request["max_pids"]), int(request["max_pids"])))
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl no_new_privs")

    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.closerange(3, 65536)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)

    os.environ.clear()
    os.environ.update({k: v for k, v in request["env"]})
    os.chdir(os.environ.get("LAMBDA_TASK_ROOT", "/var/task"))
    sys.path.insert(0, os.getcwd())
    # Per-instance state that a fork would otherwise share.
    import random

    random.seed()
    for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    # As PID 1, SIGTERM without a handler would be ignored; act as if the
    # default action applied (the function may install its own).
    signal.signal(signal.SIGTERM, lambda *_: os._exit(128 + signal.SIGTERM))
    ric_main.main(["awslambdaric", request["handler"]])
    sys.stdout.flush()
    os._exit(0)


def intermediate(request, fds):
    reply = socket.socket(fileno=fds[0])
    out, err = fds[1], fds[2]
    try:
        for procs in fds[3:]:
            os.write(procs, b"0")
            os.close(procs)
        flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
        if request["isolate_network"]:
            flags |= CLONE_NEWNET
        check(libc.unshare(flags), "unshare")
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        pid = os.fork()
    except BaseException as e:  # noqa: BLE001 - reported to the server
        send(reply, {"error": f"{type(e).__name__}: {e}"})
        os._exit(127)
    if pid == 0:
        try:
            instance(request, reply, out, err)
        except BaseException:  # noqa: BLE001
            try:
                send(reply, {"error": traceback.format_exc(limit=3)})
            except OSError:
                pass
            os._exit(127)
    os.close(out)
    os.close(err)
    def forward(*_):
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass

    signal.signal(signal.SIGTERM, forward)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            status = 9
            break
    try:
        send(reply, {"exit": status})
    except OSError:
        pass
    os._exit(0)


def main():
    control = socket.socket(fileno=3)
    # Intermediates are reaped by the kernel; each reports its instance.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    send(control, {"ready": True, "pid": os.getpid()})
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 1 << 20, 32)
        except InterruptedError:
            continue
        if not message:
            os._exit(0)
        try:
            request = json.loads(message)
        except ValueError:
            for fd in fds:
                os.close(fd)
            continue
        if len(fds) < 3:
            for fd in fds:
                os.close(fd)
            continue
        pid = os.fork()
        if pid == 0:
            control.close()
            intermediate(request, fds)
            os._exit(0)
        for fd in fds:
            os.close(fd)


main()

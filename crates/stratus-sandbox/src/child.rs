//! Code that runs in the cloned child, between `clone` and `execve`.
//!
//! # Safety
//!
//! The parent is a multi-threaded tokio process. `clone` (without
//! `CLONE_VM`) gives the child a copy of the parent's memory but only of the
//! calling thread: locks held by other threads at that instant (the
//! allocator's, stdio's, tracing's, glibc's internal ones) stay locked
//! forever in the child, and glibc's per-thread bookkeeping describes threads
//! that do not exist there. So from `clone` until `execve` (or `_exit`) this
//! module only
//!
//! * reads the [`Plan`] and [`ChildFds`] prepared by the parent (every C
//!   string, pointer array and message index already exists in the child's
//!   copy of the heap; nothing is allocated or freed);
//! * keeps small fixed-size values on the stack (`pollfd`, `ifreq`,
//!   `msghdr` and its control buffer, `sigset_t`);
//! * makes system calls, either through `libc::syscall` or through libc
//!   functions that are thin, async-signal-safe syscall wrappers (`mount`,
//!   `mkdir`, `open`, `dup2`, `poll`, `sigprocmask`, `sigaction`, ...).
//!   Credentials are changed with raw `syscall(SYS_setresuid, ..)` because
//!   glibc's `setuid` tries to broadcast the change to the (stale) thread
//!   list; processes are forked with raw `SYS_clone` because glibc's `fork`
//!   runs atfork handlers and takes allocator locks;
//! * never panics: no indexing that can fail, no `unwrap`, wrapping
//!   arithmetic only, no formatting, no logging. A failed step writes a
//!   fixed 8-byte record (step index, errno) to the close-on-exec error pipe
//!   and calls `_exit(127)`.
//!
//! Signals are blocked by the parent around `clone`, so no inherited handler
//! can run in the child; the program resets every disposition to the default
//! and unblocks signals just before `execve`.

use std::os::fd::RawFd;

use libc::{c_int, c_uint, c_ulong};

use crate::plan::{Op, Plan, step};

/// The descriptors the child uses (all close-on-exec, all >= 3).
#[derive(Clone, Copy)]
pub(crate) struct ChildFds {
    /// Read end of the sync pipe: the child waits for one byte (the parent
    /// has placed it in its cgroups); end of file later means the parent is
    /// gone.
    pub(crate) sync_rd: RawFd,
    /// Write end of the error pipe.
    pub(crate) err_wr: RawFd,
    /// Write end of the status pipe (init reports the program's wait
    /// status), or -1.
    pub(crate) status_wr: RawFd,
    /// Write ends of the program's stdout and stderr pipes.
    pub(crate) out_wr: RawFd,
    pub(crate) errout_wr: RawFd,
    /// The child's end of the socket pair the listener is sent over, or -1.
    pub(crate) sock: RawFd,
    /// `cgroup.procs` of the freezer cgroup the program moves itself into
    /// (with namespaces the init stays outside it, so that it keeps running
    /// while the program is frozen), or -1.
    pub(crate) freezer_join: RawFd,
    /// The freezer's control file (`freezer.state` / `cgroup.freeze`), which
    /// init uses to thaw the program when the host process dies, or -1.
    pub(crate) freezer_state: RawFd,
    /// What to write to `freezer_state` to thaw.
    pub(crate) thaw: &'static [u8],
    /// The descriptor the program gets as fd 3 ([`crate::Spec::pass_fd`]),
    /// or -1.
    pub(crate) pass: RawFd,
    /// The above, sorted, -1 for unused slots: what init keeps open.
    pub(crate) keep: [RawFd; 9],
}

impl ChildFds {
    /// Fills `keep` from the other fields.
    pub(crate) fn seal(mut self) -> ChildFds {
        let mut keep = [
            self.sync_rd,
            self.err_wr,
            self.status_wr,
            self.out_wr,
            self.errout_wr,
            self.sock,
            self.freezer_join,
            self.freezer_state,
            self.pass,
        ];
        keep.sort_unstable();
        self.keep = keep;
        self
    }
}

/// `struct mount_attr` of `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// The part of `struct ifreq` used with `SIOC[GS]IFFLAGS`.
#[repr(C)]
struct IfReq {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Signals the init forwards to the program.
const FORWARDED: [c_int; 6] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

fn errno() -> c_int {
    // SAFETY: errno is thread-local and the calling thread's TLS block was
    // copied into the child along with its stack.
    unsafe { *libc::__errno_location() }
}

/// Reports `step` failing with `err` and exits.
fn fail_with(fds: &ChildFds, step: u32, err: c_int) -> ! {
    let s = step.to_ne_bytes();
    let e = err.to_ne_bytes();
    let record = [s[0], s[1], s[2], s[3], e[0], e[1], e[2], e[3]];
    // SAFETY: write(2) and _exit(2) are async-signal-safe syscalls; the
    // record is an 8-byte stack array (< PIPE_BUF, so atomic).
    unsafe {
        loop {
            let n = libc::write(fds.err_wr, record.as_ptr().cast(), record.len());
            if n == -1 && errno() == libc::EINTR {
                continue;
            }
            break;
        }
        libc::_exit(127)
    }
}

/// Reports `step` failing with the current errno and exits.
fn fail(fds: &ChildFds, step: u32) -> ! {
    fail_with(fds, step, errno())
}

/// Exits if a `-1`-on-error call failed.
fn check(fds: &ChildFds, step: u32, ret: c_int) {
    if ret == -1 {
        fail(fds, step);
    }
}

/// `fork` with a raw `clone(SIGCHLD)` (no atfork handlers, no locks).
///
/// # Safety
/// Only for use in the single-threaded child.
unsafe fn raw_fork() -> libc::pid_t {
    // SAFETY: clone without CLONE_VM behaves like fork; the new child
    // continues on a copy of this stack.
    unsafe {
        libc::syscall(
            libc::SYS_clone,
            libc::SIGCHLD as c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        ) as libc::pid_t
    }
}

/// `close_range(first, last, flags)`; -1 with errno on failure.
unsafe fn close_range(first: c_uint, last: c_uint, flags: c_uint) -> c_int {
    // SAFETY: plain syscall.
    unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) as c_int }
}

/// The soft `RLIMIT_NOFILE`, capped, for the descriptor loops used on
/// kernels without `close_range`.
unsafe fn fd_limit() -> c_int {
    // SAFETY: getrlimit writes into a stack value.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == -1 || lim.rlim_cur > 1 << 20 {
            1 << 20
        } else {
            lim.rlim_cur as c_int
        }
    }
}

/// Closes every descriptor >= 3 that is not in `keep` (sorted).
unsafe fn close_all_except(keep: &[RawFd]) -> c_int {
    // SAFETY: close_range/close on descriptors this process owns.
    unsafe {
        let mut next: c_uint = 3;
        for &k in keep {
            if k < 3 || (k as c_uint) < next {
                continue;
            }
            let k = k as c_uint;
            if k > next && close_range(next, k.wrapping_sub(1), 0) == -1 {
                return close_loop(keep);
            }
            next = k.wrapping_add(1);
        }
        if close_range(next, c_uint::MAX, 0) == -1 {
            return close_loop(keep);
        }
        0
    }
}

/// The fallback of [`close_all_except`] for kernels before 5.9.
unsafe fn close_loop(keep: &[RawFd]) -> c_int {
    // SAFETY: close on descriptors this process owns.
    unsafe {
        let limit = fd_limit();
        let mut fd = 3;
        while fd < limit {
            if !keep.contains(&fd) {
                libc::close(fd);
            }
            fd += 1;
        }
        0
    }
}

/// Marks every descriptor >= `first` close-on-exec.
unsafe fn cloexec_from(first: c_int) -> c_int {
    // SAFETY: close_range/fcntl on descriptors this process owns.
    unsafe {
        if close_range(first as c_uint, c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC) == 0 {
            return 0;
        }
        let limit = fd_limit();
        let mut fd = first;
        while fd < limit {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            fd += 1;
        }
        0
    }
}

/// Waits for the parent's go byte; exits quietly if the parent is gone.
unsafe fn wait_for_parent(fds: &ChildFds) {
    let mut byte = 0u8;
    loop {
        // SAFETY: one-byte read into a stack value.
        let n = unsafe { libc::read(fds.sync_rd, (&mut byte as *mut u8).cast(), 1) };
        if n == 1 {
            return;
        }
        if n == -1 && errno() == libc::EINTR {
            continue;
        }
        if n == 0 {
            // The parent closed the pipe without releasing us (it failed
            // and cleans up): nothing to report.
            // SAFETY: _exit is async-signal-safe.
            unsafe { libc::_exit(1) }
        }
        fail(fds, step::SYNC);
    }
}

/// Entry point of the namespace init (pid 1 of the new pid namespace).
///
/// # Safety
/// Must only be called in the child right after `clone`; see the module
/// documentation.
pub(crate) unsafe fn init_main(plan: &Plan, fds: &ChildFds) -> ! {
    // SAFETY: see the module documentation: raw syscalls on data prepared
    // before clone.
    unsafe {
        // Drop every descriptor inherited from the parent's other threads
        // (their pipes and sockets must not be held open by us).
        check(fds, step::CLOSE_FDS, close_all_except(&fds.keep));
        libc::umask(0o022);
        // Own session and process group, so that the host can signal the
        // whole tree with kill(-pid) without reaching the server.
        check(fds, step::SETSID, libc::setsid());
        wait_for_parent(fds);

        for s in &plan.ops {
            run_op(fds, s.step, &s.op);
        }
        if plan.child_listener {
            make_listener(fds);
        }
        // Let go of the server's stdin/stdout/stderr: init never uses them
        // and must not keep, say, a log pipe or a terminal open.
        let null = libc::open(plan.dev_null.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            libc::dup2(null, 2);
            if null > 2 {
                libc::close(null);
            }
        }

        // Signals stay blocked (from the parent, around clone); init reads
        // them from a signalfd.
        let mut mask: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut mask);
        libc::sigaddset(&mut mask, libc::SIGCHLD);
        for sig in FORWARDED {
            libc::sigaddset(&mut mask, sig);
        }
        let sfd = libc::signalfd(-1, &mask, libc::SFD_CLOEXEC);
        check(fds, step::SIGNALFD, sfd);

        let program = raw_fork();
        if program == -1 {
            fail(fds, step::FORK);
        }
        if program == 0 {
            program_main(plan, fds, true);
        }
        // The program reports its own setup errors; once it has exec'd, the
        // error pipe must reach end of file, so init lets go of it, and of
        // the output pipes.
        libc::close(fds.err_wr);
        libc::close(fds.out_wr);
        libc::close(fds.errout_wr);
        if fds.pass >= 0 {
            // Only the program holds the passed descriptor.
            libc::close(fds.pass);
        }
        if fds.freezer_join >= 0 {
            libc::close(fds.freezer_join);
        }
        init_loop(program, sfd, fds)
    }
}

/// Init's main loop: forward signals to the program, reap every child, and
/// exit with the program's status when it exits.
unsafe fn init_loop(program: libc::pid_t, sfd: c_int, fds: &ChildFds) -> ! {
    // SAFETY: waitpid/poll/read/kill/write/_exit on stack values.
    unsafe {
        loop {
            loop {
                let mut status: c_int = 0;
                let pid = libc::waitpid(-1, &mut status, libc::WNOHANG);
                if pid <= 0 {
                    break;
                }
                if pid == program {
                    finish(status, fds);
                }
            }
            let mut pfds = [
                libc::pollfd {
                    fd: sfd,
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: fds.sync_rd,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            if libc::poll(pfds.as_mut_ptr(), 2, -1) == -1 {
                continue;
            }
            let [sig_fd, parent_fd] = pfds;
            if parent_fd.revents != 0 {
                let mut byte = 0u8;
                let n = libc::read(fds.sync_rd, (&mut byte as *mut u8).cast(), 1);
                if n == 0 || (n == -1 && errno() != libc::EINTR && errno() != libc::EAGAIN) {
                    // The host process is gone: take the tree down with us.
                    // A frozen program would not die (nor let this init's
                    // exit complete), so thaw it first.
                    if fds.freezer_state >= 0 {
                        libc::write(fds.freezer_state, fds.thaw.as_ptr().cast(), fds.thaw.len());
                    }
                    libc::kill(-1, libc::SIGKILL);
                    libc::_exit(128 + libc::SIGKILL);
                }
            }
            if sig_fd.revents & libc::POLLIN != 0 {
                let mut info: libc::signalfd_siginfo = std::mem::zeroed();
                let n = libc::read(
                    sfd,
                    (&mut info as *mut libc::signalfd_siginfo).cast(),
                    std::mem::size_of::<libc::signalfd_siginfo>(),
                );
                if n > 0 {
                    let sig = info.ssi_signo as c_int;
                    if sig != libc::SIGCHLD {
                        libc::kill(program, sig);
                    }
                }
            }
        }
    }
}

/// Reports the program's wait status to the host and exits with it.
unsafe fn finish(status: c_int, fds: &ChildFds) -> ! {
    let bytes = status.to_ne_bytes();
    // SAFETY: write/_exit with a stack buffer.
    unsafe {
        if fds.status_wr >= 0 {
            libc::write(fds.status_wr, bytes.as_ptr().cast(), bytes.len());
        }
        // A pid namespace's init cannot re-raise a signal on itself (the
        // kernel drops it), so signal deaths become 128+sig; the host reads
        // the exact status from the status pipe.
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else if libc::WIFSIGNALED(status) {
            128 + libc::WTERMSIG(status)
        } else {
            1
        };
        libc::_exit(code)
    }
}

/// Performs one setup operation or exits with its step.
unsafe fn run_op(fds: &ChildFds, step: u32, op: &Op) {
    let opt = |c: &Option<std::ffi::CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: every pointer comes from a CString in the plan, alive in
    // this copy of the parent's memory.
    unsafe {
        match op {
            Op::Mount {
                source,
                target,
                fstype,
                flags,
                data,
            } => check(
                fds,
                step,
                libc::mount(
                    opt(source),
                    target.as_ptr(),
                    opt(fstype),
                    *flags,
                    opt(data).cast(),
                ),
            ),
            Op::SetAttr {
                target,
                set,
                fallback,
            } => {
                let attr = MountAttr {
                    attr_set: *set,
                    attr_clr: 0,
                    propagation: 0,
                    userns_fd: 0,
                };
                let r = libc::syscall(
                    libc::SYS_mount_setattr,
                    libc::AT_FDCWD,
                    target.as_ptr(),
                    libc::AT_RECURSIVE as c_uint,
                    &attr as *const MountAttr,
                    std::mem::size_of::<MountAttr>(),
                );
                if r == -1 {
                    if errno() != libc::ENOSYS {
                        fail(fds, step);
                    }
                    check(
                        fds,
                        step,
                        libc::mount(
                            std::ptr::null(),
                            target.as_ptr(),
                            std::ptr::null(),
                            libc::MS_REMOUNT | libc::MS_BIND | *fallback,
                            std::ptr::null(),
                        ),
                    );
                }
            }
            Op::Mkdir { path, mode } => {
                if libc::mkdir(path.as_ptr(), *mode) == -1 && errno() != libc::EEXIST {
                    fail(fds, step);
                }
            }
            Op::Touch { path } => {
                let fd = libc::open(
                    path.as_ptr(),
                    libc::O_CREAT | libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY,
                    0o644 as c_uint,
                );
                check(fds, step, fd);
                libc::close(fd);
            }
            Op::Symlink { target, link } => {
                if libc::symlink(target.as_ptr(), link.as_ptr()) == -1 && errno() != libc::EEXIST {
                    fail(fds, step);
                }
            }
            Op::PivotRoot { new_root } => {
                check(fds, step, libc::chdir(new_root.as_ptr()));
                // pivot_root(".", "."): the old root ends up stacked on top
                // of the new one and is then lazily detached.
                let dot = c".".as_ptr();
                if libc::syscall(libc::SYS_pivot_root, dot, dot) == -1 {
                    fail(fds, step);
                }
                check(fds, step, libc::umount2(dot, libc::MNT_DETACH));
                check(fds, step, libc::chdir(c"/".as_ptr()));
            }
            Op::Hostname { name } => {
                check(
                    fds,
                    step,
                    libc::sethostname(name.as_ptr(), name.as_bytes().len()),
                );
            }
            Op::LoopbackUp => {
                let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
                check(fds, step, s);
                let mut ifr: IfReq = std::mem::zeroed();
                ifr.name[0] = b'l' as libc::c_char;
                ifr.name[1] = b'o' as libc::c_char;
                check(
                    fds,
                    step,
                    libc::ioctl(s, libc::SIOCGIFFLAGS, &mut ifr as *mut IfReq),
                );
                ifr.flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
                check(
                    fds,
                    step,
                    libc::ioctl(s, libc::SIOCSIFFLAGS, &ifr as *const IfReq),
                );
                libc::close(s);
            }
        }
    }
}

/// Creates the Runtime API listener on 127.0.0.1 inside the new network
/// namespace and sends it to the host over the socket pair.
unsafe fn make_listener(fds: &ChildFds) {
    // SAFETY: socket calls with stack-allocated, correctly sized structs.
    unsafe {
        let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        check(fds, step::LISTEN, s);
        let one: c_int = 1;
        libc::setsockopt(
            s,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const c_int).cast(),
            std::mem::size_of::<c_int>() as libc::socklen_t,
        );
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: crate::plan::CHILD_LISTENER_PORT.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
            },
            sin_zero: [0; 8],
        };
        check(
            fds,
            step::LISTEN,
            libc::bind(
                s,
                (&addr as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ),
        );
        check(fds, step::LISTEN, libc::listen(s, 128));

        #[repr(C, align(8))]
        struct Control([u8; 64]);
        let mut control = Control([0; 64]);
        let mut byte = 0u8;
        let mut iov = libc::iovec {
            iov_base: (&mut byte as *mut u8).cast(),
            iov_len: 1,
        };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<c_int>() as c_uint) as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() {
            fail_with(fds, step::SEND_LISTENER, libc::EINVAL);
        }
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<c_int>() as c_uint) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<c_int>(), s);
        loop {
            let n = libc::sendmsg(fds.sock, &msg, libc::MSG_NOSIGNAL);
            if n == -1 && errno() == libc::EINTR {
                continue;
            }
            if n == -1 {
                fail(fds, step::SEND_LISTENER);
            }
            break;
        }
        libc::close(s);
        libc::close(fds.sock);
    }
}

/// Entry point of a program started without namespaces: own process group,
/// wait for the host, then the common program setup.
///
/// # Safety
/// Must only be called in the child right after `clone`; see the module
/// documentation.
pub(crate) unsafe fn direct_main(plan: &Plan, fds: &ChildFds) -> ! {
    // SAFETY: see the module documentation.
    unsafe {
        check(fds, step::SETPGID, libc::setpgid(0, 0));
        wait_for_parent(fds);
        program_main(plan, fds, false)
    }
}

/// Makes `from` the descriptor `to` (not close-on-exec).
unsafe fn move_fd(fds: &ChildFds, from: c_int, to: c_int) {
    // SAFETY: dup2/fcntl on owned descriptors.
    unsafe {
        if from == to {
            check(fds, step::STDIO, libc::fcntl(to, libc::F_SETFD, 0));
        } else {
            check(fds, step::STDIO, libc::dup2(from, to));
        }
    }
}

/// The program's setup: stdio, rlimits, credentials, cwd, descriptors,
/// signals, then `execve` (or `_exit(0)` in a probe).
unsafe fn program_main(plan: &Plan, fds: &ChildFds, namespaces: bool) -> ! {
    // SAFETY: see the module documentation.
    unsafe {
        // stdin from /dev/null, stdout/stderr to the host's pipes.
        let null = libc::open(plan.dev_null.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        check(fds, step::STDIO, null);
        move_fd(fds, null, 0);
        move_fd(fds, fds.out_wr, 1);
        move_fd(fds, fds.errout_wr, 2);

        if fds.freezer_join >= 0 {
            // Join the freezer cgroup ("0" is the writing process).
            loop {
                let n = libc::write(fds.freezer_join, b"0".as_ptr().cast(), 1);
                if n == -1 && errno() == libc::EINTR {
                    continue;
                }
                if n == -1 {
                    fail(fds, step::JOIN_FREEZER);
                }
                break;
            }
            libc::close(fds.freezer_join);
        }

        // The passed descriptor becomes fd 3 (before the rlimits, while any
        // descriptor number can still be used). The error pipe is needed
        // until execve; should it be fd 3, it moves out of the way first.
        let moved: ChildFds;
        let fds = if fds.pass >= 0 && fds.pass != 3 && fds.err_wr == 3 {
            let err_wr = libc::fcntl(3, libc::F_DUPFD_CLOEXEC, 4);
            check(fds, step::PASS_FD, err_wr);
            moved = ChildFds { err_wr, ..*fds };
            &moved
        } else {
            fds
        };
        if fds.pass >= 0 {
            if fds.pass == 3 {
                check(fds, step::PASS_FD, libc::fcntl(3, libc::F_SETFD, 0));
            } else {
                // dup2 leaves the new descriptor without FD_CLOEXEC.
                check(fds, step::PASS_FD, libc::dup2(fds.pass, 3));
            }
        }

        if namespaces && let Some(path) = &plan.oom_score_adj {
            // The parent set the init's score to -1000 so that the OOM
            // killer picks the program; undo that for the program.
            let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd >= 0 {
                libc::write(fd, b"0".as_ptr().cast(), 1);
                libc::close(fd);
            }
        }

        for limit in &plan.rlimits {
            let value = libc::rlimit {
                rlim_cur: limit.value,
                rlim_max: limit.value,
            };
            check(fds, limit.step, libc::setrlimit(limit.resource, &value));
        }

        if let Some(id) = plan.uid {
            let id = id as libc::c_long;
            // Raw syscalls: glibc's wrappers would try to synchronise
            // threads that do not exist in this process.
            if libc::syscall(libc::SYS_setgroups, 0usize, std::ptr::null::<libc::gid_t>()) == -1 {
                fail(fds, step::SETGROUPS);
            }
            if libc::syscall(libc::SYS_setresgid, id, id, id) == -1 {
                fail(fds, step::SETGID);
            }
            if libc::syscall(libc::SYS_setresuid, id, id, id) == -1 {
                fail(fds, step::SETUID);
            }
        }
        if plan.no_new_privs {
            check(
                fds,
                step::NO_NEW_PRIVS,
                libc::prctl(
                    libc::PR_SET_NO_NEW_PRIVS,
                    1 as c_ulong,
                    0 as c_ulong,
                    0 as c_ulong,
                    0 as c_ulong,
                ),
            );
        }
        check(fds, step::CHDIR, libc::chdir(plan.cwd.as_ptr()));
        // Nothing but 0, 1 and 2 (and the passed fd 3) survives execve (the
        // error pipe is already close-on-exec, so its end of file tells the
        // host exec succeeded).
        let first = if fds.pass >= 0 { 4 } else { 3 };
        check(fds, step::CLOEXEC, cloexec_from(first));

        // Default dispositions (Rust ignores SIGPIPE, tokio installs
        // handlers; ignored signals would survive execve), then unblock.
        // Raw rt_sigaction, as glibc refuses to touch its reserved signals
        // 32 and 33, which may be inherited as ignored. An all-zero kernel
        // `struct sigaction` is SIG_DFL with no flags and an empty mask on
        // every architecture.
        let dfl = [0u64; 4];
        let mut sig: c_int = 1;
        while sig <= 64 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    dfl.as_ptr(),
                    std::ptr::null_mut::<u64>(),
                    8usize,
                );
            }
            sig += 1;
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        check(
            fds,
            step::SIGNALS,
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()),
        );

        if plan.probe {
            libc::_exit(0);
        }
        libc::execve(
            plan.program.as_ptr(),
            plan.argv.as_ptr(),
            plan.envp.as_ptr(),
        );
        fail(fds, step::EXEC)
    }
}

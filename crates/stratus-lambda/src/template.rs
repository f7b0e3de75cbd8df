//! Python templates: one pre-initialised fork server per Python function
//! package, so a cold start forks a process that already imported the
//! runtime client and boto3 instead of starting Python afresh.
//!
//! The template (`runtime/python/zygote.py`) runs in a sandbox of its own,
//! made like an instance's (the function's root, task and runtime binds),
//! but as root inside it so that it can finish each child's isolation: the
//! child joins the instance's cgroups (created here), unshares its own
//! mount, pid, ipc, uts and network namespaces, mounts a private `/tmp` and
//! `/proc`, makes its Runtime API listener inside its network namespace and
//! hands it back, drops to the instance's unprivileged user, and runs
//! awslambdaric, which imports the function's code (Lambda's init) as a
//! fresh runtime would. The template itself never runs function code.
//!
//! A [`Forked`] instance is controlled through its cgroups (freeze, kill,
//! memory) and learns its exit status from the intermediate process that
//! waits for it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stratus_sandbox::{Exit, Host, InstanceCgroups, Sandboxed, Spec};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// The fork server's source, run with `python3 -c`.
const ZYGOTE: &str = include_str!("../runtime/python/zygote.py");
/// How long a template may take to import its modules.
const TEMPLATE_START: Duration = Duration::from_secs(30);
/// How long a fork may take to hand back its listener.
const FORK_START: Duration = Duration::from_secs(10);
/// Memory of a template's own cgroup (Python, awslambdaric and boto3).
const TEMPLATE_MEMORY_MB: u32 = 512;
/// Largest control message.
const MAX_MESSAGE: usize = 64 * 1024;

/// A running template.
pub struct Template {
    sandbox: Sandboxed,
    control: Mutex<OwnedFd>,
}

/// A new forked instance, its Runtime API listener and its stdout and
/// stderr pipes.
pub type Spawned = (Forked, std::net::TcpListener, OwnedFd, OwnedFd);

/// What one instance needs from the template.
pub struct ForkRequest {
    pub env: Vec<(String, String)>,
    pub handler: String,
    pub uid: u32,
    pub gid: u32,
    pub tmp_mb: u32,
    pub memory_mb: u32,
    pub max_pids: u32,
    pub isolate_network: bool,
}

/// A forked instance's processes.
pub struct Forked {
    pub cgroups: Arc<InstanceCgroups>,
    /// The template, kept running while its instances live (they are in its
    /// pid namespace).
    _template: Arc<Template>,
    exit: tokio::sync::watch::Receiver<Option<Exit>>,
    _reaper: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("pid", &self.sandbox.pid())
            .finish_non_exhaustive()
    }
}

impl Template {
    /// Starts a template in a sandbox made from `spec` (an instance's spec
    /// for the function), waiting until it has imported its modules.
    /// Blocking; run it off the async workers.
    pub fn start(host: &Host, mut spec: Spec) -> Result<Template, String> {
        let (ours, theirs) = seqpacket_pair().map_err(|e| format!("template socket: {e}"))?;
        // The template runs as root: nothing of the function's may reach
        // it. `-I` (isolated mode) ignores PYTHON* variables, the user site
        // and the current directory on sys.path; the zygote puts
        // /var/runtime on the path itself. Its environment holds only the
        // platform's variables (the function's own are set in each fork).
        spec.args = vec!["-I".into(), "-c".into(), ZYGOTE.into()];
        spec.cwd = std::path::PathBuf::from("/");
        const PLATFORM_VARS: &[&str] = &[
            "PATH",
            "LANG",
            "TZ",
            "HOME",
            "AWS_LAMBDA_FUNCTION_NAME",
            "LAMBDA_TASK_ROOT",
            "LAMBDA_RUNTIME_DIR",
        ];
        spec.env
            .retain(|(k, _)| PLATFORM_VARS.iter().any(|p| k.as_os_str() == *p));
        spec.keep_root = true;
        spec.pass_fd = Some(Arc::new(theirs));
        spec.listener_env = None;
        spec.memory_mb = TEMPLATE_MEMORY_MB.max(spec.memory_mb);
        spec.tmp_mb = 1;
        spec.max_pids = 64;
        let mut sandbox = host
            .spawn(spec)
            .map_err(|e| format!("could not start the Python template: {e}"))?;
        // The template prints nothing unless something is wrong; that goes
        // to the server's log.
        for pipe in [sandbox.stdout.take(), sandbox.stderr.take()]
            .into_iter()
            .flatten()
        {
            std::thread::Builder::new()
                .name("template-log".into())
                .spawn(move || {
                    use std::io::BufRead;
                    for line in std::io::BufReader::new(std::fs::File::from(pipe)).lines() {
                        let Ok(line) = line else { break };
                        tracing::warn!(target: "stratus::template", "{line}");
                    }
                })
                .map_err(|e| format!("template log thread: {e}"))?;
        }
        let (message, fds) = recv_timeout(ours.as_raw_fd(), TEMPLATE_START)
            .map_err(|e| format!("the Python template did not start: {e}"))?;
        drop(fds);
        let ready: serde_json::Value = serde_json::from_slice(&message)
            .map_err(|e| format!("the Python template said something odd: {e}"))?;
        if ready["ready"] != true {
            return Err(format!("the Python template is not ready: {ready}"));
        }
        Ok(Template {
            sandbox,
            control: Mutex::new(ours),
        })
    }

    /// Whether the template process is still running.
    pub fn alive(&self) -> bool {
        self.sandbox.try_exit().is_none()
    }

    /// Forks an instance. Blocking; run it off the async workers, inside a
    /// tokio runtime (the instance's exit watcher is a task).
    pub fn fork(self: &Arc<Self>, host: &Host, request: &ForkRequest) -> Result<Spawned, String> {
        let cgroups = host
            .instance_cgroups(request.memory_mb, request.max_pids)
            .map_err(|e| format!("instance cgroups: {e}"))?;
        let procs = cgroups
            .procs_files()
            .map_err(|e| format!("instance cgroups: {e}"))?;
        let (reply, reply_child) = seqpacket_pair().map_err(|e| format!("reply socket: {e}"))?;
        let (stdout, stdout_child) = pipe().map_err(|e| format!("output pipe: {e}"))?;
        let (stderr, stderr_child) = pipe().map_err(|e| format!("output pipe: {e}"))?;
        let message = serde_json::json!({
            "env": request.env,
            "handler": request.handler,
            "uid": request.uid,
            "gid": request.gid,
            "tmp_mb": request.tmp_mb,
            "max_pids": request.max_pids,
            "isolate_network": request.isolate_network,
        })
        .to_string();
        let mut fds: Vec<RawFd> = vec![
            reply_child.as_raw_fd(),
            stdout_child.as_raw_fd(),
            stderr_child.as_raw_fd(),
        ];
        fds.extend(procs.iter().map(|f| f.as_raw_fd()));
        {
            let control = self.control.lock().unwrap_or_else(|e| e.into_inner());
            send_with_fds(control.as_raw_fd(), message.as_bytes(), &fds)
                .map_err(|e| format!("could not reach the Python template: {e}"))?;
        }
        drop((reply_child, stdout_child, stderr_child, procs));
        let (answer, mut got) = recv_timeout(reply.as_raw_fd(), FORK_START)
            .map_err(|e| format!("the forked instance did not start: {e}"))?;
        let answer: serde_json::Value = serde_json::from_slice(&answer)
            .map_err(|e| format!("the forked instance said something odd: {e}"))?;
        if let Some(error) = answer["error"].as_str() {
            return Err(format!("the forked instance failed to set up: {error}"));
        }
        if answer["listener"] != true || got.is_empty() {
            return Err(format!("the forked instance sent no listener: {answer}"));
        }
        let listener = std::net::TcpListener::from(got.remove(0));
        let (tx, exit) = tokio::sync::watch::channel(None);
        let reaper = tokio::spawn(watch_exit(reply, tx));
        let forked = Forked {
            cgroups: Arc::new(cgroups),
            _template: self.clone(),
            exit,
            _reaper: reaper,
        };
        Ok((forked, listener, stdout, stderr))
    }

    /// Stops the template (and with it any instance it still has).
    pub fn kill(&self) {
        self.sandbox.kill();
    }
}

/// Reads the intermediate's report of the instance's wait status; its end
/// of the socket closing without one means it was killed with the instance.
async fn watch_exit(reply: OwnedFd, tx: tokio::sync::watch::Sender<Option<Exit>>) {
    // SAFETY: the AsyncFd owns the socket, which stays open and unchanged
    // until the AsyncFd is dropped.
    let registered = unsafe { AsyncFd::register_with_interest(reply, Interest::READABLE) };
    let exit = match registered {
        Ok(fd) => loop {
            let Ok(mut ready) = fd.readable().await else {
                break Exit::Signal(libc::SIGKILL);
            };
            match recv_with_fds(fd.get_ref().as_raw_fd(), libc::MSG_DONTWAIT) {
                Ok((message, _)) if message.is_empty() => break Exit::Signal(libc::SIGKILL),
                Ok((message, _)) => {
                    let value: serde_json::Value =
                        serde_json::from_slice(&message).unwrap_or_default();
                    if let Some(status) = value["exit"].as_i64() {
                        break exit_of(status as i32);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => ready.clear_ready(),
                Err(_) => break Exit::Signal(libc::SIGKILL),
            }
        },
        Err(_) => Exit::Signal(libc::SIGKILL),
    };
    let _ = tx.send(Some(exit));
}

/// A wait status as an [`Exit`].
fn exit_of(status: i32) -> Exit {
    if libc::WIFSIGNALED(status) {
        Exit::Signal(libc::WTERMSIG(status))
    } else {
        Exit::Code(libc::WEXITSTATUS(status))
    }
}

impl Forked {
    /// Waits until the instance's process is gone.
    pub async fn wait(&self) -> Exit {
        let mut exit = self.exit.clone();
        loop {
            if let Some(exit) = *exit.borrow_and_update() {
                return exit;
            }
            if exit.changed().await.is_err() {
                return Exit::Signal(libc::SIGKILL);
            }
        }
    }

    /// The exit, if it already happened.
    pub fn try_exit(&self) -> Option<Exit> {
        *self.exit.borrow()
    }

    /// SIGTERM to every process of the instance, then SIGKILL after `grace`.
    pub async fn terminate(&self, grace: Duration) {
        let _ = self.cgroups.thaw();
        for pid in self.cgroups.pids() {
            // SAFETY: kill(2) with a pid read from the instance's cgroup.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let _ = tokio::time::timeout(grace, self.wait()).await;
        let cgroups = self.cgroups.clone();
        let _ = tokio::task::spawn_blocking(move || cgroups.kill_all()).await;
    }
}

fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: socketpair writes two fds into the array on success.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds are new and owned by us.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two fds into the array on success.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds are new and owned by us.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn send_with_fds(socket: RawFd, data: &[u8], fds: &[RawFd]) -> io::Result<()> {
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of_val(fds) as u32) } as usize;
    let mut control = vec![0u8; space];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; every pointer in it outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = space as _;
        // SAFETY: the control buffer has room for one header with `fds`.
        unsafe {
            let header = libc::CMSG_FIRSTHDR(&msg);
            (*header).cmsg_level = libc::SOL_SOCKET;
            (*header).cmsg_type = libc::SCM_RIGHTS;
            (*header).cmsg_len = libc::CMSG_LEN(std::mem::size_of_val(fds) as u32) as _;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr(),
                libc::CMSG_DATA(header) as *mut RawFd,
                fds.len(),
            );
        }
    }
    loop {
        // SAFETY: msg is fully initialised above.
        let sent = unsafe { libc::sendmsg(socket, &msg, libc::MSG_NOSIGNAL) };
        if sent >= 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Receives one packet and the fds it carries.
fn recv_with_fds(socket: RawFd, flags: i32) -> io::Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut data = vec![0u8; MAX_MESSAGE];
    let space = unsafe { libc::CMSG_SPACE((32 * std::mem::size_of::<RawFd>()) as u32) } as usize;
    let mut control = vec![0u8; space];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: plain data; pointers outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = space as _;
    let received = loop {
        // SAFETY: msg points at our buffers.
        let n = unsafe { libc::recvmsg(socket, &mut msg, flags | libc::MSG_CMSG_CLOEXEC) };
        if n >= 0 {
            break n as usize;
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    };
    let mut fds = Vec::new();
    // SAFETY: walking the control messages the kernel filled in.
    unsafe {
        let mut header = libc::CMSG_FIRSTHDR(&msg);
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_RIGHTS {
                let bytes = (*header).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let data = libc::CMSG_DATA(header) as *const RawFd;
                for i in 0..bytes / std::mem::size_of::<RawFd>() {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i))));
                }
            }
            header = libc::CMSG_NXTHDR(&msg, header);
        }
    }
    data.truncate(received);
    Ok((data, fds))
}

/// Waits (blocking, bounded) for one packet.
fn recv_timeout(socket: RawFd, timeout: Duration) -> io::Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut poll = libc::pollfd {
        fd: socket,
        events: libc::POLLIN,
        revents: 0,
    };
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
        }
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut poll, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if rc > 0 {
            let (message, fds) = recv_with_fds(socket, 0)?;
            if message.is_empty() && fds.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the process ended before answering",
                ));
            }
            return Ok((message, fds));
        }
        if rc < 0 {
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }
}

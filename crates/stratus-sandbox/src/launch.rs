//! The parent side of starting a sandbox: pipes, `clone`, cgroup placement,
//! the go signal, and waiting for `execve` (or a setup error).

use std::io;
use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use crate::cgroup::Instance;
use crate::child::{self, ChildFds};
use crate::plan::Plan;
use crate::sys;
use crate::{Exit, SandboxError};

/// How long the sandbox setup may take before `spawn` gives up.
const SETUP_TIMEOUT_S: u64 = 30;

/// How the child is started.
#[derive(Clone, Copy)]
pub(crate) enum Mode {
    /// As the init of new namespaces (`CLONE_NEW*` flags).
    Namespaces(libc::c_int),
    /// Directly, in its own process group.
    Direct,
}

/// A started child whose program has exec'd.
pub(crate) struct Launched {
    /// Host pid of the init (or of the program, without namespaces).
    pub(crate) pid: libc::pid_t,
    /// Write end of the sync pipe; with namespaces the init exits when it
    /// closes, so it is kept as long as the sandbox.
    pub(crate) sync_wr: Option<OwnedFd>,
    /// Read end of the status pipe (the program's exact wait status).
    pub(crate) status_rd: Option<OwnedFd>,
    pub(crate) stdout: OwnedFd,
    pub(crate) stderr: OwnedFd,
    pub(crate) listener: Option<TcpListener>,
}

/// Kills and reaps the child unless disarmed.
struct Reap(libc::pid_t);

impl Drop for Reap {
    fn drop(&mut self) {
        if self.0 > 0 {
            let _ = sys::kill(self.0, libc::SIGKILL);
            let _ = sys::waitpid(self.0, 0);
        }
    }
}

fn io_err(what: &str) -> impl FnOnce(io::Error) -> SandboxError + '_ {
    move |e| SandboxError::io(what, e)
}

/// Clones the child, places it in `cgroups`, releases it and waits until its
/// program has exec'd. `listener` is a host-side listener to hand back (the
/// child does not get it: it is close-on-exec and init closes it). `pass`
/// is given to the program as fd 3.
pub(crate) fn launch(
    plan: &Plan,
    mode: Mode,
    cgroups: Option<&Instance>,
    listener: Option<TcpListener>,
    pass: Option<BorrowedFd<'_>>,
) -> Result<Launched, SandboxError> {
    let namespaces = matches!(mode, Mode::Namespaces(_));
    let (sync_rd, sync_wr) = sys::pipe().map_err(io_err("create the sync pipe"))?;
    let (err_rd, err_wr) = sys::pipe().map_err(io_err("create the error pipe"))?;
    let (status_rd, status_wr) = if namespaces {
        let (r, w) = sys::pipe().map_err(io_err("create the status pipe"))?;
        (Some(r), Some(w))
    } else {
        (None, None)
    };
    let (out_rd, out_wr) = sys::pipe().map_err(io_err("create the stdout pipe"))?;
    let (errout_rd, errout_wr) = sys::pipe().map_err(io_err("create the stderr pipe"))?;
    let (sock_parent, sock_child) = if plan.child_listener {
        let (a, b) = sys::socketpair().map_err(io_err("create the listener socket pair"))?;
        (Some(a), Some(b))
    } else {
        (None, None)
    };
    // With namespaces, the program joins the freezer cgroup itself and the
    // init keeps the freezer's control file to thaw it if we die.
    let (freezer_join, freezer_state, thaw) = match (namespaces, cgroups) {
        (true, Some(cg)) => {
            let join = match cg.freezer_procs_file() {
                Some(path) => Some(open_write(&path)?),
                None => None,
            };
            match cg.freezer_state_file() {
                Some((path, thaw)) => (join, Some(open_write(&path)?), thaw),
                None => (join, None, &b""[..]),
            }
        }
        _ => (None, None, &b""[..]),
    };
    // A close-on-exec duplicate >= 3 of the passed descriptor, so that the
    // caller's descriptor (whatever its number and flags) is left alone.
    let pass = match pass {
        Some(fd) => Some(
            fd.try_clone_to_owned()
                .and_then(sys::above_stdio)
                .map_err(io_err("duplicate the descriptor to pass"))?,
        ),
        None => None,
    };
    let raw = |fd: &Option<OwnedFd>| fd.as_ref().map_or(-1, |fd| fd.as_raw_fd());
    let fds = ChildFds {
        sync_rd: sync_rd.as_raw_fd(),
        err_wr: err_wr.as_raw_fd(),
        status_wr: raw(&status_wr),
        out_wr: out_wr.as_raw_fd(),
        errout_wr: errout_wr.as_raw_fd(),
        sock: raw(&sock_child),
        freezer_join: raw(&freezer_join),
        freezer_state: raw(&freezer_state),
        thaw,
        pass: raw(&pass),
        keep: [-1; 9],
    }
    .seal();
    let flags = match mode {
        Mode::Namespaces(flags) => flags,
        Mode::Direct => 0,
    };

    let pid = {
        let _blocked = sys::SignalBlock::new().map_err(io_err("block signals"))?;
        // SAFETY: clone without CLONE_VM behaves like fork. In the child
        // (return value 0) we only run the async-signal-safe code of
        // `child`, which never returns; see its module documentation.
        let pid = unsafe {
            libc::syscall(
                libc::SYS_clone,
                (flags | libc::SIGCHLD) as libc::c_ulong,
                0usize,
                0usize,
                0usize,
                0usize,
            )
        };
        if pid == 0 {
            // SAFETY: we are the freshly cloned child.
            unsafe {
                if namespaces {
                    child::init_main(plan, &fds)
                } else {
                    child::direct_main(plan, &fds)
                }
            }
        }
        pid
    };
    if pid < 0 {
        return Err(SandboxError::io("clone", io::Error::last_os_error()));
    }
    let pid = pid as libc::pid_t;
    let mut reap = Reap(pid);
    drop((sync_rd, err_wr, status_wr, out_wr, errout_wr, sock_child));
    drop((freezer_join, freezer_state, pass));

    if namespaces {
        // Keep the tiny init out of the OOM killer's choice (its RSS counts
        // the parent's copy-on-write pages); the program resets its own.
        let _ = std::fs::write(format!("/proc/{pid}/oom_score_adj"), "-1000");
    } else {
        // Also done by the child; doing it here too closes the race with a
        // kill(-pid) right after spawn.
        // SAFETY: plain syscall.
        unsafe { libc::setpgid(pid, pid) };
    }
    if let Some(cgroups) = cgroups {
        cgroups.add(pid, !namespaces)?;
    }
    sys::write_all(sync_wr.as_fd(), b"g").map_err(io_err("release the sandbox child"))?;

    let mut listener = listener;
    if let Some(sock) = &sock_parent {
        if !sys::poll_readable(sock.as_fd(), (SETUP_TIMEOUT_S * 1000) as i32)
            .map_err(io_err("wait for the sandbox's listener"))?
        {
            return Err(SandboxError::SetupTimeout(SETUP_TIMEOUT_S));
        }
        if let Some(fd) =
            sys::recv_fd(sock.as_fd()).map_err(io_err("receive the sandbox's listener"))?
        {
            listener = Some(TcpListener::from(fd));
        }
    }
    if !sys::poll_readable(err_rd.as_fd(), (SETUP_TIMEOUT_S * 1000) as i32)
        .map_err(io_err("wait for the sandbox to start"))?
    {
        return Err(SandboxError::SetupTimeout(SETUP_TIMEOUT_S));
    }
    let mut record = [0u8; 8];
    let n = sys::read_full(err_rd.as_fd(), &mut record).map_err(io_err("read the error pipe"))?;
    if n == record.len() {
        let step = u32::from_ne_bytes([record[0], record[1], record[2], record[3]]);
        let errno = i32::from_ne_bytes([record[4], record[5], record[6], record[7]]);
        return Err(SandboxError::Setup {
            step: plan.describe(step),
            error: io::Error::from_raw_os_error(errno),
        });
    }
    if n != 0 {
        return Err(SandboxError::SetupDied(reap_now(&mut reap)));
    }
    if plan.child_listener && listener.is_none() && !plan.probe {
        return Err(SandboxError::SetupDied(reap_now(&mut reap)));
    }
    reap.0 = 0;
    Ok(Launched {
        pid,
        sync_wr: namespaces.then_some(sync_wr),
        status_rd,
        stdout: out_rd,
        stderr: errout_rd,
        listener,
    })
}

/// Opens a cgroup control file for writing (close-on-exec, fd >= 3).
fn open_write(path: &std::path::Path) -> Result<OwnedFd, SandboxError> {
    use std::os::unix::fs::OpenOptionsExt;
    let what = || format!("open {}", path.display());
    let file = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| SandboxError::io(what(), e))?;
    sys::above_stdio(OwnedFd::from(file)).map_err(|e| SandboxError::io(what(), e))
}

/// Kills and reaps the child now, returning how it ended.
fn reap_now(reap: &mut Reap) -> Exit {
    let pid = std::mem::replace(&mut reap.0, 0);
    let _ = sys::kill(pid, libc::SIGKILL);
    match sys::waitpid(pid, 0) {
        Ok(Some(status)) => Exit::from_wait_status(status),
        _ => Exit::Signal(libc::SIGKILL),
    }
}

/// Runs `plan` (built with `probe`) to completion: every setup step, then
/// the program exits 0 instead of exec'ing.
pub(crate) fn probe(plan: &Plan, mode: Mode) -> Result<(), SandboxError> {
    let launched = launch(plan, mode, None, None, None)?;
    let status = sys::waitpid(launched.pid, 0).map_err(io_err("wait for the probe"))?;
    match status.map(Exit::from_wait_status) {
        Some(Exit::Code(0)) => Ok(()),
        Some(exit) => Err(SandboxError::SetupDied(exit)),
        None => Err(SandboxError::SetupDied(Exit::Code(-1))),
    }
}

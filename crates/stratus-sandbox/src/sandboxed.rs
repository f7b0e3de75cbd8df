//! A running sandbox: signals, freezing, statistics, and the reaper task.

use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::watch;

use crate::cgroup::Instance;
use crate::launch::Launched;
use crate::sys;
use crate::{Exit, SandboxError};

/// A sandboxed process tree started by [`Host::spawn`](crate::Host::spawn).
///
/// Dropping it kills the tree if it still runs; its cgroups are removed by
/// a background reaper task once the tree is gone.
pub struct Sandboxed {
    /// The Runtime API listener (blocking mode) when the spec asked for one.
    pub listener: Option<TcpListener>,
    /// Read end of the program's stdout pipe (close-on-exec).
    pub stdout: Option<OwnedFd>,
    /// Read end of the program's stderr pipe (close-on-exec).
    pub stderr: Option<OwnedFd>,
    inner: Arc<Inner>,
}

/// Statistics captured by the reaper before it removes the cgroups.
struct Final {
    memory_peak: Option<u64>,
    oom_kills: Option<u64>,
}

/// State shared with the reaper task.
struct Inner {
    pid: libc::pid_t,
    pidfd: Option<OwnedFd>,
    namespaces: bool,
    cgroups: Option<Instance>,
    frozen: AtomicBool,
    exit: watch::Receiver<Option<Exit>>,
    last: OnceLock<Final>,
    /// Keeps the init's sync pipe open: the init exits when it closes (the
    /// host process died).
    _sync_wr: Option<OwnedFd>,
}

impl Sandboxed {
    /// Wraps a launched child and starts its reaper task on `handle`.
    pub(crate) fn start(
        launched: Launched,
        namespaces: bool,
        cgroups: Option<Instance>,
        handle: &tokio::runtime::Handle,
    ) -> Sandboxed {
        let (tx, rx) = watch::channel(None);
        let pidfd = match sys::pidfd_open(launched.pid) {
            Ok(fd) => Some(fd),
            Err(e) => {
                tracing::debug!(pid = launched.pid, error = %e, "pidfd_open failed; reaping with a blocking waitpid");
                None
            }
        };
        let inner = Arc::new(Inner {
            pid: launched.pid,
            pidfd,
            namespaces,
            cgroups,
            frozen: AtomicBool::new(false),
            exit: rx,
            last: OnceLock::new(),
            _sync_wr: launched.sync_wr,
        });
        handle.spawn(reap(inner.clone(), launched.status_rd, tx));
        Sandboxed {
            listener: launched.listener,
            stdout: Some(launched.stdout),
            stderr: Some(launched.stderr),
            inner,
        }
    }

    /// Host pid of the sandbox's init (or of the program without
    /// namespaces).
    pub fn pid(&self) -> u32 {
        self.inner.pid as u32
    }

    /// Waits until the whole tree is gone (and its cgroups removed). May be
    /// called many times, concurrently.
    pub async fn wait(&self) -> Exit {
        let mut rx = self.inner.exit.clone();
        let exit = match rx.wait_for(Option::is_some).await {
            Ok(exit) => *exit,
            // The reaper task is gone (its runtime shut down).
            Err(_) => None,
        };
        exit.unwrap_or(Exit::Signal(libc::SIGKILL))
    }

    /// How the tree ended, if it has.
    pub fn try_exit(&self) -> Option<Exit> {
        *self.inner.exit.borrow()
    }

    /// Sends `sig` to the init (or to the program without namespaces).
    fn signal_main(&self, sig: libc::c_int) {
        if self.try_exit().is_some() {
            return;
        }
        let result = match &self.inner.pidfd {
            Some(fd) => sys::pidfd_send_signal(fd.as_fd(), sig),
            None => sys::kill(self.inner.pid, sig),
        };
        if let Err(e) = result {
            tracing::debug!(pid = self.inner.pid, sig, error = %e, "could not signal the sandbox");
        }
    }

    /// Sends `sig` to every process of the tree (for the SIGSTOP freezer).
    fn signal_tree(&self, sig: libc::c_int) {
        let listed = self
            .inner
            .cgroups
            .as_ref()
            .map_or(0, |cg| cg.signal_all(sig));
        if listed == 0 {
            // The init leads its own process group (setsid), as does the
            // program without namespaces.
            let _ = sys::kill(-self.inner.pid, sig);
        }
    }

    /// SIGKILLs the whole tree now (thawing it first if frozen).
    pub fn kill(&self) {
        if self.try_exit().is_some() {
            return;
        }
        self.signal_main(libc::SIGKILL);
        if !self.inner.namespaces {
            let _ = sys::kill(-self.inner.pid, libc::SIGKILL);
        }
        if let Some(cg) = &self.inner.cgroups {
            // Frozen tasks only die once thawed.
            if cg.has_freezer()
                && let Err(e) = cg.thaw()
            {
                tracing::warn!(pid = self.inner.pid, error = %e, "could not thaw the sandbox to kill it");
            }
            if !self.inner.namespaces {
                cg.kill_all();
            }
        }
        self.inner.frozen.store(false, Ordering::SeqCst);
    }

    /// Thaws the tree, sends SIGTERM to the init (which forwards it to the
    /// program), waits up to `grace`, then kills; returns when it is gone.
    pub async fn terminate(&self, grace: Duration) {
        if self.try_exit().is_some() {
            return;
        }
        if let Err(e) = self.thaw() {
            tracing::debug!(pid = self.inner.pid, error = %e, "thaw before terminate failed");
        }
        self.signal_main(libc::SIGTERM);
        if tokio::time::timeout(grace, self.wait()).await.is_err() {
            tracing::debug!(
                pid = self.inner.pid,
                "grace period over; killing the sandbox"
            );
            self.kill();
            self.wait().await;
        }
    }

    /// Freezes the tree: the cgroup freezer (waiting up to ~100 ms until it
    /// reports frozen), or SIGSTOP to every process.
    pub fn freeze(&self) -> Result<(), SandboxError> {
        if let Some(exit) = self.try_exit() {
            return Err(SandboxError::Exited(exit));
        }
        match &self.inner.cgroups {
            Some(cg) if cg.has_freezer() => cg.freeze()?,
            _ => {
                // Twice, to catch processes forked during the first pass.
                self.signal_tree(libc::SIGSTOP);
                self.signal_tree(libc::SIGSTOP);
            }
        }
        self.inner.frozen.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Thaws a frozen tree (a no-op if it is not frozen or has exited).
    pub fn thaw(&self) -> Result<(), SandboxError> {
        if self.try_exit().is_some() {
            return Ok(());
        }
        match &self.inner.cgroups {
            Some(cg) if cg.has_freezer() => cg.thaw()?,
            _ => {
                if self.inner.frozen.load(Ordering::SeqCst) {
                    self.signal_tree(libc::SIGCONT);
                }
            }
        }
        self.inner.frozen.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// Peak memory use of the tree in bytes (cgroup `memory.max_usage_in_bytes`
    /// or `memory.peak`); kept after exit.
    pub fn memory_peak_bytes(&self) -> Option<u64> {
        if let Some(last) = self.inner.last.get() {
            return last.memory_peak;
        }
        self.inner.cgroups.as_ref()?.memory_peak()
    }

    /// Current memory use of the tree in bytes; `None` without a memory
    /// cgroup or after exit.
    pub fn memory_current_bytes(&self) -> Option<u64> {
        if self.inner.last.get().is_some() {
            return None;
        }
        self.inner.cgroups.as_ref()?.memory_current()
    }

    /// Whether the OOM killer killed a process of the tree; kept after exit.
    pub fn oom_killed(&self) -> bool {
        let kills = match self.inner.last.get() {
            Some(last) => last.oom_kills,
            None => self.inner.cgroups.as_ref().and_then(|cg| cg.oom_kills()),
        };
        kills.unwrap_or(0) > 0
    }
}

impl Drop for Sandboxed {
    fn drop(&mut self) {
        // The reaper task reaps the tree and removes its cgroups.
        if self.try_exit().is_none() {
            self.kill();
        }
    }
}

impl std::fmt::Debug for Sandboxed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandboxed")
            .field("pid", &self.inner.pid)
            .field("namespaces", &self.inner.namespaces)
            .field("exit", &self.try_exit())
            .finish_non_exhaustive()
    }
}

/// Waits for the main process (init or program) to exit and reaps it.
async fn wait_status(inner: &Inner) -> libc::c_int {
    let pid = inner.pid;
    let async_fd = inner
        .pidfd
        .as_ref()
        .and_then(|fd| fd.try_clone().ok())
        // SAFETY: the AsyncFd owns this duplicate pidfd, which stays open
        // and unchanged until the AsyncFd is dropped.
        .and_then(|fd| unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.ok());
    if let Some(async_fd) = async_fd {
        loop {
            let mut guard = match async_fd.readable().await {
                Ok(guard) => guard,
                Err(e) => {
                    tracing::debug!(pid, error = %e, "waiting on the pidfd failed");
                    break;
                }
            };
            if !inner.namespaces {
                // Background processes the program left in its group, while
                // its zombie still reserves the group id.
                let _ = sys::kill(-pid, libc::SIGKILL);
            }
            match sys::waitpid(pid, libc::WNOHANG) {
                Ok(Some(status)) => return status,
                Ok(None) => guard.clear_ready(),
                Err(e) => {
                    tracing::warn!(pid, error = %e, "waitpid on the sandbox failed");
                    return libc::SIGKILL;
                }
            }
        }
    }
    let namespaces = inner.namespaces;
    let reaped = tokio::task::spawn_blocking(move || {
        let result = sys::waitpid(pid, 0);
        if !namespaces {
            let _ = sys::kill(-pid, libc::SIGKILL);
        }
        result
    });
    match reaped.await {
        Ok(Ok(Some(status))) => status,
        other => {
            tracing::warn!(pid, result = ?other.map(|r| r.map_err(|e| e.to_string())), "waitpid on the sandbox failed");
            libc::SIGKILL
        }
    }
}

/// The reaper task: waits for the tree to end, records how, captures final
/// statistics, kills stragglers and removes the cgroups, then publishes the
/// exit.
async fn reap(inner: Arc<Inner>, status_rd: Option<OwnedFd>, tx: watch::Sender<Option<Exit>>) {
    let status = wait_status(&inner).await;
    let mut exit = Exit::from_wait_status(status);
    if let Some(fd) = status_rd {
        // The init wrote the program's exact wait status before exiting (it
        // cannot die of the program's signal itself).
        let mut bytes = [0u8; 4];
        if sys::set_nonblocking(fd.as_fd(), true).is_ok()
            && matches!(sys::read_full(fd.as_fd(), &mut bytes), Ok(4))
        {
            exit = Exit::from_wait_status(libc::c_int::from_ne_bytes(bytes));
        }
    }
    if let Some(cg) = &inner.cgroups {
        let _ = inner.last.set(Final {
            memory_peak: cg.memory_peak(),
            oom_kills: cg.oom_kills(),
        });
        let mut removed = false;
        for _ in 0..200 {
            if cg.procs().is_empty() && cg.remove().is_ok() {
                removed = true;
                break;
            }
            if cg.has_freezer() {
                let _ = cg.thaw();
            }
            cg.kill_all();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if !removed {
            tracing::warn!(
                pid = inner.pid,
                dirs = ?cg.dirs(),
                error = ?cg.remove().err().map(|e| e.to_string()),
                "could not remove the sandbox's cgroups"
            );
        }
    }
    tracing::debug!(pid = inner.pid, fd = inner.pidfd.as_ref().map(|f| f.as_raw_fd()), %exit, "sandbox exited");
    let _ = tx.send(Some(exit));
}

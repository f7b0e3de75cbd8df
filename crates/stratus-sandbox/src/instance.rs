//! Per-instance cgroups for processes that join by themselves (the children
//! of a template process), created by [`Host::instance_cgroups`].
//!
//! [`Host::instance_cgroups`]: crate::Host::instance_cgroups

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::SandboxError;
use crate::cgroup::Instance;

/// How long [`InstanceCgroups::kill_all`] keeps killing.
const KILL_WAIT: Duration = Duration::from_secs(1);
/// How long dropping retries removing the directories.
const REMOVE_WAIT: Duration = Duration::from_millis(200);

/// The cgroups of one instance whose processes place themselves in them
/// (memory limit without swap, process limit, freezer; whichever the host
/// has).
///
/// Dropping it kills whatever is still in the cgroups and removes them
/// (drop it before the [`Host`](crate::Host), whose cleanup removes the
/// per-server parents). If the server dies without dropping it, the next
/// server's [`Host::detect`](crate::Host::detect) collects the leftovers as
/// it does for spawned sandboxes.
///
/// Without any cgroup controller on the host it is empty: no files to join,
/// no processes, and [`freeze`](Self::freeze) has nothing to stop.
#[derive(Debug)]
pub struct InstanceCgroups {
    inner: Option<Instance>,
    /// The processes were stopped with SIGSTOP (no freezer).
    stopped: AtomicBool,
}

impl InstanceCgroups {
    pub(crate) fn new(inner: Option<Instance>) -> InstanceCgroups {
        InstanceCgroups {
            inner,
            stopped: AtomicBool::new(false),
        }
    }

    /// Each controller's `cgroup.procs`, opened for writing (close-on-exec):
    /// a process that writes `"0"` to each, in order, joins the instance
    /// (give these descriptors to the joining process).
    ///
    /// With cgroup v1 these are the memory, pids and freezer hierarchies'
    /// files, in that order (those the host has; co-mounted controllers
    /// share one). With cgroup v2 it is a single file (the instance's
    /// freezer child cgroup, inside the memory and pids limits). Empty when
    /// the host has no cgroups.
    ///
    /// The kernel checks a move against the credentials of whoever
    /// *opened* the file (this server), so the descriptors work for any
    /// holder, privileged or not, and let it move any process it can name
    /// in its pid namespace: close them once joined.
    pub fn procs_files(&self) -> Result<Vec<File>, SandboxError> {
        let Some(cg) = &self.inner else {
            return Ok(Vec::new());
        };
        cg.join_dirs()
            .into_iter()
            .map(|dir| {
                let path = dir.join("cgroup.procs");
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| SandboxError::io(format!("open {}", path.display()), e))
            })
            .collect()
    }

    /// The host pids in any of the instance's cgroups, sorted and
    /// deduplicated.
    pub fn pids(&self) -> Vec<i32> {
        self.inner.as_ref().map(Instance::procs).unwrap_or_default()
    }

    /// Whether there is a cgroup freezer (otherwise [`freeze`](Self::freeze)
    /// sends `SIGSTOP` to the processes it finds in the other cgroups).
    pub fn has_freezer(&self) -> bool {
        self.inner.as_ref().is_some_and(Instance::has_freezer)
    }

    /// Freezes the instance: the cgroup freezer (waiting up to ~100 ms until
    /// it reports frozen), or `SIGSTOP` to every process, as
    /// [`Sandboxed::freeze`](crate::Sandboxed::freeze).
    pub fn freeze(&self) -> Result<(), SandboxError> {
        let Some(cg) = &self.inner else {
            return Ok(());
        };
        if cg.has_freezer() {
            cg.freeze()?;
        } else {
            // Twice, to catch processes forked during the first pass.
            cg.signal_all(libc::SIGSTOP);
            cg.signal_all(libc::SIGSTOP);
            self.stopped.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Thaws the instance (a no-op if it is not frozen).
    pub fn thaw(&self) -> Result<(), SandboxError> {
        let Some(cg) = &self.inner else {
            return Ok(());
        };
        if cg.has_freezer() {
            cg.thaw()?;
        } else if self.stopped.swap(false, Ordering::SeqCst) {
            cg.signal_all(libc::SIGCONT);
        }
        Ok(())
    }

    /// Thaws the instance, then SIGKILLs every process in it, repeatedly,
    /// until the cgroups are empty (for at most about a second). Processes
    /// that died but are not reaped yet no longer count.
    pub fn kill_all(&self) {
        let Some(cg) = &self.inner else {
            return;
        };
        let deadline = Instant::now() + KILL_WAIT;
        loop {
            // Frozen tasks only die once thawed.
            if cg.has_freezer()
                && let Err(e) = cg.thaw()
            {
                tracing::debug!(error = %e, "could not thaw the instance cgroups to kill them");
            }
            if cg.procs().is_empty() {
                break;
            }
            cg.kill_all();
            if Instant::now() > deadline {
                tracing::warn!(dirs = ?cg.dirs(), pids = ?cg.procs(), "processes survived killing the instance cgroups");
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.stopped.store(false, Ordering::SeqCst);
    }

    /// Peak memory use in bytes (`memory.max_usage_in_bytes` or
    /// `memory.peak`).
    pub fn memory_peak_bytes(&self) -> Option<u64> {
        self.inner.as_ref()?.memory_peak()
    }

    /// Current memory use in bytes.
    pub fn memory_current_bytes(&self) -> Option<u64> {
        self.inner.as_ref()?.memory_current()
    }

    /// Whether the OOM killer killed a process in the instance.
    pub fn oom_killed(&self) -> bool {
        self.inner
            .as_ref()
            .and_then(Instance::oom_kills)
            .unwrap_or(0)
            > 0
    }

    /// The instance's cgroup directories, parents first (for tests).
    #[doc(hidden)]
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.inner
            .as_ref()
            .map(|cg| cg.dirs().to_vec())
            .unwrap_or_default()
    }
}

impl Drop for InstanceCgroups {
    fn drop(&mut self) {
        self.kill_all();
        let Some(cg) = &self.inner else {
            return;
        };
        let deadline = Instant::now() + REMOVE_WAIT;
        loop {
            match cg.remove() {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => {
                    tracing::debug!(dirs = ?cg.dirs(), error = %e, "could not remove the instance cgroups");
                    return;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(2)),
            }
        }
    }
}

//! Linux sandboxes for function processes.
//!
//! Each function instance is one sandboxed process tree started by
//! [`Host::spawn`]. Where the host allows it (root, namespaces, cgroups) the
//! tree runs:
//!
//! * in its own mount, pid, ipc and uts namespaces (and net namespace when
//!   [`Spec::isolate_network`] is set), under a tiny Rust init that is pid 1
//!   of the new pid namespace;
//! * on a new read-only root filesystem: a tmpfs root with the host's system
//!   directories and the [`Spec::binds`] bound read-only, a fresh `/proc`, a
//!   minimal `/dev` and a private, size-limited `/tmp`;
//! * under per-instance cgroups (memory, pids, freezer; cgroup v1 or v2);
//! * under rlimits, as a per-instance unprivileged uid with `no_new_privs`.
//!
//! When the host does not allow namespaces (not root, say), programs run
//! directly on the host in their own process group, with whatever limits are
//! still available; [`Host::report`] says what is and is not enforced.
//!
//! For processes that place themselves (the children of a trusted template
//! process started with [`Spec::keep_root`] and [`Spec::pass_fd`]),
//! [`Host::instance_cgroups`] creates the same per-instance cgroups without
//! a spawn.
//!
//! Module layout: `host` (detection, reporting, spawning), `cgroup`
//! (cgroup v1/v2 handling), `instance` (per-instance cgroups for processes
//! that join by themselves), `plan` (everything prepared before `clone`),
//! `child` (the async-signal-safe code that runs between `clone` and
//! `execve`), `launch` (the parent side of `clone`), `sandboxed` (the running
//! instance and its reaper) and `sys` (small syscall wrappers).

mod cgroup;
mod child;
mod host;
mod instance;
mod launch;
mod plan;
mod sandboxed;
mod sys;

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;

pub use host::Host;
pub use instance::InstanceCgroups;
pub use sandboxed::Sandboxed;

/// What [`Host::detect`] found the host can enforce.
#[derive(Debug, Clone, Default)]
pub struct Enforced {
    /// Programs run in their own mount, pid, ipc and uts namespaces, on a new
    /// read-only root filesystem.
    pub namespaces: bool,
    /// A private network namespace (only loopback) is available for
    /// [`Spec::isolate_network`].
    pub network_isolation: bool,
    /// A per-instance cgroup memory limit (no swap).
    pub memory_limit: bool,
    /// A per-instance process limit (cgroup pids controller, or
    /// `RLIMIT_NPROC` for the per-instance uid).
    pub process_limit: bool,
    /// A cgroup freezer is available; when false, [`Sandboxed::freeze`] falls
    /// back to `SIGSTOP`/`SIGCONT`.
    pub freezer: bool,
    /// `/tmp` is a private tmpfs limited to [`Spec::tmp_mb`].
    pub private_tmp: bool,
    /// Programs run as a per-instance non-root uid/gid without
    /// capabilities.
    pub unprivileged_user: bool,
}

/// A host path made visible inside the sandbox.
#[derive(Debug, Clone)]
pub struct Bind {
    /// The path on the host (resolved before the sandbox starts).
    pub source: PathBuf,
    /// Where it appears inside the sandbox (absolute).
    pub target: PathBuf,
    /// Mount it read-only.
    pub read_only: bool,
}

/// What to run and under which limits.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The program, as a path seen inside the sandbox; also `argv[0]`.
    pub program: PathBuf,
    /// `argv[1..]`.
    pub args: Vec<OsString>,
    /// The program's entire environment (plus the listener variable).
    pub env: Vec<(OsString, OsString)>,
    /// The working directory inside the sandbox.
    pub cwd: PathBuf,
    /// Host paths bound into the sandbox.
    pub binds: Vec<Bind>,
    /// Host paths that must not be visible inside: if one lies under a bound
    /// directory, an empty read-only tmpfs (or `/dev/null` for a file) is
    /// mounted over it.
    pub hide: Vec<PathBuf>,
    /// Size of the private `/tmp`, in MiB.
    pub tmp_mb: u32,
    /// Memory limit in MiB (0: no limit).
    pub memory_mb: u32,
    /// Maximum number of processes and threads (0: no limit).
    pub max_pids: u32,
    /// Run in a private network namespace with only loopback.
    pub isolate_network: bool,
    /// If set, the name of an environment variable that receives the
    /// `host:port` of a TCP listener returned in [`Sandboxed::listener`].
    pub listener_env: Option<String>,
    /// Keep the program as uid/gid 0 with its capabilities, without
    /// `no_new_privs` and without `RLIMIT_NPROC`, instead of switching to
    /// the per-instance unprivileged uid. It still gets every namespace,
    /// the new root, the other rlimits and the cgroups.
    ///
    /// **Only for Stratus's own trusted programs** (such as the template
    /// fork server, whose children isolate themselves further): a program
    /// run this way is root on the host in all but its namespaces and root
    /// filesystem, and can undo them. Never set it for user code.
    pub keep_root: bool,
    /// A descriptor the program receives as fd 3 (open across `execve`,
    /// not close-on-exec there). Every other descriptor above 2 is closed
    /// as usual. The sandbox's init does not keep it open.
    pub pass_fd: Option<Arc<OwnedFd>>,
}

/// How a sandboxed program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status.
    Code(i32),
    /// It was killed by this signal.
    Signal(i32),
}

impl Exit {
    /// Decodes a `waitpid` status.
    pub(crate) fn from_wait_status(status: libc::c_int) -> Exit {
        if libc::WIFSIGNALED(status) {
            Exit::Signal(libc::WTERMSIG(status))
        } else if libc::WIFEXITED(status) {
            Exit::Code(libc::WEXITSTATUS(status))
        } else {
            // Stopped/continued statuses are never requested; be defensive.
            Exit::Code(status)
        }
    }

    /// Whether the program exited with status 0.
    pub fn success(&self) -> bool {
        *self == Exit::Code(0)
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Exit::Code(code) => write!(f, "exit status {code}"),
            Exit::Signal(sig) => match signal_name(sig) {
                Some(name) => write!(f, "signal {sig} ({name})"),
                None => write!(f, "signal {sig}"),
            },
        }
    }
}

/// The conventional name of a signal number.
fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSTKFLT => "SIGSTKFLT",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGCONT => "SIGCONT",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGTTIN => "SIGTTIN",
        libc::SIGTTOU => "SIGTTOU",
        libc::SIGURG => "SIGURG",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGVTALRM => "SIGVTALRM",
        libc::SIGPROF => "SIGPROF",
        libc::SIGWINCH => "SIGWINCH",
        libc::SIGIO => "SIGIO",
        libc::SIGPWR => "SIGPWR",
        libc::SIGSYS => "SIGSYS",
        _ => return None,
    })
}

/// Why a sandbox could not be started or controlled.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The spec cannot be run as given.
    #[error("invalid sandbox spec: {0}")]
    InvalidSpec(String),
    /// A host-side operation failed (cgroups, pipes, clone, ...).
    #[error("{what}: {error}")]
    Io {
        /// What was being done, e.g. "write /sys/fs/cgroup/pids/x/1/pids.max".
        what: String,
        /// The OS error.
        error: io::Error,
    },
    /// A setup step inside the new sandbox failed, e.g.
    /// "execve /var/task/bootstrap: No such file or directory (os error 2)".
    #[error("{step}: {error}")]
    Setup {
        /// The step that failed, with its paths.
        step: String,
        /// The OS error the step reported.
        error: io::Error,
    },
    /// The sandbox's setup process died without reporting success or an
    /// error.
    #[error("the sandbox setup process ended unexpectedly ({0})")]
    SetupDied(Exit),
    /// The sandbox's setup did not finish in time.
    #[error("the sandbox setup did not finish within {0} s")]
    SetupTimeout(u64),
    /// [`Host::spawn`] was called outside a tokio runtime.
    #[error("Host::spawn must be called inside a tokio runtime")]
    NoRuntime,
    /// The sandboxed process tree has already exited.
    #[error("the sandboxed process has exited ({0})")]
    Exited(Exit),
}

impl SandboxError {
    /// A host-side I/O error with context.
    pub(crate) fn io(what: impl Into<String>, error: io::Error) -> SandboxError {
        SandboxError::Io {
            what: what.into(),
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_display() {
        assert_eq!(Exit::Code(3).to_string(), "exit status 3");
        assert_eq!(Exit::Signal(9).to_string(), "signal 9 (SIGKILL)");
        assert_eq!(Exit::Signal(64).to_string(), "signal 64");
    }

    #[test]
    fn exit_from_status() {
        assert_eq!(Exit::from_wait_status(3 << 8), Exit::Code(3));
        assert_eq!(Exit::from_wait_status(9), Exit::Signal(9));
        assert!(Exit::from_wait_status(0).success());
    }
}

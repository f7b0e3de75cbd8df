//! Detecting what the host can enforce, reporting it, and spawning
//! sandboxes.

use std::net::{Ipv4Addr, TcpListener};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::cgroup::{self, Cgroups};
use crate::launch::{self, Mode};
use crate::plan::{self, Options, Plan};
use crate::sys;
use crate::{Enforced, InstanceCgroups, SandboxError, Sandboxed, Spec};

/// The first per-instance uid/gid.
const UID_FIRST: u32 = 20_000;
/// How many per-instance uids are cycled through.
const UID_COUNT: u32 = 40_000;

/// The namespaces every sandbox gets (plus `CLONE_NEWNET` when isolated).
const NS_FLAGS: libc::c_int =
    libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;

/// The sandboxing capabilities of this host, and the factory of sandboxes.
pub struct Host {
    name: String,
    enforced: Enforced,
    report: Vec<String>,
    cgroups: Cgroups,
    /// The empty directory each sandbox mounts its new root on (in its own
    /// mount namespace), when namespaces are usable.
    root_dir: Option<PathBuf>,
    /// The same directory, whether or not namespaces work: it marks this
    /// server as alive in this /run.
    marker: Option<PathBuf>,
    seq: AtomicU32,
    uid_offset: u32,
}

/// Cgroup and path names allow only a safe subset of characters.
fn sanitize(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() || clean.starts_with('.') {
        format!("stratus{clean}")
    } else {
        clean
    }
}

/// FNV-1a, to spread the uids of different servers apart.
fn fnv(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Creates the mount point for new roots.
fn make_root_dir(name: &str) -> Result<PathBuf, String> {
    let dir = root_base().join(format!(".{name}-sandbox-root"));
    match std::fs::create_dir(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(dir),
        Err(e) => Err(format!("mkdir {}: {e}", dir.display())),
    }
}

/// The base directory of the root mount points.
fn root_base() -> PathBuf {
    if sys::geteuid() == 0 && Path::new("/run").is_dir() {
        PathBuf::from("/run")
    } else {
        std::env::temp_dir()
    }
}

/// Servers name their hosts `<prefix>-<pid>` (e.g. `stratus-1234`). A
/// server that died without `cleanup` (killed, crashed) leaves its cgroups
/// behind, possibly with a frozen tree that nothing else would ever thaw:
/// when our own name is `<prefix>-<our pid>`, remove the `<prefix>-<pid>`
/// siblings whose pid no longer exists and whose marker directory is still
/// in our /run.
fn collect_stale(name: &str, cgroups: &Cgroups) {
    let Some((prefix, pid)) = name.rsplit_once('-') else {
        return;
    };
    if pid != std::process::id().to_string() {
        return;
    }
    let stale = |candidate: &str| -> bool {
        candidate
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|other| {
                !other.is_empty()
                    && other != pid
                    && other.bytes().all(|b| b.is_ascii_digit())
                    && !Path::new("/proc").join(other).exists()
            })
            // Only servers that ran with this /run (so that a sibling in
            // another container, whose pid we cannot see, is left alone).
            && root_base()
                .join(format!(".{candidate}-sandbox-root"))
                .is_dir()
    };
    let mut roots: Vec<&Path> = cgroups
        .parents()
        .into_iter()
        .filter_map(|p| p.parent())
        .collect();
    roots.dedup();
    for root in roots {
        let Ok(entries) = std::fs::read_dir(root) else {
            continue;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let file_name = file_name.to_string_lossy();
            if stale(&file_name) && entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                tracing::info!(cgroup = %entry.path().display(), "removing the cgroups of a dead server");
                cgroup::destroy_tree(&entry.path());
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(root_base()) {
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let file_name = file_name.to_string_lossy();
            if let Some(host) = file_name
                .strip_prefix('.')
                .and_then(|n| n.strip_suffix("-sandbox-root"))
                && stale(host)
            {
                let _ = std::fs::remove_dir(entry.path());
            }
        }
    }
}

/// A status line of the report.
fn line(what: &str, result: Result<(), &str>) -> String {
    match result {
        Ok(()) => format!("sandbox: {what}: enforced"),
        Err(reason) => format!("sandbox: {what}: NOT enforced ({reason})"),
    }
}

impl Host {
    /// Probes what this host allows and prepares the per-server cgroup
    /// parents named after `name`. Never fails: what cannot be enforced is
    /// recorded in [`Host::enforced`] and [`Host::report`].
    pub fn detect(name: &str) -> Host {
        Host::detect_with(name, true)
    }

    /// Like [`Host::detect`] but never uses namespaces: programs run
    /// directly on the host (the fallback path; for tests and debugging).
    #[doc(hidden)]
    pub fn detect_unsandboxed(name: &str) -> Host {
        Host::detect_with(name, false)
    }

    fn detect_with(name: &str, try_namespaces: bool) -> Host {
        let name = sanitize(name);
        let uid_offset = fnv(&name) % UID_COUNT;
        let cgroups = Cgroups::detect(&name);
        collect_stale(&name, &cgroups);

        // Namespaces: run the real setup (without exec) once with a network
        // namespace and, if that fails, once without.
        let probe = |root: &Path, net: bool| -> Result<(), SandboxError> {
            let spec = Spec {
                program: PathBuf::from("/bin/true"),
                args: Vec::new(),
                env: Vec::new(),
                cwd: PathBuf::from("/"),
                binds: Vec::new(),
                hide: Vec::new(),
                tmp_mb: 1,
                memory_mb: 0,
                max_pids: 0,
                isolate_network: net,
                listener_env: None,
                keep_root: false,
                pass_fd: None,
            };
            let opts = Options {
                root_dir: Some(root),
                new_net: net,
                child_listener: false,
                listener_addr: None,
                uid: Some(UID_FIRST + uid_offset),
                probe: true,
            };
            let plan = Plan::build(&spec, &opts)?;
            let flags = if net {
                NS_FLAGS | libc::CLONE_NEWNET
            } else {
                NS_FLAGS
            };
            launch::probe(&plan, Mode::Namespaces(flags))
        };
        let mut root_dir = None;
        // The mount point doubles as the marker of a live server in this
        // /run (see collect_stale), so it is created even without
        // namespaces.
        let marker = make_root_dir(&name);
        let root = if try_namespaces {
            marker.clone()
        } else {
            Err("disabled".to_string())
        };
        let (ns_result, net_result): (Result<(), String>, Result<(), String>) = match root {
            Err(reason) => (Err(reason.clone()), Err(reason)),
            Ok(dir) => match probe(&dir, true) {
                Ok(()) => {
                    root_dir = Some(dir);
                    (Ok(()), Ok(()))
                }
                Err(net_err) => match probe(&dir, false) {
                    Ok(()) => {
                        root_dir = Some(dir);
                        (Ok(()), Err(net_err.to_string()))
                    }
                    Err(e) => (Err(e.to_string()), Err(net_err.to_string())),
                },
            },
        };

        let namespaces = ns_result.is_ok();
        let enforced = Enforced {
            namespaces,
            network_isolation: namespaces && net_result.is_ok(),
            memory_limit: cgroups.memory.is_ok(),
            process_limit: cgroups.pids.is_ok() || namespaces,
            freezer: cgroups.freezer.is_ok(),
            private_tmp: namespaces,
            unprivileged_user: namespaces,
        };

        let mut report = Vec::new();
        match (&ns_result, &net_result) {
            (Ok(()), Ok(())) => report.push(line("namespaces mount,pid,ipc,uts,net", Ok(()))),
            (Ok(()), Err(reason)) => {
                report.push(line("namespaces mount,pid,ipc,uts", Ok(())));
                report.push(line("network isolation (net namespace)", Err(reason)));
            }
            (Err(reason), _) => report.push(line(
                "namespaces mount,pid,ipc,uts,net",
                Err(&format!("{reason}; programs run directly on the host")),
            )),
        }
        let no_ns = "no mount namespace";
        report.push(line(
            "read-only root filesystem (pivot_root)",
            if namespaces { Ok(()) } else { Err(no_ns) },
        ));
        report.push(line(
            "private /tmp with size limit",
            if namespaces { Ok(()) } else { Err(no_ns) },
        ));
        report.push(match &cgroups.memory {
            Ok(_) => line(
                &format!("memory limit ({})", cgroups.label("memory")),
                Ok(()),
            ),
            Err(reason) => line("memory limit", Err(reason)),
        });
        report.push(match (&cgroups.pids, namespaces) {
            (Ok(_), _) => line(
                &format!("process limit ({})", cgroups.label("pids")),
                Ok(()),
            ),
            (Err(_), true) => line("process limit (RLIMIT_NPROC of the instance's uid)", Ok(())),
            (Err(reason), false) => line("process limit", Err(reason)),
        });
        report.push(match &cgroups.freezer {
            Ok(_) => line(
                &format!("freeze between calls ({})", cgroups.label("freezer")),
                Ok(()),
            ),
            Err(_) => line("freeze between calls (SIGSTOP)", Ok(())),
        });
        report.push(if namespaces {
            line(
                "unprivileged per-instance user (no capabilities, no_new_privs)",
                Ok(()),
            )
        } else {
            line(
                "unprivileged per-instance user",
                Err(&format!(
                    "programs run as the server's uid {}",
                    sys::geteuid()
                )),
            )
        });
        report.push(line("rlimits (RLIMIT_CORE=0, RLIMIT_NOFILE=1024)", Ok(())));

        let host = Host {
            name,
            enforced,
            report,
            cgroups,
            root_dir,
            marker: marker.ok(),
            seq: AtomicU32::new(0),
            uid_offset,
        };
        tracing::debug!(name = %host.name, enforced = ?host.enforced, "sandbox host detected");
        host
    }

    /// Human-readable lines saying what is enforced and what is not.
    pub fn report(&self) -> Vec<String> {
        self.report.clone()
    }

    /// What is enforced.
    pub fn enforced(&self) -> &Enforced {
        &self.enforced
    }

    /// Starts `spec` in a new sandbox and returns once its program has
    /// exec'd (setup errors, including a failing `execve`, are returned
    /// here). Must be called inside a tokio runtime: it starts the
    /// sandbox's reaper task. Blocks the calling thread for the setup
    /// (typically a few milliseconds).
    pub fn spawn(&self, spec: Spec) -> Result<Sandboxed, SandboxError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| SandboxError::NoRuntime)?;
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let id = format!("i{seq}");
        let namespaces = self.enforced.namespaces;
        let root_dir = if namespaces {
            self.root_dir.as_deref()
        } else {
            None
        };
        let new_net = root_dir.is_some() && spec.isolate_network && self.enforced.network_isolation;
        if spec.isolate_network && !new_net {
            tracing::debug!(
                "network isolation requested but not available; sharing the host network"
            );
        }
        let child_listener = spec.listener_env.is_some() && new_net;
        let host_listener =
            if spec.listener_env.is_some() && !child_listener {
                Some(TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| {
                    SandboxError::io("bind the Runtime API listener on 127.0.0.1", e)
                })?)
            } else {
                None
            };
        let listener_addr = if child_listener {
            Some(format!("127.0.0.1:{}", plan::CHILD_LISTENER_PORT))
        } else {
            match &host_listener {
                Some(l) => Some(
                    l.local_addr()
                        .map_err(|e| SandboxError::io("read the listener's address", e))?
                        .to_string(),
                ),
                None => None,
            }
        };
        let uid = (root_dir.is_some() && !spec.keep_root)
            .then(|| UID_FIRST + (self.uid_offset.wrapping_add(seq)) % UID_COUNT);
        if let Some(dir) = root_dir
            && let Err(e) = std::fs::create_dir(dir)
            && e.kind() != std::io::ErrorKind::AlreadyExists
        {
            // Removed by an earlier cleanup() and not re-creatable.
            return Err(SandboxError::io(format!("mkdir {}", dir.display()), e));
        }
        let plan = Plan::build(
            &spec,
            &Options {
                root_dir,
                new_net,
                child_listener,
                listener_addr,
                uid,
                probe: false,
            },
        )?;
        let cgroups = self.cgroups.create(&id, spec.memory_mb, spec.max_pids)?;
        let mode = match root_dir {
            Some(_) if new_net => Mode::Namespaces(NS_FLAGS | libc::CLONE_NEWNET),
            Some(_) => Mode::Namespaces(NS_FLAGS),
            None => Mode::Direct,
        };
        let pass_fd = spec.pass_fd.as_deref().map(AsFd::as_fd);
        let launched = match launch::launch(&plan, mode, cgroups.as_ref(), host_listener, pass_fd) {
            Ok(launched) => launched,
            Err(e) => {
                if let Some(cg) = &cgroups {
                    // The child is reaped; its cgroups empty out at once.
                    for _ in 0..100 {
                        if cg.remove().is_ok() {
                            break;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                }
                return Err(e);
            }
        };
        tracing::debug!(
            name = %self.name,
            instance = %id,
            pid = launched.pid,
            uid = ?uid,
            keep_root = spec.keep_root,
            program = %spec.program.display(),
            "sandbox started"
        );
        Ok(Sandboxed::start(
            launched,
            root_dir.is_some(),
            cgroups,
            &handle,
        ))
    }

    /// Creates the per-instance cgroups (memory limit `memory_mb` MiB
    /// without swap, `pids.max` = `max_pids`, 0 meaning no limit for
    /// either; a freezer) under this host's parents, as [`Host::spawn`]
    /// does, for processes that join by themselves through
    /// [`InstanceCgroups::procs_files`]. Without any cgroup controller the
    /// result is empty (see [`InstanceCgroups`]).
    pub fn instance_cgroups(
        &self,
        memory_mb: u32,
        max_pids: u32,
    ) -> Result<InstanceCgroups, SandboxError> {
        // Named like spawn's instances, so that cleanup() and the stale
        // collection of a later server cover them too.
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let id = format!("i{seq}");
        let cgroups = self.cgroups.create(&id, memory_mb, max_pids)?;
        tracing::debug!(
            name = %self.name,
            instance = %id,
            dirs = ?cgroups.as_ref().map(|cg| cg.dirs().to_vec()),
            "instance cgroups created"
        );
        Ok(InstanceCgroups::new(cgroups))
    }

    /// Removes the per-server cgroup parents and the root mount point
    /// (after the instances are gone; what is still busy stays). Idempotent.
    pub fn cleanup(&self) {
        cgroup::cleanup(&self.cgroups);
        if let Some(dir) = &self.marker
            && let Err(e) = std::fs::remove_dir(dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::debug!(dir = %dir.display(), error = %e, "could not remove the sandbox root mount point");
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.cleanup();
    }
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("name", &self.name)
            .field("enforced", &self.enforced)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitized() {
        assert_eq!(sanitize("stratus-12"), "stratus-12");
        assert_eq!(sanitize("a/b c"), "a_b_c");
        assert_eq!(sanitize(""), "stratus");
        assert_eq!(sanitize(".."), "stratus..");
    }
}

//! Everything the child needs, prepared before `clone`.
//!
//! After `clone` the child of a multi-threaded process may not allocate, so
//! every C string, pointer array, mount step and error message is built
//! here, in the parent. The child only reads a [`Plan`] (its copy-on-write
//! image of the parent's memory) and makes raw syscalls with the pointers in
//! it. Error messages stay here: the child reports a step index and an errno,
//! and [`Plan::describe`] turns the index back into a message.

use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::{SandboxError, Spec};

/// Host directories bound read-only (or recreated as symlinks) at the same
/// place inside the sandbox.
pub(crate) const SYSTEM_DIRS: &[&str] =
    &["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc"];

/// Device nodes bound from the host into the sandbox's `/dev`.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// The port of the Runtime API listener inside an isolated network.
pub(crate) const CHILD_LISTENER_PORT: u16 = 9001;

/// `mount_setattr` attribute bits (`linux/mount.h`).
pub(crate) const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub(crate) const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub(crate) const MOUNT_ATTR_NODEV: u64 = 0x4;

/// Indices of the fixed steps; per-spec steps (mounts, rlimits) follow.
pub(crate) mod step {
    pub(crate) const CLOSE_FDS: u32 = 0;
    pub(crate) const SETSID: u32 = 1;
    pub(crate) const SYNC: u32 = 2;
    pub(crate) const SIGNALFD: u32 = 3;
    pub(crate) const FORK: u32 = 4;
    pub(crate) const STDIO: u32 = 5;
    pub(crate) const SETGROUPS: u32 = 6;
    pub(crate) const SETGID: u32 = 7;
    pub(crate) const SETUID: u32 = 8;
    pub(crate) const NO_NEW_PRIVS: u32 = 9;
    pub(crate) const CHDIR: u32 = 10;
    pub(crate) const CLOEXEC: u32 = 11;
    pub(crate) const SIGNALS: u32 = 12;
    pub(crate) const EXEC: u32 = 13;
    pub(crate) const SETPGID: u32 = 14;
    pub(crate) const LISTEN: u32 = 15;
    pub(crate) const SEND_LISTENER: u32 = 16;
    pub(crate) const JOIN_FREEZER: u32 = 17;
    pub(crate) const PASS_FD: u32 = 18;
}

/// One setup operation performed by the namespace init before `pivot_root`
/// (paths under the new root) or after it (absolute paths).
pub(crate) enum Op {
    /// `mount(source, target, fstype, flags, data)`.
    Mount {
        source: Option<CString>,
        target: CString,
        fstype: Option<CString>,
        flags: libc::c_ulong,
        data: Option<CString>,
    },
    /// Recursively set mount attributes with `mount_setattr`; on kernels
    /// without it, `mount(NULL, target, NULL, MS_REMOUNT|MS_BIND|fallback)`.
    SetAttr {
        target: CString,
        set: u64,
        fallback: libc::c_ulong,
    },
    /// `mkdir(path, mode)`; an existing path is fine.
    Mkdir { path: CString, mode: libc::mode_t },
    /// Create an empty file to mount over; an existing file is fine.
    Touch { path: CString },
    /// `symlink(target, link)`.
    Symlink { target: CString, link: CString },
    /// `chdir(new_root); pivot_root(".", "."); umount2(".", MNT_DETACH); chdir("/")`.
    PivotRoot { new_root: CString },
    /// `sethostname`.
    Hostname { name: CString },
    /// Bring the loopback interface up.
    LoopbackUp,
}

/// An operation and the index of its description.
pub(crate) struct Step {
    pub(crate) op: Op,
    pub(crate) step: u32,
}

/// An rlimit the program sets before `execve`.
pub(crate) struct Rlimit {
    pub(crate) resource: libc::__rlimit_resource_t,
    pub(crate) value: u64,
    pub(crate) step: u32,
}

/// The inputs of [`Plan::build`] besides the spec.
pub(crate) struct Options<'a> {
    /// The empty directory the new root is mounted on; `None` runs the
    /// program directly on the host.
    pub(crate) root_dir: Option<&'a Path>,
    /// The sandbox has its own network namespace (bring `lo` up).
    pub(crate) new_net: bool,
    /// The init creates the listener and sends it to the parent.
    pub(crate) child_listener: bool,
    /// `host:port` for `spec.listener_env`.
    pub(crate) listener_addr: Option<String>,
    /// The per-instance uid and gid, if privileges are dropped.
    pub(crate) uid: Option<u32>,
    /// Do everything but `execve` (the child exits 0 instead).
    pub(crate) probe: bool,
}

/// Everything the child reads after `clone`.
pub(crate) struct Plan {
    /// Namespace setup, in order (empty without namespaces).
    pub(crate) ops: Vec<Step>,
    steps: Vec<String>,
    pub(crate) program: CString,
    _argv: Vec<CString>,
    /// NULL-terminated pointers into `_argv`.
    pub(crate) argv: Vec<*const libc::c_char>,
    _envp: Vec<CString>,
    /// NULL-terminated pointers into `_envp`.
    pub(crate) envp: Vec<*const libc::c_char>,
    pub(crate) cwd: CString,
    pub(crate) dev_null: CString,
    /// `/proc/self/oom_score_adj` inside the sandbox (reset to 0 by the
    /// program, as the parent protects the init with -1000).
    pub(crate) oom_score_adj: Option<CString>,
    pub(crate) uid: Option<u32>,
    /// Set `PR_SET_NO_NEW_PRIVS` (not for [`Spec::keep_root`] programs).
    pub(crate) no_new_privs: bool,
    pub(crate) rlimits: Vec<Rlimit>,
    pub(crate) probe: bool,
    pub(crate) child_listener: bool,
}

fn invalid(msg: impl Into<String>) -> SandboxError {
    SandboxError::InvalidSpec(msg.into())
}

fn cstring(bytes: &[u8], what: &str) -> Result<CString, SandboxError> {
    CString::new(bytes).map_err(|_| invalid(format!("{what} contains a NUL byte")))
}

fn cpath(path: &Path) -> Result<CString, SandboxError> {
    cstring(
        path.as_os_str().as_bytes(),
        &format!("path {}", path.display()),
    )
}

/// Checks that `path` is absolute and normalised (no `.`/`..`).
fn check_inside(path: &Path, what: &str) -> Result<(), SandboxError> {
    let mut components = path.components();
    if components.next() != Some(Component::RootDir) {
        return Err(invalid(format!(
            "{what} {} is not absolute",
            path.display()
        )));
    }
    if components.any(|c| !matches!(c, Component::Normal(_))) {
        return Err(invalid(format!(
            "{what} {} must not contain . or .. components",
            path.display()
        )));
    }
    Ok(())
}

/// `root` + the absolute inside path `inside`.
fn under(root: &Path, inside: &Path) -> PathBuf {
    root.join(inside.strip_prefix("/").unwrap_or(inside))
}

impl Plan {
    /// The description of step `index`, for error messages.
    pub(crate) fn describe(&self, index: u32) -> String {
        self.steps
            .get(index as usize)
            .cloned()
            .unwrap_or_else(|| format!("sandbox setup step {index}"))
    }

    fn step(&mut self, description: String) -> u32 {
        self.steps.push(description);
        (self.steps.len() - 1) as u32
    }

    fn op(&mut self, op: Op, description: String) {
        let step = self.step(description);
        self.ops.push(Step { op, step });
    }

    /// Prepares everything for running `spec`.
    pub(crate) fn build(spec: &Spec, opts: &Options<'_>) -> Result<Plan, SandboxError> {
        let namespaces = opts.root_dir.is_some();
        if spec.program.as_os_str().is_empty() {
            return Err(invalid("the program is empty"));
        }
        let program = cpath(&spec.program)?;
        let mut argv_storage = vec![program.clone()];
        for arg in &spec.args {
            argv_storage.push(cstring(arg.as_bytes(), "an argument")?);
        }
        let mut env: Vec<(&OsStr, &OsStr)> = spec
            .env
            .iter()
            .map(|(k, v)| (k.as_os_str(), v.as_os_str()))
            .collect();
        if let (Some(name), Some(addr)) = (&spec.listener_env, &opts.listener_addr) {
            env.retain(|(k, _)| *k != OsStr::new(name));
            env.push((OsStr::new(name), OsStr::new(addr)));
        }
        let mut envp_storage = Vec::with_capacity(env.len());
        for (k, v) in env {
            if k.is_empty() || k.as_bytes().contains(&b'=') {
                return Err(invalid(format!(
                    "environment variable name {:?} is empty or contains '='",
                    k
                )));
            }
            let mut entry = k.as_bytes().to_vec();
            entry.push(b'=');
            entry.extend_from_slice(v.as_bytes());
            envp_storage.push(cstring(&entry, &format!("environment variable {k:?}"))?);
        }
        if namespaces {
            check_inside(&spec.cwd, "the working directory")?;
        }
        let mut plan = Plan {
            ops: Vec::new(),
            steps: Vec::new(),
            program,
            argv: Vec::new(),
            _argv: argv_storage,
            envp: Vec::new(),
            _envp: envp_storage,
            cwd: cpath(&spec.cwd)?,
            dev_null: cpath(Path::new("/dev/null"))?,
            oom_score_adj: None,
            uid: opts.uid,
            no_new_privs: !spec.keep_root,
            rlimits: Vec::new(),
            probe: opts.probe,
            child_listener: opts.child_listener,
        };
        plan.argv = plan._argv.iter().map(|c| c.as_ptr()).collect();
        plan.argv.push(std::ptr::null());
        plan.envp = plan._envp.iter().map(|c| c.as_ptr()).collect();
        plan.envp.push(std::ptr::null());

        let uid = opts.uid.unwrap_or(0);
        let fixed = [
            "close inherited file descriptors".to_string(),
            "setsid".to_string(),
            "wait for the host to set up cgroups".to_string(),
            "signalfd".to_string(),
            "fork the program".to_string(),
            "set up stdin/stdout/stderr".to_string(),
            "setgroups".to_string(),
            format!("setgid {uid}"),
            format!("setuid {uid}"),
            "prctl(PR_SET_NO_NEW_PRIVS)".to_string(),
            format!("chdir {}", spec.cwd.display()),
            "mark inherited file descriptors close-on-exec".to_string(),
            "reset signal handlers".to_string(),
            format!("execve {}", spec.program.display()),
            "setpgid".to_string(),
            format!("listen on 127.0.0.1:{CHILD_LISTENER_PORT}"),
            "send the listener to the host".to_string(),
            "join the freezer cgroup".to_string(),
            "pass the descriptor as fd 3".to_string(),
        ];
        plan.steps.extend(fixed);

        let mut rlimits = vec![
            (libc::RLIMIT_CORE, 0, "RLIMIT_CORE"),
            (libc::RLIMIT_NOFILE, 1024, "RLIMIT_NOFILE"),
        ];
        // RLIMIT_NPROC counts every process of the real uid, so it is only a
        // per-instance limit when the instance has its own uid (never with
        // keep_root: uid 0 is shared with the whole host).
        if opts.uid.is_some() && !spec.keep_root && spec.max_pids > 0 {
            rlimits.push((libc::RLIMIT_NPROC, u64::from(spec.max_pids), "RLIMIT_NPROC"));
        }
        for (resource, value, name) in rlimits {
            let step = plan.step(format!("setrlimit {name} {value}"));
            plan.rlimits.push(Rlimit {
                resource,
                value,
                step,
            });
        }

        if let Some(root) = opts.root_dir {
            plan.oom_score_adj = Some(cpath(Path::new("/proc/self/oom_score_adj"))?);
            plan.namespace_ops(spec, root, opts)?;
        }
        Ok(plan)
    }

    /// The mount plan of a namespace sandbox rooted at `root`.
    fn namespace_ops(
        &mut self,
        spec: &Spec,
        root: &Path,
        opts: &Options<'_>,
    ) -> Result<(), SandboxError> {
        let tmpfs = Some(cpath(Path::new("tmpfs"))?);
        let no_suid_dev = libc::MS_NOSUID | libc::MS_NODEV;
        self.op(
            Op::Mount {
                source: None,
                target: cpath(Path::new("/"))?,
                fstype: None,
                flags: libc::MS_REC | libc::MS_PRIVATE,
                data: None,
            },
            "make the mount tree private".into(),
        );
        self.op(
            Op::Mount {
                source: tmpfs.clone(),
                target: cpath(root)?,
                fstype: tmpfs.clone(),
                flags: no_suid_dev,
                data: Some(cstring(b"mode=0755,size=1m,nr_inodes=4096", "options")?),
            },
            format!("mount a tmpfs root at {}", root.display()),
        );

        // Where host paths are visible inside: (host dir, inside dir).
        let mut visible: Vec<(PathBuf, PathBuf)> = Vec::new();
        for dir in SYSTEM_DIRS {
            let host = Path::new(dir);
            let Ok(meta) = std::fs::symlink_metadata(host) else {
                continue;
            };
            let inside = under(root, host);
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(host)
                    .map_err(|e| SandboxError::io(format!("readlink {dir}"), e))?;
                self.op(
                    Op::Symlink {
                        target: cpath(&target)?,
                        link: cpath(&inside)?,
                    },
                    format!("symlink {dir} -> {}", target.display()),
                );
            } else if meta.is_dir() {
                self.bind_ops(host, host, &inside, true, true)?;
                if let Ok(canonical) = host.canonicalize() {
                    visible.push((canonical, host.to_path_buf()));
                }
            }
        }

        // A fresh /proc for the new pid namespace.
        let proc_dir = under(root, Path::new("/proc"));
        self.op(
            Op::Mkdir {
                path: cpath(&proc_dir)?,
                mode: 0o555,
            },
            "mkdir /proc".into(),
        );
        self.op(
            Op::Mount {
                source: Some(cpath(Path::new("proc"))?),
                target: cpath(&proc_dir)?,
                fstype: Some(cpath(Path::new("proc"))?),
                flags: no_suid_dev | libc::MS_NOEXEC,
                data: None,
            },
            "mount /proc".into(),
        );

        // A minimal /dev.
        let dev = under(root, Path::new("/dev"));
        self.op(
            Op::Mkdir {
                path: cpath(&dev)?,
                mode: 0o755,
            },
            "mkdir /dev".into(),
        );
        self.op(
            Op::Mount {
                source: tmpfs.clone(),
                target: cpath(&dev)?,
                fstype: tmpfs.clone(),
                flags: libc::MS_NOSUID | libc::MS_NOEXEC,
                data: Some(cstring(b"mode=0755,size=64k,nr_inodes=64", "options")?),
            },
            "mount /dev".into(),
        );
        for name in DEVICES {
            let host = Path::new("/dev").join(name);
            if std::fs::symlink_metadata(&host).is_err() {
                continue;
            }
            let inside = dev.join(name);
            self.op(
                Op::Touch {
                    path: cpath(&inside)?,
                },
                format!("create {}", host.display()),
            );
            self.op(
                Op::Mount {
                    source: Some(cpath(&host)?),
                    target: cpath(&inside)?,
                    fstype: None,
                    flags: libc::MS_BIND,
                    data: None,
                },
                format!("bind {}", host.display()),
            );
        }
        for (link, target) in [
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
        ] {
            self.op(
                Op::Symlink {
                    target: cpath(Path::new(target))?,
                    link: cpath(&dev.join(link))?,
                },
                format!("symlink /dev/{link}"),
            );
        }
        let shm = dev.join("shm");
        self.op(
            Op::Mkdir {
                path: cpath(&shm)?,
                mode: 0o1777,
            },
            "mkdir /dev/shm".into(),
        );
        let shm_mb = spec.tmp_mb.clamp(1, 64);
        self.op(
            Op::Mount {
                source: tmpfs.clone(),
                target: cpath(&shm)?,
                fstype: tmpfs.clone(),
                flags: no_suid_dev,
                data: Some(cstring(
                    format!("mode=1777,size={shm_mb}m").as_bytes(),
                    "options",
                )?),
            },
            "mount /dev/shm".into(),
        );
        self.op(
            Op::Mount {
                source: None,
                target: cpath(&dev)?,
                fstype: None,
                flags: libc::MS_REMOUNT
                    | libc::MS_BIND
                    | libc::MS_RDONLY
                    | libc::MS_NOSUID
                    | libc::MS_NOEXEC,
                data: None,
            },
            "remount /dev read-only".into(),
        );

        // The private /tmp.
        let tmp = under(root, Path::new("/tmp"));
        self.op(
            Op::Mkdir {
                path: cpath(&tmp)?,
                mode: 0o1777,
            },
            "mkdir /tmp".into(),
        );
        let tmp_mb = spec.tmp_mb.max(1);
        self.op(
            Op::Mount {
                source: tmpfs.clone(),
                target: cpath(&tmp)?,
                fstype: tmpfs.clone(),
                flags: no_suid_dev,
                data: Some(cstring(
                    format!("mode=1777,size={tmp_mb}m").as_bytes(),
                    "options",
                )?),
            },
            format!("mount a {tmp_mb} MiB tmpfs at /tmp"),
        );

        // The spec's binds, parents before children.
        let mut binds: Vec<&crate::Bind> = spec.binds.iter().collect();
        binds.sort_by_key(|b| b.target.components().count());
        for bind in binds {
            check_inside(&bind.target, "bind target")?;
            if bind.target == Path::new("/")
                || bind.target.starts_with("/proc")
                || bind.target.starts_with("/dev")
            {
                return Err(invalid(format!(
                    "bind target {} is reserved",
                    bind.target.display()
                )));
            }
            let source = bind.source.canonicalize().map_err(|e| {
                SandboxError::io(format!("bind source {}", bind.source.display()), e)
            })?;
            // Mount points for the target's parents, on the root tmpfs (or
            // already present inside an earlier bind).
            let mut ancestors: Vec<&Path> = bind.target.ancestors().skip(1).collect();
            ancestors.reverse();
            for ancestor in ancestors.into_iter().skip(1) {
                self.op(
                    Op::Mkdir {
                        path: cpath(&under(root, ancestor))?,
                        mode: 0o755,
                    },
                    format!("mkdir {}", ancestor.display()),
                );
            }
            self.bind_ops(
                &source,
                &bind.target,
                &under(root, &bind.target),
                bind.read_only,
                false,
            )?;
            visible.push((source, bind.target.clone()));
        }

        // Hidden paths that some bind would expose.
        for hide in &spec.hide {
            let Ok(host) = hide.canonicalize() else {
                continue;
            };
            let is_dir = host.is_dir();
            let mut insides: Vec<PathBuf> = visible
                .iter()
                .filter_map(|(dir, inside)| {
                    host.strip_prefix(dir).ok().map(|rel| {
                        if rel.as_os_str().is_empty() {
                            inside.clone()
                        } else {
                            inside.join(rel)
                        }
                    })
                })
                .collect();
            insides.dedup();
            for inside in insides {
                let target = cpath(&under(root, &inside))?;
                let op = if is_dir {
                    Op::Mount {
                        source: tmpfs.clone(),
                        target,
                        fstype: tmpfs.clone(),
                        flags: no_suid_dev | libc::MS_NOEXEC | libc::MS_RDONLY,
                        data: Some(cstring(b"mode=0755,size=4k,nr_inodes=1", "options")?),
                    }
                } else {
                    Op::Mount {
                        source: Some(cpath(&dev.join("null"))?),
                        target,
                        fstype: None,
                        flags: libc::MS_BIND,
                        data: None,
                    }
                };
                self.op(
                    op,
                    format!("hide {} at {}", host.display(), inside.display()),
                );
            }
        }

        self.op(
            Op::PivotRoot {
                new_root: cpath(root)?,
            },
            format!("pivot_root to {}", root.display()),
        );
        self.op(
            Op::Mount {
                source: None,
                target: cpath(Path::new("/"))?,
                fstype: None,
                flags: libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | no_suid_dev,
                data: None,
            },
            "remount / read-only".into(),
        );
        self.op(
            Op::Hostname {
                name: cstring(b"stratus", "hostname")?,
            },
            "sethostname".into(),
        );
        if opts.new_net {
            self.op(Op::LoopbackUp, "bring up the loopback interface".into());
        }
        Ok(())
    }

    /// Mount point creation, bind and attribute steps for binding `source`
    /// at `target` (shown in messages) = `path` (under the new root).
    fn bind_ops(
        &mut self,
        source: &Path,
        target: &Path,
        path: &Path,
        read_only: bool,
        system: bool,
    ) -> Result<(), SandboxError> {
        let is_dir = source.is_dir();
        let cpath_ = cpath(path)?;
        if is_dir {
            self.op(
                Op::Mkdir {
                    path: cpath_.clone(),
                    mode: 0o755,
                },
                format!("mkdir {}", target.display()),
            );
        } else {
            self.op(
                Op::Touch {
                    path: cpath_.clone(),
                },
                format!("create mount point {}", target.display()),
            );
        }
        let what = if system {
            format!("mount {}", target.display())
        } else {
            format!("mount {} (bind of {})", target.display(), source.display())
        };
        self.op(
            Op::Mount {
                source: Some(cpath(source)?),
                target: cpath_.clone(),
                fstype: None,
                flags: libc::MS_BIND | libc::MS_REC,
                data: None,
            },
            what,
        );
        let (set, fallback) = if read_only {
            (
                MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
            )
        } else {
            (
                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                libc::MS_NOSUID | libc::MS_NODEV,
            )
        };
        self.op(
            Op::SetAttr {
                target: cpath_,
                set,
                fallback,
            },
            format!(
                "remount {}{}",
                target.display(),
                if read_only {
                    " read-only"
                } else {
                    " nosuid,nodev"
                }
            ),
        );
        Ok(())
    }
}

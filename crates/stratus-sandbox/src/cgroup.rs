//! Per-instance cgroups (v1 hierarchies or a pure v2 hierarchy): memory
//! limit, process limit, freezer, usage statistics.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::SandboxError;
use crate::sys;

/// The cgroup root.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// How long [`Instance::freeze`] waits for the freezer to settle.
const FREEZE_WAIT: Duration = Duration::from_millis(100);

/// A cgroup version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    V1,
    V2,
}

impl Version {
    fn label(self) -> &'static str {
        match self {
            Version::V1 => "cgroup v1",
            Version::V2 => "cgroup v2",
        }
    }
}

/// One controller's per-server parent directory, or why it is unavailable.
pub(crate) type Parent = Result<PathBuf, String>;

/// What the host offers, with the per-server parent directories created.
pub(crate) struct Cgroups {
    pub(crate) version: Version,
    pub(crate) memory: Parent,
    pub(crate) pids: Parent,
    pub(crate) freezer: Parent,
}

/// Writes `value` to an existing control file.
fn write_file(path: &Path, value: &str) -> Result<(), SandboxError> {
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .map_err(|e| SandboxError::io(format!("write {value:?} to {}", path.display()), e))
}

/// Creates a directory; an existing one is fine.
fn mkdir(path: &Path) -> io::Result<()> {
    match fs::create_dir(path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// Removes a cgroup directory; a missing one is fine.
fn rmdir(path: &Path) -> io::Result<()> {
    match fs::remove_dir(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The `key N` line of a flat-keyed file such as `memory.events`.
fn keyed(path: &Path, key: &str) -> Option<u64> {
    let text = fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// A single-number file such as `memory.peak`.
fn number(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The mount point of the cgroup v1 hierarchy with `controller`.
fn v1_mount(mounts: &str, controller: &str) -> Option<PathBuf> {
    mounts.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (_, point, fstype, options) = (
            fields.next()?,
            fields.next()?,
            fields.next()?,
            fields.next()?,
        );
        (fstype == "cgroup" && options.split(',').any(|o| o == controller))
            .then(|| PathBuf::from(point.replace("\\040", " ")))
    })
}

impl Cgroups {
    /// Detects the cgroup layout and creates the per-server parents named
    /// `name`.
    pub(crate) fn detect(name: &str) -> Cgroups {
        let root = Path::new(CGROUP_ROOT);
        if root.join("cgroup.controllers").exists() {
            Self::detect_v2(root, name)
        } else {
            Self::detect_v1(name)
        }
    }

    fn detect_v1(name: &str) -> Cgroups {
        let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let parent = |controller: &str, probe: &str| -> Parent {
            let mount = v1_mount(&mounts, controller)
                .ok_or_else(|| format!("no cgroup v1 {controller} hierarchy is mounted"))?;
            let dir = mount.join(name);
            mkdir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
            if !dir.join(probe).exists() {
                let _ = rmdir(&dir);
                return Err(format!("{} has no {probe}", dir.display()));
            }
            Ok(dir)
        };
        Cgroups {
            version: Version::V1,
            memory: parent("memory", "memory.limit_in_bytes"),
            pids: parent("pids", "pids.max"),
            freezer: parent("freezer", "freezer.state"),
        }
    }

    fn detect_v2(root: &Path, name: &str) -> Cgroups {
        let fail = |reason: String| Cgroups {
            version: Version::V2,
            memory: Err(reason.clone()),
            pids: Err(reason.clone()),
            freezer: Err(reason),
        };
        let available = fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
        let has = |c: &str| available.split_whitespace().any(|x| x == c);
        for c in ["memory", "pids"] {
            if has(c) {
                // Enabling may fail if already enabled or not allowed; the
                // result is checked below through the parent's files.
                let _ = write_file(&root.join("cgroup.subtree_control"), &format!("+{c}"));
            }
        }
        let dir = root.join(name);
        if let Err(e) = mkdir(&dir) {
            return fail(format!("mkdir {}: {e}", dir.display()));
        }
        for c in ["memory", "pids"] {
            if has(c) {
                let _ = write_file(&dir.join("cgroup.subtree_control"), &format!("+{c}"));
            }
        }
        let enabled = fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
        let controller = |c: &str| -> Parent {
            if !has(c) {
                Err(format!("the cgroup v2 {c} controller is not available"))
            } else if !enabled.split_whitespace().any(|x| x == c) {
                Err(format!(
                    "could not enable the {c} controller in {}",
                    dir.display()
                ))
            } else {
                Ok(dir.clone())
            }
        };
        Cgroups {
            version: Version::V2,
            memory: controller("memory"),
            pids: controller("pids"),
            freezer: if dir.join("cgroup.freeze").exists() {
                Ok(dir.clone())
            } else {
                Err("the kernel has no cgroup.freeze".into())
            },
        }
    }

    /// "cgroup v1 memory" and the like, for the report.
    pub(crate) fn label(&self, controller: &str) -> String {
        format!("{} {controller}", self.version.label())
    }

    /// The distinct per-server parent directories.
    pub(crate) fn parents(&self) -> Vec<&PathBuf> {
        let mut dirs: Vec<&PathBuf> = [&self.memory, &self.pids, &self.freezer]
            .into_iter()
            .filter_map(|p| p.as_ref().ok())
            .collect();
        dirs.dedup();
        dirs
    }

    /// Creates the cgroups of instance `id` with its limits (`None` when no
    /// controller is available).
    pub(crate) fn create(
        &self,
        id: &str,
        memory_mb: u32,
        max_pids: u32,
    ) -> Result<Option<Instance>, SandboxError> {
        let at = |p: &Parent| p.as_ref().ok().map(|dir| dir.join(id));
        // With v2 everything shares one directory, and the freezer is a
        // child of it ("prog") so that the init can stay unfrozen.
        let (freezer, freezer_parent) = match self.version {
            Version::V1 => (at(&self.freezer), None),
            Version::V2 => (at(&self.freezer).map(|d| d.join("prog")), at(&self.freezer)),
        };
        let mut cg = Instance {
            version: self.version,
            memory: at(&self.memory),
            pids: at(&self.pids),
            freezer,
            dirs: Vec::new(),
        };
        // Parents before children (removal goes in reverse).
        for dir in [&cg.memory, &cg.pids, &freezer_parent, &cg.freezer]
            .into_iter()
            .flatten()
        {
            if !cg.dirs.contains(dir) {
                cg.dirs.push(dir.clone());
            }
        }
        if cg.dirs.is_empty() {
            return Ok(None);
        }
        // The parents may have been removed by an earlier cleanup().
        for parent in self.parents() {
            if !parent.exists() {
                mkdir(parent)
                    .map_err(|e| SandboxError::io(format!("mkdir {}", parent.display()), e))?;
                if self.version == Version::V2 {
                    for c in ["memory", "pids"] {
                        let _ =
                            write_file(&parent.join("cgroup.subtree_control"), &format!("+{c}"));
                    }
                }
            }
        }
        for dir in cg.dirs.clone() {
            if let Err(e) = mkdir(&dir) {
                cg.remove_now();
                return Err(SandboxError::io(format!("mkdir {}", dir.display()), e));
            }
        }
        if let Err(e) = cg.set_limits(memory_mb, max_pids) {
            cg.remove_now();
            return Err(e);
        }
        Ok(Some(cg))
    }
}

/// The cgroups of one instance.
#[derive(Debug)]
pub(crate) struct Instance {
    version: Version,
    memory: Option<PathBuf>,
    pids: Option<PathBuf>,
    freezer: Option<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Instance {
    fn set_limits(&self, memory_mb: u32, max_pids: u32) -> Result<(), SandboxError> {
        let bytes = (u64::from(memory_mb) << 20).to_string();
        if let (Some(dir), true) = (&self.memory, memory_mb > 0) {
            match self.version {
                Version::V1 => {
                    // Same limit for memory+swap: no swapping past the
                    // limit. memsw must stay >= the limit, so when a reused
                    // cgroup's memsw is lower, it goes first.
                    let limit = dir.join("memory.limit_in_bytes");
                    let memsw = dir.join("memory.memsw.limit_in_bytes");
                    let has_memsw = memsw.exists();
                    if write_file(&limit, &bytes).is_err() && has_memsw {
                        write_file(&memsw, &bytes)?;
                    }
                    write_file(&limit, &bytes)?;
                    if has_memsw {
                        write_file(&memsw, &bytes)?;
                    }
                }
                Version::V2 => {
                    write_file(&dir.join("memory.max"), &bytes)?;
                    let swap = dir.join("memory.swap.max");
                    if swap.exists() {
                        write_file(&swap, "0")?;
                    }
                }
            }
        }
        if let (Some(dir), true) = (&self.pids, max_pids > 0) {
            write_file(&dir.join("pids.max"), &max_pids.to_string())?;
        }
        Ok(())
    }

    /// Moves `pid` into the instance's memory and pids cgroups, and into
    /// its freezer cgroup too when `freezer` (without namespaces; with them
    /// the program joins the freezer itself and the init stays outside, so
    /// that it can thaw and kill the tree if the host process dies).
    pub(crate) fn add(&self, pid: libc::pid_t, freezer: bool) -> Result<(), SandboxError> {
        let mut dirs: Vec<&PathBuf> = [&self.memory, &self.pids].into_iter().flatten().collect();
        dirs.dedup();
        if freezer && let Some(dir) = &self.freezer {
            dirs.push(dir);
        }
        for dir in dirs {
            write_file(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// The directories a process that places itself joins, in order: with
    /// v1 every hierarchy's (memory, pids, freezer, those available), with
    /// v2 only the innermost one (the freezer's `prog` when there is a
    /// freezer), as a v2 process is in exactly one cgroup.
    pub(crate) fn join_dirs(&self) -> Vec<&PathBuf> {
        match self.version {
            Version::V1 => self.dirs.iter().collect(),
            Version::V2 => self.dirs.last().into_iter().collect(),
        }
    }

    /// The freezer cgroup's `cgroup.procs`, for the program to join.
    pub(crate) fn freezer_procs_file(&self) -> Option<PathBuf> {
        self.freezer.as_ref().map(|d| d.join("cgroup.procs"))
    }

    /// The freezer's control file and what to write to it to thaw.
    pub(crate) fn freezer_state_file(&self) -> Option<(PathBuf, &'static [u8])> {
        let dir = self.freezer.as_ref()?;
        Some(match self.version {
            Version::V1 => (dir.join("freezer.state"), b"THAWED"),
            Version::V2 => (dir.join("cgroup.freeze"), b"0"),
        })
    }

    /// The instance's directories (for tests and logs).
    pub(crate) fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Whether there is a cgroup freezer.
    pub(crate) fn has_freezer(&self) -> bool {
        self.freezer.is_some()
    }

    /// Freezes the instance and waits (bounded) until it is frozen.
    pub(crate) fn freeze(&self) -> Result<(), SandboxError> {
        let Some(dir) = &self.freezer else {
            return Ok(());
        };
        let frozen = || match self.version {
            Version::V1 => fs::read_to_string(dir.join("freezer.state"))
                .map(|s| s.trim() == "FROZEN")
                .unwrap_or(false),
            Version::V2 => keyed(&dir.join("cgroup.events"), "frozen") == Some(1),
        };
        match self.version {
            Version::V1 => write_file(&dir.join("freezer.state"), "FROZEN")?,
            Version::V2 => write_file(&dir.join("cgroup.freeze"), "1")?,
        }
        let start = Instant::now();
        while !frozen() {
            if start.elapsed() > FREEZE_WAIT {
                tracing::warn!(cgroup = %dir.display(), "the freezer did not settle within 100 ms");
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Thaws the instance.
    pub(crate) fn thaw(&self) -> Result<(), SandboxError> {
        let Some(dir) = &self.freezer else {
            return Ok(());
        };
        match self.version {
            Version::V1 => write_file(&dir.join("freezer.state"), "THAWED"),
            Version::V2 => write_file(&dir.join("cgroup.freeze"), "0"),
        }
    }

    /// The host pids in the instance (in any of its cgroups).
    pub(crate) fn procs(&self) -> Vec<libc::pid_t> {
        let mut pids: Vec<libc::pid_t> = self
            .dirs
            .iter()
            .filter_map(|d| fs::read_to_string(d.join("cgroup.procs")).ok())
            .flat_map(|s| {
                s.lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<_>>()
            })
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Sends `sig` to every process in the instance; returns how many there
    /// were.
    pub(crate) fn signal_all(&self, sig: libc::c_int) -> usize {
        let procs = self.procs();
        for &pid in &procs {
            let _ = sys::kill(pid, sig);
        }
        procs.len()
    }

    /// SIGKILLs everything left in the instance (`cgroup.kill` on v2).
    pub(crate) fn kill_all(&self) -> usize {
        if self.version == Version::V2
            && let Some(dir) = self.dirs.first()
        {
            let kill = dir.join("cgroup.kill");
            if kill.exists() && write_file(&kill, "1").is_ok() {
                return self.procs().len();
            }
        }
        self.signal_all(libc::SIGKILL)
    }

    /// Peak memory usage in bytes.
    pub(crate) fn memory_peak(&self) -> Option<u64> {
        let dir = self.memory.as_ref()?;
        match self.version {
            Version::V1 => number(&dir.join("memory.max_usage_in_bytes")),
            Version::V2 => number(&dir.join("memory.peak")),
        }
    }

    /// Current memory usage in bytes.
    pub(crate) fn memory_current(&self) -> Option<u64> {
        let dir = self.memory.as_ref()?;
        match self.version {
            Version::V1 => number(&dir.join("memory.usage_in_bytes")),
            Version::V2 => number(&dir.join("memory.current")),
        }
    }

    /// How many processes the OOM killer killed in the instance.
    pub(crate) fn oom_kills(&self) -> Option<u64> {
        let dir = self.memory.as_ref()?;
        match self.version {
            Version::V1 => keyed(&dir.join("memory.oom_control"), "oom_kill"),
            Version::V2 => keyed(&dir.join("memory.events"), "oom_kill"),
        }
    }

    /// Removes the directories (they must be empty of processes).
    pub(crate) fn remove(&self) -> io::Result<()> {
        let mut result = Ok(());
        for dir in self.dirs.iter().rev() {
            if let Err(e) = rmdir(dir) {
                result = Err(io::Error::new(
                    e.kind(),
                    format!("rmdir {}: {e}", dir.display()),
                ));
            }
        }
        result
    }

    fn remove_now(&self) {
        let _ = self.remove();
    }
}

/// Removes the per-server parents and any leftover empty instance cgroups.
pub(crate) fn cleanup(cgroups: &Cgroups) {
    for parent in cgroups.parents() {
        if let Ok(entries) = fs::read_dir(parent) {
            for entry in entries.flatten() {
                if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    let _ = rmdir(&entry.path());
                }
            }
        }
        if let Err(e) = rmdir(parent) {
            tracing::debug!(cgroup = %parent.display(), error = %e, "could not remove the cgroup parent");
        }
    }
}

/// Thaws and kills everything in the cgroup tree at `dir`, then removes it
/// (bounded wait). For the leftovers of a dead server.
pub(crate) fn destroy_tree(dir: &Path) {
    fn subdirs(dir: &Path) -> Vec<PathBuf> {
        fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default()
    }
    // Every cgroup of the tree, parents first.
    let mut all = vec![dir.to_path_buf()];
    let mut i = 0;
    while let Some(d) = all.get(i).cloned() {
        all.extend(subdirs(&d));
        i += 1;
    }
    for d in &all {
        let state = d.join("freezer.state");
        if state.exists() {
            let _ = write_file(&state, "THAWED");
        }
        let freeze = d.join("cgroup.freeze");
        if freeze.exists() {
            let _ = write_file(&freeze, "0");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let mut busy = false;
        for d in all.iter().rev() {
            if let Ok(procs) = fs::read_to_string(d.join("cgroup.procs")) {
                for pid in procs
                    .lines()
                    .filter_map(|l| l.trim().parse::<libc::pid_t>().ok())
                {
                    let _ = sys::kill(pid, libc::SIGKILL);
                }
            }
            if rmdir(d).is_err() {
                busy = true;
            }
        }
        if !busy || Instant::now() > deadline {
            if busy {
                tracing::warn!(cgroup = %dir.display(), "could not remove a dead server's cgroups");
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

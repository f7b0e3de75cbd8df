//! Shared helpers.

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use stratus_sandbox::{Exit, Host, Sandboxed, Spec};

/// Whether the tests run as root (and so must see everything enforced).
pub fn is_root() -> bool {
    // SAFETY: geteuid always succeeds.
    unsafe { libc::geteuid() == 0 }
}

/// A host with a unique name; `None` (after a note) when not root.
pub fn host() -> Option<Host> {
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "stratus-it-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let host = Host::detect(&name);
    if !is_root() {
        eprintln!("note: not root; skipping (report: {:?})", host.report());
        return None;
    }
    let e = host.enforced();
    assert!(
        e.namespaces
            && e.network_isolation
            && e.memory_limit
            && e.process_limit
            && e.freezer
            && e.private_tmp
            && e.unprivileged_user,
        "as root everything should be enforced: {:#?}",
        host.report()
    );
    Some(host)
}

/// A `/bin/sh -c script` spec with small limits.
pub fn sh(script: &str) -> Spec {
    program("/bin/sh", &["-c", script])
}

/// A spec running `program args`.
pub fn program(program: &str, args: &[&str]) -> Spec {
    Spec {
        program: PathBuf::from(program),
        args: args.iter().map(OsString::from).collect(),
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        cwd: PathBuf::from("/"),
        binds: Vec::new(),
        hide: Vec::new(),
        tmp_mb: 16,
        memory_mb: 256,
        max_pids: 64,
        isolate_network: true,
        listener_env: None,
        keep_root: false,
        pass_fd: None,
    }
}

/// Reads a pipe to its end on a blocking thread.
pub async fn read_all(fd: OwnedFd) -> String {
    tokio::task::spawn_blocking(move || {
        let mut text = String::new();
        let _ = std::fs::File::from(fd).read_to_string(&mut text);
        text
    })
    .await
    .expect("reader thread")
}

/// What a finished program did.
#[derive(Debug)]
pub struct Output {
    pub exit: Exit,
    pub stdout: String,
    pub stderr: String,
}

/// Waits for a spawned sandbox and collects its output (bounded).
pub async fn collect(mut sandbox: Sandboxed) -> Output {
    let out = tokio::spawn(read_all(sandbox.stdout.take().expect("stdout")));
    let err = tokio::spawn(read_all(sandbox.stderr.take().expect("stderr")));
    let exit = tokio::time::timeout(Duration::from_secs(20), sandbox.wait())
        .await
        .expect("the sandbox should exit");
    Output {
        exit,
        stdout: out.await.expect("stdout reader"),
        stderr: err.await.expect("stderr reader"),
    }
}

/// Spawns `spec` and collects its output.
pub async fn run(host: &Host, spec: Spec) -> Output {
    let sandbox = host.spawn(spec).expect("spawn");
    collect(sandbox).await
}

/// Reads a sandbox's output pipe line by line.
pub struct Lines {
    inner: tokio::io::Lines<tokio::io::BufReader<tokio::net::unix::pipe::Receiver>>,
}

impl Lines {
    /// Wraps a pipe read end.
    pub fn new(fd: OwnedFd) -> Lines {
        use tokio::io::AsyncBufReadExt;
        let receiver = tokio::net::unix::pipe::Receiver::from_file(std::fs::File::from(fd))
            .expect("pipe receiver");
        Lines {
            inner: tokio::io::BufReader::new(receiver).lines(),
        }
    }

    /// The next line (None at end of file), waiting at most 10 s.
    pub async fn next(&mut self) -> Option<String> {
        tokio::time::timeout(Duration::from_secs(10), self.inner.next_line())
            .await
            .expect("a line within 10 s")
            .expect("read a line")
    }

    /// Reads lines until one satisfies `pred`; panics at end of file.
    pub async fn until(&mut self, pred: impl Fn(&str) -> bool) -> String {
        loop {
            match self.next().await {
                Some(line) if pred(&line) => return line,
                Some(_) => {}
                None => panic!("end of output before the expected line"),
            }
        }
    }

    /// The rest of the output.
    pub async fn rest(&mut self) -> String {
        let mut text = String::new();
        while let Some(line) = self.next().await {
            text.push_str(&line);
            text.push('\n');
        }
        text
    }
}

/// The host directory of the instance whose init (or direct program) is
/// `pid` in the v1 `controller` hierarchy. The instance's path is the same
/// in every hierarchy; it is read from the memory one, as with namespaces
/// the init stays outside the freezer cgroup (only the program joins it).
pub fn cgroup_dir(pid: u32, controller: &str) -> Option<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == "memory")
            .then(|| path.to_string())
    })?;
    (path != "/").then(|| PathBuf::from(format!("/sys/fs/cgroup/{controller}{path}")))
}

/// Whether any process runs as `uid`.
pub fn processes_of_uid(uid: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let real = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next().map(str::to_string));
        if real.as_deref() == Some(uid.to_string().as_str()) {
            pids.push(pid);
        }
    }
    pids
}

/// A world-readable temporary directory with `files` (relative path,
/// contents).
pub fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for (path, contents) in files {
        let path = dir.path().join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
            std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        }
        std::fs::write(&path, contents).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    dir
}

//! Managed runtime environments: the runtime interface clients that Lambda's
//! managed runtimes ship, installed once under the data dir on first use
//! (`<data>/lambda/runtimes/{python,node}`), with their progress in the
//! server's log. Instances see them read-only at `/var/runtime`.
//!
//! - Python: the host's `python3` with `awslambdaric` and `boto3` (boto3 is
//!   part of Lambda's Python runtime), installed by pip into a folder that
//!   goes on `PYTHONPATH`.
//! - Node.js: the host's `node` with Stratus's own Runtime API client
//!   (`runtime/node/ric.mjs`, embedded in the binary). AWS's `aws-lambda-ric`
//!   needs a native build (cmake, autotools, a C++ toolchain) that a fresh
//!   machine lacks; the embedded client does the same job in plain Node and
//!   is held to the same tests.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::AsyncBufReadExt;
use tokio::sync::OnceCell;

/// Python packages of the managed Python environment.
const PYTHON_PACKAGES: &[&str] = &["awslambdaric", "boto3"];
/// Stratus's Runtime API client for Node.js.
pub const NODE_RIC: &str = include_str!("../runtime/node/ric.mjs");
/// Its file name inside the Node.js environment.
pub const NODE_RIC_FILE: &str = "ric.mjs";
/// Marker written last: an environment without it is incomplete.
const COMPLETE: &str = ".stratus-complete";

/// A ready environment.
#[derive(Debug, Clone)]
pub struct Env {
    /// The interpreter, as an absolute host path.
    pub interpreter: PathBuf,
    /// The folder with the runtime client (mounted at `/var/runtime`).
    pub dir: PathBuf,
    /// The interpreter's version, e.g. `3.11` or `v20.20.2`.
    pub version: String,
    /// Host folders the interpreter needs that the sandbox does not show by
    /// default (a Python under `/root/.pyenv`, say); bound read-only at the
    /// same path.
    pub extra_dirs: Vec<PathBuf>,
}

/// The installation prefix of an interpreter outside the system folders
/// that every sandbox sees (`/usr`, `/bin`, `/lib`, ...), if any.
fn outside_system(prefix: &Path) -> Vec<PathBuf> {
    let system = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc"];
    if system.iter().any(|s| prefix.starts_with(s)) || prefix.as_os_str().is_empty() {
        Vec::new()
    } else {
        vec![prefix.to_path_buf()]
    }
}

/// The managed environments of one server.
pub struct Environments {
    root: PathBuf,
    python: OnceCell<Env>,
    node: OnceCell<Env>,
}

impl Environments {
    pub fn new(root: PathBuf) -> Environments {
        Environments {
            root,
            python: OnceCell::new(),
            node: OnceCell::new(),
        }
    }

    /// The Python environment, installing it on first use.
    pub async fn python(&self) -> Result<&Env, String> {
        self.python
            .get_or_try_init(|| async {
                let (interpreter, version, prefix) = probe(
                    "python3",
                    &[
                        "-c",
                        "import sys; print(sys.executable); print('%d.%d' % sys.version_info[:2]); print(sys.base_prefix)",
                    ],
                )
                .await?;
                let dir = self.root.join("python");
                if !dir.join(COMPLETE).exists() {
                    let mut args: Vec<String> = [
                        "-m",
                        "pip",
                        "install",
                        "--disable-pip-version-check",
                        "--no-warn-conflicts",
                        "--no-input",
                        "--progress-bar",
                        "off",
                        "--target",
                    ]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                    args.push(String::new()); // the staging folder, filled in by install
                    args.extend(PYTHON_PACKAGES.iter().map(|s| s.to_string()));
                    install(&self.root, "python", &interpreter, args).await?;
                }
                Ok(Env {
                    interpreter,
                    dir,
                    version,
                    extra_dirs: outside_system(&prefix),
                })
            })
            .await
    }

    /// The Node.js environment, installing it on first use.
    pub async fn node(&self) -> Result<&Env, String> {
        self.node
            .get_or_try_init(|| async {
                let (interpreter, version, prefix) = probe(
                    "node",
                    &[
                        "-e",
                        "console.log(process.execPath); console.log(process.version); console.log(require('path').dirname(require('path').dirname(process.execPath)))",
                    ],
                )
                .await?;
                // One folder per client version, so an upgraded binary never
                // runs an old client.
                let digest = {
                    use std::hash::{Hash, Hasher};
                    let mut hasher = std::collections::hash_map::DefaultHasher::new();
                    NODE_RIC.hash(&mut hasher);
                    hasher.finish()
                };
                let dir = self.root.join(format!("node-{digest:016x}"));
                if !dir.join(COMPLETE).exists() {
                    write_node_client(&self.root, &dir)?;
                }
                Ok(Env {
                    interpreter,
                    dir,
                    version,
                    extra_dirs: outside_system(&prefix),
                })
            })
            .await
    }
}

/// Writes the Node.js client into `dir` through a staging folder.
fn write_node_client(root: &Path, dir: &Path) -> Result<(), String> {
    let staging = root.join(format!(
        ".node-staging-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let result = std::fs::create_dir_all(&staging)
        .and_then(|()| std::fs::write(staging.join(NODE_RIC_FILE), NODE_RIC))
        .and_then(|()| std::fs::write(staging.join(COMPLETE), b""))
        .and_then(|()| match std::fs::rename(&staging, dir) {
            // Another server sharing the folder won the race.
            Err(_) if dir.join(COMPLETE).exists() => Ok(()),
            other => other,
        });
    if staging.exists() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result.map_err(|e| {
        format!(
            "could not write the Node.js runtime client into {}: {e}",
            dir.display()
        )
    })
}

/// Runs `program args` and returns its first three output lines: the real
/// interpreter path (past shims such as pyenv's), its version and its
/// installation prefix.
async fn probe(program: &str, args: &[&str]) -> Result<(PathBuf, String, PathBuf), String> {
    let output = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("`{program}` is needed for this runtime but could not be run: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`{program}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    match (lines.next(), lines.next(), lines.next()) {
        (Some(path), Some(version), Some(prefix)) if Path::new(path.trim()).is_absolute() => Ok((
            PathBuf::from(path.trim()),
            version.trim().to_string(),
            PathBuf::from(prefix.trim()),
        )),
        _ => Err(format!("`{program}` printed an unexpected answer: {text}")),
    }
}

/// Installs into `<root>/<name>` through a staging folder, logging each line
/// of the installer's output. The empty argument is replaced by the staging
/// folder.
async fn install(root: &Path, name: &str, program: &Path, args: Vec<String>) -> Result<(), String> {
    std::fs::create_dir_all(root)
        .map_err(|e| format!("could not create {}: {e}", root.display()))?;
    // Servers may share the environments folder (`--runtimes-dir`): one
    // installs, the others wait and find it complete.
    let lock_path = root.join(format!(".{name}.lock"));
    let lock = tokio::task::spawn_blocking(move || lock_file(&lock_path))
        .await
        .map_err(|e| format!("lock task failed: {e}"))??;
    let dest = root.join(name);
    if dest.join(COMPLETE).exists() {
        drop(lock);
        return Ok(());
    }
    let staging = root.join(format!(".{name}-staging"));
    for stale in [&staging, &dest] {
        if stale.exists() {
            std::fs::remove_dir_all(stale)
                .map_err(|e| format!("could not clear {}: {e}", stale.display()))?;
        }
    }
    std::fs::create_dir_all(&staging)
        .map_err(|e| format!("could not create {}: {e}", staging.display()))?;
    let args: Vec<String> = args
        .into_iter()
        .map(|a| {
            if a.is_empty() {
                staging.display().to_string()
            } else {
                a
            }
        })
        .collect();
    tracing::info!(runtime = name, command = %format!("{} {}", program.display(), args.join(" ")), "installing the managed runtime environment (first use)");
    let started = std::time::Instant::now();
    let mut child = tokio::process::Command::new(program)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("could not run {}: {e}", program.display()))?;
    let mut tail: Vec<String> = Vec::new();
    let stdout = child.stdout.take().map(tokio::io::BufReader::new);
    let stderr = child.stderr.take().map(tokio::io::BufReader::new);
    let mut out_lines = stdout.map(|r| r.lines());
    let mut err_lines = stderr.map(|r| r.lines());
    loop {
        let line = tokio::select! {
            Some(line) = async { match out_lines.as_mut() { Some(l) => l.next_line().await.ok().flatten(), None => None } } => line,
            Some(line) = async { match err_lines.as_mut() { Some(l) => l.next_line().await.ok().flatten(), None => None } } => line,
            else => break,
        };
        tracing::info!(runtime = name, "{line}");
        tail.push(line);
        if tail.len() > 20 {
            tail.remove(0);
        }
    }
    let status = child
        .wait()
        .await
        .map_err(|e| format!("installer failed: {e}"))?;
    if !status.success() {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(format!(
            "installing the {name} runtime environment failed ({status}): {}",
            tail.join("\n")
        ));
    }
    std::fs::write(staging.join(COMPLETE), b"")
        .and_then(|()| std::fs::rename(&staging, &dest))
        .map_err(|e| format!("could not finish {}: {e}", dest.display()))?;
    tracing::info!(
        runtime = name,
        seconds = started.elapsed().as_secs_f64(),
        "managed runtime environment ready"
    );
    drop(lock);
    Ok(())
}

/// Takes an exclusive `flock` on `path` (released when the file is closed).
fn lock_file(path: &Path) -> Result<std::fs::File, String> {
    use std::os::fd::AsRawFd;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| format!("could not open {}: {e}", path.display()))?;
    loop {
        // SAFETY: flock on a file descriptor we own.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc == 0 {
            return Ok(file);
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("could not lock {}: {error}", path.display()));
        }
    }
}

//! Durable files: written whole or not at all, and on disk when the write
//! returns. The store writes its artifacts and token this way, and the
//! runtimes their node-local caches (compiled wasm).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Names of temporary files start with this; [`sweep_temp_files`] removes
/// those a crash left behind.
pub const TEMP_PREFIX: &str = ".tmp-";

/// Temporary files older than this are a crashed writer's.
const TEMP_MAX_AGE: Duration = Duration::from_secs(600);

/// Makes temporary names unique within the process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh temporary path next to `path`.
pub fn temp_path(path: &Path) -> PathBuf {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{TEMP_PREFIX}{}-{n}-{name}", std::process::id()))
}

/// Creates a new file with mode 0600, writes `bytes` and fsyncs it.
pub fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Fsyncs a directory, so that renames and creations in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir).and_then(|d| d.sync_all())
}

/// Writes `bytes` to `path` atomically and durably: a temporary file in
/// the same directory, fsync, rename over `path`, fsync of the directory.
/// Readers see the old content or the new, never a part. The parent
/// directory must exist.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let parent = path
        .parent()
        .filter(|_| path.file_name().is_some())
        .ok_or_else(|| io::Error::other(format!("{} is not a file path", path.display())))?;
    let tmp = temp_path(path);
    if let Err(e) = write_synced(&tmp, bytes) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(parent)
}

/// Removes the temporary files a crashed writer left in `dir` (not
/// recursively). Young ones are spared: they may belong to a writer still
/// running. Returns the paths it could not remove, with why.
pub fn sweep_temp_files(dir: &Path) -> Vec<(PathBuf, io::Error)> {
    let mut failed = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return failed;
    };
    for entry in entries.flatten() {
        let is_temp = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(TEMP_PREFIX));
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > TEMP_MAX_AGE);
        if is_temp && old {
            let path = entry.path();
            if let Err(e) = fs::remove_file(&path) {
                failed.push((path, e));
            }
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("stratus-durable-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("a.bin");
        write_atomic(&path, b"one").expect("first write");
        write_atomic(&path, b"two").expect("second write");
        assert_eq!(fs::read(&path).expect("read"), b"two");
        let names: Vec<String> = fs::read_dir(&dir)
            .expect("list")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["a.bin".to_string()]);
        fs::remove_dir_all(&dir).expect("clean up");
    }
}

//! A node's own cache: what each node makes for itself from the shared
//! state (compiled wasm, unpacked task directories), kept apart from the
//! backends. Losing it costs a recompile, never data: a runtime that finds
//! no compiled form says so ([`crate::RuntimeError::NotPrepared`]) and the
//! artifact is read again from the function backend.
//!
//! ```text
//! <cache>/compiled/<engine_key>/<sha256>.cwasm   AOT-compiled components
//! <cache>/lambda/                                the process runtime's own
//! ```

use std::io;
use std::path::{Path, PathBuf};

/// The node-local cache directory. Cheap to clone.
#[derive(Debug, Clone)]
pub struct NodeCache {
    root: PathBuf,
}

impl NodeCache {
    /// The cache rooted at `root` (created if missing; temporary files a
    /// crash left in it or in `compiled/*/` are removed).
    pub fn open(root: &Path) -> io::Result<NodeCache> {
        std::fs::create_dir_all(root)?;
        let root = std::path::absolute(root)?;
        let mut dirs = vec![root.clone()];
        if let Ok(engines) = std::fs::read_dir(root.join("compiled")) {
            dirs.extend(
                engines
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
        }
        for dir in dirs {
            for (path, error) in stratus_core::durable::sweep_temp_files(&dir) {
                tracing::warn!(path = %path.display(), %error, "cannot remove a stale temporary file");
            }
        }
        Ok(NodeCache { root })
    }

    /// The cache's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the compiled form of an artifact for one engine configuration
    /// lives, `<root>/compiled/<engine_key>/<sha256>.cwasm`; creates its
    /// directory. `InvalidInput` unless `sha256` is 64 lower-case hex
    /// digits and `engine_key` 1 to 128 of `[A-Za-z0-9._-]`, not starting
    /// with a dot.
    pub fn compiled_path(&self, engine_key: &str, sha256: &str) -> io::Result<PathBuf> {
        let sha_ok = crate::backend::validate_sha256(sha256).is_ok();
        let key_ok = !engine_key.is_empty()
            && engine_key.len() <= 128
            && !engine_key.starts_with('.')
            && engine_key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !sha_ok || !key_ok {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no compiled form for engine {engine_key:?} and artifact {sha256:?}"),
            ));
        }
        let dir = self.root.join("compiled").join(engine_key);
        if !dir.is_dir() {
            std::fs::create_dir_all(&dir)?;
        }
        Ok(dir.join(format!("{sha256}.cwasm")))
    }

    /// Writes `bytes` to `path` (inside the cache) atomically and durably.
    pub fn write(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        if !path.starts_with(&self.root) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is outside the cache", path.display()),
            ));
        }
        stratus_core::durable::write_atomic(path, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn compiled_forms_live_under_their_engine_key() {
        let dir = std::env::temp_dir().join(format!("stratus-cache-{}", std::process::id()));
        let cache = NodeCache::open(&dir).expect("open");
        let path = cache.compiled_path("wasmtime-48", SHA).expect("path");
        assert_eq!(
            path,
            cache
                .root()
                .join("compiled/wasmtime-48")
                .join(format!("{SHA}.cwasm"))
        );
        cache.write(&path, b"aot").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"aot");
        for (key, sha) in [("", SHA), (".x", SHA), ("a/b", SHA), ("k", "nothex")] {
            let refused = cache.compiled_path(key, sha).expect_err("refused");
            assert_eq!(
                refused.kind(),
                io::ErrorKind::InvalidInput,
                "{key:?} {sha:?}"
            );
        }
        assert!(cache.write(Path::new("/tmp/elsewhere"), b"x").is_err());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}

//! Files of the data directory: the bearer token, content-addressed
//! artifacts, and atomic writes.

use std::collections::BTreeSet;
use std::fs;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use rand::TryRngCore;
use rusqlite::OptionalExtension;
use sha2::{Digest, Sha256};

use crate::store::error::{IoContext, SqlContext};
use crate::store::{Store, StoreError};

/// Uploaded artifacts, `<sha256>.wasm`.
pub(crate) const ARTIFACTS_DIR: &str = "artifacts";
/// The bearer token of the control API.
const TOKEN_FILE: &str = "token";
/// Longest accepted token, in bytes.
const MAX_TOKEN_LEN: usize = 1024;

impl Store {
    /// Returns the control API's bearer token from `<dir>/token`, generating
    /// one on first start: 32 random bytes from the OS, hex-encoded.
    ///
    /// A new token is written to a temporary file created with mode 0600 and
    /// then hard-linked to `token`, so the file never exists with looser
    /// permissions or partial content, and two processes starting at once
    /// agree on one token. An existing token file whose mode grants any
    /// access to group or others is tightened to 0600 (with a warning)
    /// rather than rejected: the secret may already have leaked, but refusing
    /// to start would not help. A token file that is empty or holds anything
    /// but printable ASCII is `Corrupt`. Surrounding whitespace is ignored,
    /// so an operator may write their own token.
    pub fn load_or_create_token(&self) -> Result<String, StoreError> {
        let path = self.data_dir().join(TOKEN_FILE);
        if let Some(token) = read_token(&path)? {
            return Ok(token);
        }
        let mut raw = [0u8; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut raw)
            .map_err(|e| StoreError::Io {
                context: "generating token".into(),
                source: std::io::Error::other(e),
            })?;
        let token = hex::encode(raw);
        let tmp = temp_path(&path);
        write_synced(&tmp, format!("{token}\n").as_bytes())?;
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                sync_dir(self.data_dir())?;
                tracing::info!(path = %path.display(), "generated control API token");
                Ok(token)
            }
            // Another process created it first; use theirs.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => read_token(&path)?.ok_or_else(|| {
                StoreError::Corrupt(format!("token file {} vanished", path.display()))
            }),
            Err(e) => Err(e).io(|| format!("creating {}", path.display())),
        }
    }

    /// Where the artifact with this SHA-256 (64 lower-case hex digits) lives:
    /// `<dir>/artifacts/<sha256>.wasm`. `Invalid` for a malformed hash.
    pub fn artifact_path(&self, sha256: &str) -> Result<PathBuf, StoreError> {
        validate_sha256(sha256)?;
        Ok(self.artifact_path_unchecked(sha256))
    }

    pub(crate) fn artifact_path_unchecked(&self, sha256: &str) -> PathBuf {
        self.data_dir()
            .join(ARTIFACTS_DIR)
            .join(format!("{sha256}.wasm"))
    }

    /// The artifact's bytes, if stored. `Invalid` for a malformed hash.
    pub fn read_artifact(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.artifact_path(sha256)?;
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).io(|| format!("reading {}", path.display())),
        }
    }

    /// Whether the artifact is stored. False for a malformed hash.
    pub fn has_artifact(&self, sha256: &str) -> bool {
        validate_sha256(sha256).is_ok() && self.artifact_path_unchecked(sha256).is_file()
    }

    /// Stores an artifact under its SHA-256 and returns its path. The bytes
    /// must hash to `sha256` (else `Invalid`, naming both hashes). The file is
    /// written atomically and durably; storing an artifact that exists is a
    /// no-op.
    pub fn put_artifact(&self, sha256: &str, bytes: &[u8]) -> Result<PathBuf, StoreError> {
        validate_sha256(sha256)?;
        let actual = hex::encode(Sha256::digest(bytes));
        if actual != sha256 {
            return Err(StoreError::Invalid(format!(
                "artifact hash mismatch: expected {sha256}, content hashes to {actual}"
            )));
        }
        let path = self.artifact_path_unchecked(sha256);
        if path.is_file() {
            tracing::debug!(artifact = sha256, "artifact already stored");
            return Ok(path);
        }
        self.write_atomic(&path, bytes)?;
        tracing::info!(artifact = sha256, size = bytes.len(), "stored artifact");
        Ok(path)
    }

    /// Writes `bytes` to `path` atomically and durably: a temporary file in
    /// the same directory, fsync, rename over `path`, fsync of the directory.
    /// Readers see the old content or the new, never a part. `path` must lie
    /// inside the data directory (e.g. an artifact's) and its
    /// parent must exist; else `Invalid`.
    pub fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let plain = path
            .components()
            .all(|c| !matches!(c, Component::ParentDir | Component::CurDir));
        let inside = path
            .parent()
            .is_some_and(|p| plain && path.file_name().is_some() && p.starts_with(self.data_dir()));
        if !inside {
            return Err(StoreError::Invalid(format!(
                "refusing to write {}: not a file inside the data directory",
                path.display()
            )));
        }
        stratus_core::durable::write_atomic(path, bytes)
            .io(|| format!("writing {}", path.display()))
    }

    /// SHA-256s of stored artifacts that no version of any function
    /// references, sorted. Deletes nothing.
    ///
    /// An artifact uploaded for a deploy that has not happened yet is also
    /// unreferenced: a collector should spare files younger than a grace
    /// period (their mtime) and delete through [`Store::remove_artifact`],
    /// which re-checks references under the write lock.
    pub fn unreferenced_artifacts(&self) -> Result<Vec<String>, StoreError> {
        // List files before reading references: an artifact a concurrent
        // deploy starts to reference is then seen as referenced.
        let dir = self.data_dir().join(ARTIFACTS_DIR);
        let mut on_disk = BTreeSet::new();
        for entry in fs::read_dir(&dir).io(|| format!("listing {}", dir.display()))? {
            let entry = entry.io(|| format!("listing {}", dir.display()))?;
            let name = entry.file_name();
            let Some(sha) = name.to_str().and_then(|n| n.strip_suffix(".wasm")) else {
                continue;
            };
            if validate_sha256(sha).is_ok() {
                on_disk.insert(sha.to_owned());
            }
        }
        let referenced: BTreeSet<String> = self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT DISTINCT artifact FROM versions")
                .sql("listing referenced artifacts")?;
            let rows = stmt
                .query_map([], |row| row.get::<_, String>(0))
                .sql("listing referenced artifacts")?;
            rows.collect::<Result<_, _>>()
                .sql("listing referenced artifacts")
        })?;
        Ok(on_disk.difference(&referenced).cloned().collect())
    }

    /// Deletes an artifact, if no version
    /// references it (else `Conflict`). Returns whether the artifact existed.
    /// Holds the write lock, so no deploy can start referencing it meanwhile.
    pub fn remove_artifact(&self, sha256: &str) -> Result<bool, StoreError> {
        validate_sha256(sha256)?;
        let conn = self.writer();
        let user: Option<String> = conn
            .query_row(
                "SELECT name FROM versions WHERE artifact = ?1 LIMIT 1",
                [sha256],
                |row| row.get(0),
            )
            .optional()
            .sql("checking artifact references")?;
        if let Some(function) = user {
            return Err(StoreError::Conflict(format!(
                "artifact {sha256} is still used by function {function:?}"
            )));
        }
        let existed = remove_if_exists(&self.artifact_path_unchecked(sha256))?;
        sync_dir(&self.data_dir().join(ARTIFACTS_DIR))?;
        drop(conn);
        if existed {
            tracing::info!(artifact = sha256, "removed artifact");
        }
        Ok(existed)
    }
}

pub(crate) use stratus_engine::backend::validate_sha256;

/// Reads and validates the token file; `None` if it does not exist.
fn read_token(path: &Path) -> Result<Option<String>, StoreError> {
    let content = match fs::read_to_string(path) {
        Ok(content) => content,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) if e.kind() == ErrorKind::InvalidData => {
            return Err(StoreError::Corrupt(format!(
                "token file {} is not UTF-8",
                path.display()
            )));
        }
        Err(e) => return Err(e).io(|| format!("reading {}", path.display())),
    };
    let token = content.trim();
    if token.is_empty()
        || token.len() > MAX_TOKEN_LEN
        || !token.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(StoreError::Corrupt(format!(
            "token file {} must hold one token of 1 to {MAX_TOKEN_LEN} printable ASCII characters",
            path.display()
        )));
    }
    tighten_mode(path)?;
    Ok(Some(token.to_owned()))
}

/// Makes a secret file readable by its owner only.
#[cfg(unix)]
fn tighten_mode(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path)
        .io(|| format!("inspecting {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{:o}", mode & 0o777),
            "token file was readable by others; setting mode 0600"
        );
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .io(|| format!("setting mode of {}", path.display()))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn tighten_mode(_path: &Path) -> Result<(), StoreError> {
    Ok(())
}

use stratus_core::durable::temp_path;

/// Creates a new file with mode 0600, writes `bytes` and fsyncs it.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    stratus_core::durable::write_synced(path, bytes).io(|| format!("writing {}", path.display()))
}

/// Fsyncs a directory so that renames and creations in it are durable.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    stratus_core::durable::sync_dir(dir).io(|| format!("syncing directory {}", dir.display()))
}

/// Removes a file; `false` if it was not there.
fn remove_if_exists(path: &Path) -> Result<bool, StoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).io(|| format!("removing {}", path.display())),
    }
}

/// Creates a directory readable by its owner only, if it does not exist.
pub(crate) fn create_dir_private(dir: &Path) -> Result<(), StoreError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .io(|| format!("creating {}", dir.display()))
}

/// Removes temporary files a crashed writer left behind in the data
/// directory and `artifacts/`. Young ones are spared: they may
/// belong to a writer still running. Failures are logged, not returned.
pub(crate) fn sweep_temp_files(data_dir: &Path) {
    for dir in [data_dir.to_path_buf(), data_dir.join(ARTIFACTS_DIR)] {
        for (path, error) in stratus_core::durable::sweep_temp_files(&dir) {
            tracing::warn!(path = %path.display(), %error, "cannot remove stale temporary file");
        }
    }
}

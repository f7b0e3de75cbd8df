//! The store of access keys for SigV4: the admin key and per-function keys.
//!
//! - The admin key (`AKIA` + 16 upper-case alphanumerics, a 40-character
//!   secret) is created on first start and also written to
//!   `<data_dir>/credentials` (mode 0600, AWS's shared-credentials format)
//!   for the CLI, as the token is.
//! - Each function gets one temporary-style key (`ASIA...` with a session
//!   token), created the first time it is asked for and reused after; it is
//!   removed with the function (foreign key, `ON DELETE CASCADE`).

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::Path;

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use crate::store::error::{IoContext, SqlContext};
use crate::store::{Store, StoreError, now_ms};
use stratus_engine::records::{AccessKey, CREDENTIALS_FILE, KeyKind};

/// The schema migration that creates this module's tables.
pub(crate) const MIGRATION: &str = r#"
CREATE TABLE access_keys (
    key_id        TEXT PRIMARY KEY NOT NULL,
    secret        TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('admin', 'function')),
    function      TEXT UNIQUE REFERENCES functions (name) ON DELETE CASCADE,
    session_token TEXT,
    created_ms    INTEGER NOT NULL,
    CHECK ((kind = 'function') = (function IS NOT NULL))
) WITHOUT ROWID;
CREATE UNIQUE INDEX access_keys_one_admin ON access_keys (kind) WHERE kind = 'admin';
"#;

fn new_key(kind: KeyKind, function: Option<&str>) -> Result<AccessKey, StoreError> {
    Ok(AccessKey::generate(kind, function, now_ms()))
}

const COLUMNS: &str = "key_id, secret, kind, function, session_token, created_ms";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(AccessKey, String)> {
    let kind: String = row.get(2)?;
    Ok((
        AccessKey {
            key_id: row.get(0)?,
            secret: row.get(1)?,
            kind: KeyKind::Admin,
            function: row.get(3)?,
            session_token: row.get(4)?,
            created_ms: row.get(5)?,
        },
        kind,
    ))
}

fn finish((mut key, kind): (AccessKey, String)) -> Result<AccessKey, StoreError> {
    key.kind = match kind.as_str() {
        "admin" => KeyKind::Admin,
        "function" => KeyKind::Function,
        other => {
            return Err(StoreError::Corrupt(format!(
                "access key {} has unknown kind {other:?}",
                key.key_id
            )));
        }
    };
    Ok(key)
}

impl Store {
    /// The admin key, created on first call; `<data_dir>/credentials` is
    /// (re)written when missing or stale.
    pub fn load_or_create_admin_key(&self) -> Result<AccessKey, StoreError> {
        let key = self.get_or_create(KeyKind::Admin, None)?;
        write_credentials_file(self.data_dir(), &key)?;
        Ok(key)
    }

    /// The function's own key, created on first call and reused after.
    /// `NotFound` if no such function is stored.
    pub fn function_key(&self, function: &str) -> Result<AccessKey, StoreError> {
        if let Some(key) = self.read(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM access_keys WHERE function = ?1"
            ))
            .and_then(|mut stmt| stmt.query_row([function], from_row).optional())
            .sql("reading function key")?
            .map(finish)
            .transpose()
        })? {
            return Ok(key);
        }
        self.get_or_create(KeyKind::Function, Some(function))
    }

    /// The key with this id, if any.
    pub fn access_key(&self, key_id: &str) -> Result<Option<AccessKey>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM access_keys WHERE key_id = ?1"
            ))
            .and_then(|mut stmt| stmt.query_row([key_id], from_row).optional())
            .sql("reading access key")?
            .map(finish)
            .transpose()
        })
    }

    fn get_or_create(
        &self,
        kind: KeyKind,
        function: Option<&str>,
    ) -> Result<AccessKey, StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting access key creation")?;
        let existing = match function {
            Some(name) => tx
                .query_row(
                    &format!("SELECT {COLUMNS} FROM access_keys WHERE function = ?1"),
                    [name],
                    from_row,
                )
                .optional(),
            None => tx
                .query_row(
                    &format!("SELECT {COLUMNS} FROM access_keys WHERE kind = 'admin'"),
                    [],
                    from_row,
                )
                .optional(),
        }
        .sql("reading access key")?;
        if let Some(existing) = existing {
            return finish(existing);
        }
        if let Some(name) = function {
            let exists: bool = tx
                .query_row(
                    "SELECT 1 FROM functions WHERE name = ?1",
                    [name],
                    |_| Ok(()),
                )
                .optional()
                .sql("checking the function of a key")?
                .is_some();
            if !exists {
                return Err(StoreError::NotFound(format!(
                    "function `{name}` does not exist"
                )));
            }
        }
        let key = new_key(kind, function)?;
        tx.execute(
            &format!("INSERT INTO access_keys ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
            params![
                key.key_id,
                key.secret,
                kind.as_str(),
                key.function,
                key.session_token,
                key.created_ms
            ],
        )
        .sql("inserting access key")?;
        tx.commit().sql("committing access key")?;
        tracing::info!(key_id = %key.key_id, kind = kind.as_str(), function, "created access key");
        Ok(key)
    }
}

/// The credentials file's text.
fn credentials_text(key: &AccessKey) -> String {
    format!(
        "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        key.key_id, key.secret
    )
}

/// Writes `<dir>/credentials` (mode 0600, atomically) unless it already
/// holds this key.
fn write_credentials_file(dir: &Path, key: &AccessKey) -> Result<(), StoreError> {
    let path = dir.join(CREDENTIALS_FILE);
    let text = credentials_text(key);
    match fs::read_to_string(&path) {
        Ok(current) if current == text => return Ok(()),
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e).io(|| format!("reading {}", path.display())),
    }
    let tmp = dir.join(format!(".tmp-{}-credentials", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .io(|| format!("creating {}", tmp.display()))?;
    file.write_all(text.as_bytes())
        .io(|| format!("writing {}", tmp.display()))?;
    file.sync_all()
        .io(|| format!("syncing {}", tmp.display()))?;
    drop(file);
    fs::rename(&tmp, &path).io(|| format!("renaming into {}", path.display()))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .io(|| format!("syncing directory {}", dir.display()))?;
    tracing::info!(path = %path.display(), "wrote the admin credentials");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shapes() {
        let admin = new_key(KeyKind::Admin, None).expect("key");
        assert!(admin.key_id.starts_with("AKIA") && admin.key_id.len() == 20);
        assert!(
            admin.key_id[4..]
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        );
        assert_eq!(admin.secret.len(), 40);
        assert!(admin.session_token.is_none());
        let function = new_key(KeyKind::Function, Some("f")).expect("key");
        assert!(function.key_id.starts_with("ASIA") && function.key_id.len() == 20);
        assert!(function.session_token.is_some());
        assert_ne!(admin.secret, function.secret);
    }

    #[test]
    fn admin_key_is_created_once_and_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let first = store.load_or_create_admin_key().expect("admin key");
        let second = store.load_or_create_admin_key().expect("admin key");
        assert_eq!(first, second);
        let text = fs::read_to_string(dir.path().join(CREDENTIALS_FILE)).expect("file");
        assert!(text.contains(&first.key_id) && text.contains(&first.secret));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(CREDENTIALS_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        drop(store);
        let reopened = Store::open(dir.path()).expect("open");
        assert_eq!(reopened.load_or_create_admin_key().expect("admin"), first);
        assert_eq!(
            reopened.access_key(&first.key_id).expect("read"),
            Some(first)
        );
        assert_eq!(reopened.access_key("AKIANOPE").expect("read"), None);
        assert!(matches!(
            reopened.function_key("missing"),
            Err(StoreError::NotFound(_))
        ));
    }
}

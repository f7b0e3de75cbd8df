//! Artifacts, compiled forms, atomic writes, the token and the schema guard.

use std::os::unix::fs::PermissionsExt;

use stratus_store_sqlite::{Store, StoreError};

use super::{sha, store};

#[test]
fn put_artifact_verifies_hash_and_is_idempotent() {
    let (dir, store) = store();
    let bytes = b"\0asm component bytes";
    let good = sha(bytes);
    let wrong = sha(b"something else");

    let err = store.put_artifact(&wrong, bytes).unwrap_err();
    match &err {
        StoreError::Invalid(msg) => assert!(msg.contains(&wrong) && msg.contains(&good), "{msg}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert!(!store.has_artifact(&wrong));

    let path = store.put_artifact(&good, bytes).unwrap();
    assert_eq!(
        path,
        dir.path().join("artifacts").join(format!("{good}.wasm"))
    );
    assert_eq!(store.artifact_path(&good).unwrap(), path);
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert!(store.has_artifact(&good));
    assert_eq!(store.put_artifact(&good, bytes).unwrap(), path);

    for bad in [
        "",
        "abc",
        &good.to_uppercase(),
        &format!("{}/", &good[..63]),
        "../../etc/passwd",
    ] {
        assert!(
            matches!(store.artifact_path(bad), Err(StoreError::Invalid(_))),
            "{bad:?} accepted"
        );
        assert!(!store.has_artifact(bad));
        assert!(matches!(
            store.put_artifact(bad, bytes),
            Err(StoreError::Invalid(_))
        ));
    }
    // No temporary files left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path().join("artifacts"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn write_atomic_stays_inside_the_data_directory() {
    let (dir, store) = store();
    let path = dir.path().join("artifacts").join("note");
    store.write_atomic(&path, b"first").unwrap();
    store.write_atomic(&path, b"second").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"second");

    let outside = tempfile::tempdir().unwrap();
    for bad in [
        outside.path().join("x"),
        dir.path().join("artifacts/../../escape"),
        dir.path().to_path_buf(),
    ] {
        assert!(
            matches!(store.write_atomic(&bad, b"x"), Err(StoreError::Invalid(_))),
            "{bad:?} accepted"
        );
    }
    assert!(!outside.path().join("x").exists());
}

#[test]
fn token_is_private_and_stable() {
    let dir = tempfile::tempdir().unwrap();
    let token_path = dir.path().join("token");
    let token = {
        let store = Store::open(dir.path()).unwrap();
        let token = store.load_or_create_token().unwrap();
        assert_eq!(store.load_or_create_token().unwrap(), token);
        token
    };
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    let mode = std::fs::metadata(&token_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.load_or_create_token().unwrap(), token);

    // Loose permissions are tightened.
    std::fs::set_permissions(&token_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(store.load_or_create_token().unwrap(), token);
    let mode = std::fs::metadata(&token_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // An operator's own token is taken as is, whitespace trimmed.
    std::fs::write(&token_path, "  my-own-token\n").unwrap();
    assert_eq!(store.load_or_create_token().unwrap(), "my-own-token");

    std::fs::write(&token_path, "\n").unwrap();
    assert!(matches!(
        store.load_or_create_token(),
        Err(StoreError::Corrupt(_))
    ));
    std::fs::write(&token_path, "two words").unwrap();
    assert!(matches!(
        store.load_or_create_token(),
        Err(StoreError::Corrupt(_))
    ));

    // Two stores get different tokens.
    let (_other_dir, other) = super::store();
    assert_ne!(other.load_or_create_token().unwrap(), token);
}

#[test]
fn layout_and_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/data");
    drop(Store::open(&data).unwrap());
    assert!(data.join("stratus.db").is_file());
    assert!(data.join("artifacts").is_dir());
    assert!(
        !data.join("compiled").exists(),
        "compiled forms are the node cache's"
    );
    let mode = std::fs::metadata(&data).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);

    let conn = rusqlite::Connection::open(data.join("stratus.db")).unwrap();
    let journal: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    conn.execute_batch("PRAGMA user_version = 999").unwrap();
    drop(conn);
    let err = Store::open(&data).unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt(ref m) if m.contains("999")),
        "{err:?}"
    );
}

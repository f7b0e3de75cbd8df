//! Functions, versions and deploys.

use stratus_engine::records::{DeployResult, DeployStatus};
use stratus_store_sqlite::{Store, StoreError};

use super::{config, store, upload};

fn result(name: &str, status: DeployStatus, version: u64) -> DeployResult {
    DeployResult {
        name: name.to_owned(),
        status,
        version,
    }
}

#[test]
fn deploy_creates_keeps_updates_and_removes() {
    let (_dir, store) = store();
    let art = upload(&store, b"wasm one");
    let a = config("alpha", &art);
    let b = config("beta", &art);

    let created = store.deploy("shop", &[a.clone(), b.clone()]).unwrap();
    assert_eq!(
        created,
        vec![
            result("alpha", DeployStatus::Created, 1),
            result("beta", DeployStatus::Created, 1),
        ]
    );

    let same = store.deploy("shop", &[a.clone(), b.clone()]).unwrap();
    assert_eq!(
        same,
        vec![
            result("alpha", DeployStatus::Unchanged, 1),
            result("beta", DeployStatus::Unchanged, 1),
        ]
    );

    let mut a2 = a.clone();
    a2.memory_size = 256;
    a2.timeout = 0.1;
    let updated = store.deploy("shop", &[a2.clone(), b.clone()]).unwrap();
    assert_eq!(
        updated,
        vec![
            result("alpha", DeployStatus::Updated, 2),
            result("beta", DeployStatus::Unchanged, 1),
        ]
    );
    // Deploying the updated config again changes nothing.
    let again = store.deploy("shop", &[a2.clone(), b.clone()]).unwrap();
    assert_eq!(again[0], result("alpha", DeployStatus::Unchanged, 2));

    let removed = store.deploy("shop", std::slice::from_ref(&a2)).unwrap();
    assert_eq!(
        removed,
        vec![
            result("alpha", DeployStatus::Unchanged, 2),
            result("beta", DeployStatus::Removed, 1),
        ]
    );
    assert_eq!(store.get_function("beta").unwrap(), None);

    let current = store.get_function("alpha").unwrap().expect("alpha exists");
    assert_eq!(current.version, 2);
    assert_eq!(current.service, "shop");
    assert_eq!(current.config, a2);
    assert!(current.created_ms <= current.updated_ms);
    let v1 = store.get_version("alpha", 1).unwrap().expect("v1 kept");
    assert_eq!((v1.version, &v1.config), (1, &a));
    assert_eq!(store.get_version("alpha", 3).unwrap(), None);
    assert_eq!(store.get_version("alpha", u64::MAX).unwrap(), None);

    // Serialized shapes other crates rely on.
    let json = serde_json::to_value(&removed[1]).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"name": "beta", "status": "removed", "version": 1})
    );
    let json = serde_json::to_value(&current).unwrap();
    assert!(json.get("createdMs").is_some() && json.get("updatedMs").is_some());
}

#[test]
fn conflict_across_services_changes_nothing() {
    let (_dir, store) = store();
    let art = upload(&store, b"wasm");
    store.deploy("billing", &[config("pay", &art)]).unwrap();
    store.deploy("web", &[config("home", &art)]).unwrap();
    let before = store.list_functions().unwrap();

    let mut home2 = config("home", &art);
    home2.memory_size = 512;
    let err = store
        .deploy("web", &[home2, config("new", &art), config("pay", &art)])
        .unwrap_err();
    match &err {
        StoreError::Conflict(msg) => {
            assert!(msg.contains("billing") && msg.contains("web"), "{msg}");
            assert!(msg.contains("pay"), "{msg}");
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(store.list_functions().unwrap(), before);
}

#[test]
fn deploy_rejects_bad_input_without_changes() {
    let (_dir, store) = store();
    let art = upload(&store, b"wasm");
    store.deploy("svc", &[config("one", &art)]).unwrap();
    let before = store.list_functions().unwrap();

    let missing = super::sha(b"never uploaded");
    let err = store
        .deploy("svc", &[config("two", &art), config("three", &missing)])
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound(ref m) if m.contains(&missing)),
        "{err:?}"
    );

    let err = store
        .deploy("svc", &[config("two", "NOT-A-HASH")])
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

    let err = store
        .deploy("svc", &[config("two", &art), config("two", &art)])
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

    let err = store.deploy("", &[config("two", &art)]).unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

    assert_eq!(store.list_functions().unwrap(), before);
}

#[test]
fn remove_function_and_service() {
    let (_dir, store) = store();
    let art = upload(&store, b"wasm");
    store
        .deploy("a", &[config("a1", &art), config("a2", &art)])
        .unwrap();
    store.deploy("b", &[config("b1", &art)]).unwrap();

    assert!(store.remove_function("a1").unwrap());
    assert!(!store.remove_function("a1").unwrap());
    assert_eq!(store.get_version("a1", 1).unwrap(), None);

    assert_eq!(store.remove_service("a").unwrap(), vec!["a2".to_owned()]);
    assert_eq!(store.remove_service("a").unwrap(), Vec::<String>::new());
    let names: Vec<_> = store
        .list_functions()
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, vec!["b1"]);

    // A removed name is free for any service and starts over at version 1.
    let created = store
        .deploy("b", &[config("b1", &art), config("a1", &art)])
        .unwrap();
    assert_eq!(created[1], result("a1", DeployStatus::Created, 1));
}

#[test]
fn list_is_sorted_and_state_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let art;
    let listed;
    {
        let store = Store::open(dir.path()).unwrap();
        art = upload(&store, b"wasm");
        store
            .deploy(
                "svc",
                &[
                    config("zeta", &art),
                    config("alpha", &art),
                    config("mid", &art),
                ],
            )
            .unwrap();
        let mut mid = config("mid", &art);
        mid.reserved_concurrency = Some(3);
        store
            .deploy("svc", &[config("zeta", &art), config("alpha", &art), mid])
            .unwrap();
        listed = store.list_functions().unwrap();
        let names: Vec<_> = listed.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["alpha", "mid", "zeta"]);
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.list_functions().unwrap(), listed);
    assert_eq!(store.get_function("mid").unwrap().unwrap().version, 2);
    assert!(store.has_artifact(&art));
    assert_eq!(store.data_dir(), dir.path());
}

#[test]
fn unreferenced_artifacts_and_removal() {
    let (_dir, store) = store();
    let used = upload(&store, b"used");
    let old = upload(&store, b"old");
    let loose = upload(&store, b"loose");
    store.deploy("svc", &[config("f", &old)]).unwrap();
    store.deploy("svc", &[config("f", &used)]).unwrap();

    // `old` is still referenced by version 1.
    assert_eq!(store.unreferenced_artifacts().unwrap(), vec![loose.clone()]);
    let err = store.remove_artifact(&old).unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    assert!(store.remove_artifact(&loose).unwrap());
    assert!(!store.has_artifact(&loose));
    assert!(!store.remove_artifact(&loose).unwrap());

    store.remove_function("f").unwrap();
    let mut expected = vec![used, old];
    expected.sort();
    assert_eq!(store.unreferenced_artifacts().unwrap(), expected);
}

#[test]
fn store_is_shared_across_threads() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<Store>();

    let (_dir, store) = store();
    let art = upload(&store, b"wasm");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            let art = art.clone();
            std::thread::spawn(move || {
                for i in 0..10 {
                    let mut c = config(&format!("t{t}"), &art);
                    c.memory_size = 128 + i;
                    store.deploy(&format!("svc{t}"), &[c]).unwrap();
                    store.list_functions().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let all = store.list_functions().unwrap();
    assert_eq!(all.len(), 4);
    assert!(all.iter().all(|f| f.version == 10));
}

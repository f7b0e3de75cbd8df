//! A process killed (SIGKILL) in the middle of deploying leaves the last
//! committed deployment intact.
//!
//! The parent test re-runs this test binary, filtered to itself, with
//! `STRATUS_STORE_CRASH_DIR` set; that child deploys in a loop until killed.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use stratus_core::FunctionConfig;
use stratus_engine::records::DeployStatus;
use stratus_store_sqlite::Store;

use super::{config, upload};

const DIR_VAR: &str = "STRATUS_STORE_CRASH_DIR";
const ROUND_VAR: &str = "STRATUS_STORE_CRASH_ROUND";
const FUNCTIONS: usize = 5;
/// What the child prints once it has committed a few deploys.
const READY: &str = "CRASH-CHILD-READY";

/// The deployment of generation `i` in `round`: every function carries the
/// generation in its environment; artifacts alternate; `extra` exists only
/// in even generations.
fn generation(round: u32, i: u64, artifacts: &[String; 2]) -> Vec<FunctionConfig> {
    let artifact = &artifacts[(i % 2) as usize];
    let mut configs: Vec<_> = (0..FUNCTIONS)
        .map(|j| {
            let mut c = config(&format!("f{j}"), artifact);
            c.environment.insert("GEN".into(), format!("{round}-{i}"));
            c
        })
        .collect();
    if i.is_multiple_of(2) {
        configs.push(config("extra", artifact));
    }
    configs
}

fn artifacts(store: &Store) -> [String; 2] {
    [
        upload(store, b"artifact even"),
        upload(store, b"artifact odd"),
    ]
}

/// The child's body: deploys in a loop until it is killed.
fn crash_child(dir: std::ffi::OsString) {
    let round: u32 = std::env::var(ROUND_VAR)
        .ok()
        .and_then(|r| r.parse().ok())
        .expect("round number");
    let store = Store::open(dir.as_ref()).expect("child opens store");
    let artifacts = artifacts(&store);
    for i in 0.. {
        store
            .deploy("svc", &generation(round, i, &artifacts))
            .expect("child deploys");
        if i == 2 {
            println!("{READY}");
        }
    }
}

#[test]
fn deploy_killed_midway_keeps_a_complete_version() {
    // The same test, re-run as the child process that gets killed.
    if let Some(dir) = std::env::var_os(DIR_VAR) {
        crash_child(dir);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut total_deploys = 0;
    for (round, delay_ms) in [(1u32, 15u64), (2, 40), (3, 90)] {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "store::crash::deploy_killed_midway_keeps_a_complete_version",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_VAR, dir.path())
            .env(ROUND_VAR, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // libtest prints "test crash::deploy_killed_... ... " before the marker,
        // on the same line. Read in a thread so that a stuck child fails the
        // test instead of hanging it.
        let stdout = child.stdout.take().unwrap();
        let (ready_tx, ready_rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.trim_end().ends_with(READY) {
                    let _ = ready_tx.send(());
                }
            }
        });
        if ready_rx.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child did not start deploying");
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();

        let store = Store::open(dir.path()).unwrap();
        let artifacts = artifacts(&store);
        let functions = store.list_functions().unwrap();
        let f0 = functions
            .iter()
            .find(|f| f.name == "f0")
            .expect("f0 exists");
        let gen_ = f0.config.environment["GEN"].clone();
        let (r, i) = gen_.split_once('-').unwrap();
        assert_eq!(
            r,
            round.to_string(),
            "last committed deploy is this round's"
        );
        let i: u64 = i.parse().unwrap();
        assert!(i >= 2, "the child had committed at least 3 deploys");

        // The whole deployment of generation i, nothing else.
        let expected = generation(round, i, &artifacts);
        let mut got: Vec<_> = functions.iter().map(|f| f.config.clone()).collect();
        let mut want = expected.clone();
        got.sort_by(|a, b| a.name.cmp(&b.name));
        want.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(got, want);

        // Every version up to the current one is complete and readable.
        for v in 1..=f0.version {
            let old = store
                .get_version("f0", v)
                .unwrap()
                .expect("old version kept");
            assert_eq!(old.config.name, "f0");
        }
        eprintln!(
            "round {round}: killed after generation {i}, f0 at version {}",
            f0.version
        );
        total_deploys += f0.version;

        // The store still takes deploys, and the same config is unchanged.
        let again = store.deploy("svc", &expected).unwrap();
        assert!(again.iter().all(|r| r.status == DeployStatus::Unchanged));
        drop(store);

        let conn = rusqlite::Connection::open(dir.path().join("stratus.db")).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        let fk_violations: i64 = conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(fk_violations, 0);
    }
    assert!(total_deploys >= 9);
}

//! The conformance suite of `stratus-conformance` against PostgreSQL: one
//! test per case, each in a fresh database of the test server.
//!
//! The server is `STRATUS_TEST_POSTGRES` (a URL; `./test.sh` starts a
//! throwaway one with `scripts/postgres.sh`); without it each test starts
//! its own and stops it at the end.

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use stratus_store_postgres::{Pg, PgAsyncQueue, PgFunctions, PgKeys};

/// Keeps a test's database (and, without `STRATUS_TEST_POSTGRES`, its
/// server) until the test ends; then drops them.
struct Guard {
    admin_url: String,
    database: String,
    own_server: Option<String>,
}

impl Guard {
    /// The test database's URL.
    fn url(&self) -> String {
        let base = self
            .admin_url
            .rsplit_once('/')
            .map_or(self.admin_url.as_str(), |(base, _)| base);
        format!("{base}/{}", self.database)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let (url, database) = (self.admin_url.clone(), self.database.clone());
        // A runtime of its own: the test's is shutting down.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .ok()?;
                tokio::spawn(connection);
                client
                    .batch_execute(&format!(
                        "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
                    ))
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop test database {}", self.database);
        }
        if let Some(dir) = &self.own_server {
            let _ = Command::new("bash")
                .arg(script())
                .args(["stop", dir])
                .status();
        }
    }
}

fn script() -> String {
    format!("{}/../../scripts/postgres.sh", env!("CARGO_MANIFEST_DIR"))
}

/// The test server's URL, starting one if none is given.
fn server() -> (String, Option<String>) {
    if let Ok(url) = std::env::var("STRATUS_TEST_POSTGRES") {
        return (url, None);
    }
    let out = Command::new("bash")
        .arg(script())
        .arg("start")
        .output()
        .expect("run scripts/postgres.sh start");
    assert!(
        out.status.success(),
        "scripts/postgres.sh start failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("export {name}=")))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("postgres.sh printed no {name}: {text}"))
    };
    (
        value("STRATUS_TEST_POSTGRES"),
        Some(value("STRATUS_TEST_POSTGRES_DIR")),
    )
}

/// A fresh, migrated database on the test server.
async fn fresh_pg() -> (Guard, Pg) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let (admin_url, own_server) = server();
    let database = format!(
        "stratus_test_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    let (client, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test server");
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE \"{database}\""))
        .await
        .expect("create a test database");
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("the test URL names a database");
    let pg = Pg::connect(&format!("{base}/{database}"))
        .await
        .expect("connect and migrate");
    (
        Guard {
            admin_url,
            database,
            own_server,
        },
        pg,
    )
}

async fn fresh_async_queue() -> (Guard, PgAsyncQueue) {
    let (guard, pg) = fresh_pg().await;
    (guard, PgAsyncQueue::new(pg))
}

stratus_conformance::async_queue_tests!(fresh_async_queue);

async fn fresh_functions() -> (Guard, PgFunctions) {
    let (guard, pg) = fresh_pg().await;
    (guard, PgFunctions::new(pg))
}

mod functions {
    use super::*;
    stratus_conformance::function_tests!(fresh_functions);
}

async fn fresh_keys() -> (Guard, (PgFunctions, PgKeys)) {
    let (guard, pg) = fresh_pg().await;
    (guard, (PgFunctions::new(pg.clone()), PgKeys::new(pg)))
}

mod keys {
    use super::*;
    stratus_conformance::key_tests!(fresh_keys);
}

mod schema;

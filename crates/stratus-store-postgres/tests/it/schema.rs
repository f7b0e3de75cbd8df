//! Connecting: bad URLs, unreachable servers and newer schemas get clear
//! errors; migrations run once when nodes start together.

use stratus_core::StoreError;
use stratus_store_postgres::Pg;

#[tokio::test]
async fn a_malformed_url_is_refused_with_the_password_hidden() {
    let error = Pg::connect("postgres://stratus:hunter2@db:notaport/x")
        .await
        .expect_err("refused");
    let text = error.to_string();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("postgres://stratus@db:notaport/x"), "{text}");
}

#[tokio::test]
async fn an_unreachable_server_is_a_backend_error() {
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let error = Pg::connect(&format!("postgres://stratus@127.0.0.1:{port}/stratus"))
        .await
        .expect_err("refused");
    assert!(matches!(error, StoreError::Backend { .. }), "{error:?}");
    assert_eq!(error.to_string(), "connecting to PostgreSQL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_migrate_once_and_a_newer_schema_is_refused() {
    let (guard, pg) = super::fresh_pg().await;
    drop(pg);
    let url = guard.url();
    // Five nodes at once: the advisory lock makes one migrate.
    let starts: Vec<_> = (0..5)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { Pg::connect(&url).await })
        })
        .collect();
    for start in starts {
        start.await.expect("joined").expect("connected");
    }
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let versions: i64 = client
        .query_one("SELECT COUNT(*) FROM stratus_schema", &[])
        .await
        .expect("count")
        .get(0);
    let max: i64 = client
        .query_one("SELECT MAX(version) FROM stratus_schema", &[])
        .await
        .expect("max")
        .get(0);
    assert_eq!(versions, max, "each migration recorded once");

    client
        .execute("INSERT INTO stratus_schema (version) VALUES (9999)", &[])
        .await
        .expect("pretend a newer Stratus wrote it");
    let error = Pg::connect(&url).await.expect_err("refused");
    assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}");
    assert!(error.to_string().contains("9999"), "{error}");
}

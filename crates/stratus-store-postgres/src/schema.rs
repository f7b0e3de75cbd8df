//! The schema and its migrations: version `n` is the first `n` entries of
//! [`MIGRATIONS`], applied in order, each in its own transaction, under a
//! transaction-level advisory lock so that nodes starting together apply
//! each once.

use crate::backend;
use stratus_core::StoreError;

/// The key of the advisory lock migrations hold ("stratus" in ASCII).
const MIGRATION_LOCK: i64 = 0x0073_7472_6174_7573;

/// The migrations, oldest first. Never edit one that has shipped; add one.
const MIGRATIONS: &[&str] = &[
    // 1: the async invocation queue.
    "CREATE TABLE async_events (
         id              BIGSERIAL PRIMARY KEY,
         request_id      TEXT NOT NULL UNIQUE,
         function        TEXT NOT NULL,
         qualifier       TEXT,
         payload         BYTEA NOT NULL,
         header_names    TEXT[] NOT NULL,
         header_values   TEXT[] NOT NULL,
         enqueued_ms     BIGINT NOT NULL,
         visible_ms      BIGINT NOT NULL,
         leased_until_ms BIGINT,
         attempts        INTEGER NOT NULL DEFAULT 0,
         max_attempts    INTEGER NOT NULL,
         max_age_ms      BIGINT NOT NULL,
         state           TEXT NOT NULL DEFAULT 'pending',
         last_error      TEXT
     );
     CREATE INDEX async_events_due ON async_events (visible_ms, id) WHERE state = 'pending';
     ALTER TABLE async_events SET (autovacuum_vacuum_scale_factor = 0.01);",
    // 2: artifacts (in chunks of at most 1 MiB), functions and versions.
    "CREATE TABLE artifacts (
         sha256     TEXT PRIMARY KEY,
         size       BIGINT NOT NULL,
         created_ms BIGINT NOT NULL
     );
     CREATE TABLE artifact_chunks (
         sha256 TEXT NOT NULL REFERENCES artifacts (sha256) ON DELETE CASCADE,
         seq    INTEGER NOT NULL,
         data   BYTEA NOT NULL,
         PRIMARY KEY (sha256, seq)
     );
     CREATE TABLE functions (
         name            TEXT PRIMARY KEY,
         service         TEXT NOT NULL,
         current_version BIGINT NOT NULL,
         created_ms      BIGINT NOT NULL
     );
     CREATE INDEX functions_service ON functions (service);
     CREATE TABLE versions (
         name       TEXT NOT NULL REFERENCES functions (name) ON DELETE CASCADE,
         version    BIGINT NOT NULL,
         artifact   TEXT NOT NULL REFERENCES artifacts (sha256),
         config     TEXT NOT NULL,
         created_ms BIGINT NOT NULL,
         PRIMARY KEY (name, version)
     );",
    // 3: access keys.
    "CREATE TABLE access_keys (
         key_id        TEXT PRIMARY KEY,
         secret        TEXT NOT NULL,
         kind          TEXT NOT NULL CHECK (kind IN ('admin', 'function')),
         function      TEXT UNIQUE REFERENCES functions (name) ON DELETE CASCADE,
         session_token TEXT,
         created_ms    BIGINT NOT NULL,
         CHECK ((kind = 'function') = (function IS NOT NULL))
     );
     CREATE UNIQUE INDEX access_keys_one_admin ON access_keys (kind) WHERE kind = 'admin';",
];

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the schema to [`SCHEMA_VERSION`]; `Corrupt` if it is newer.
pub(crate) async fn migrate(client: &mut tokio_postgres::Client) -> Result<(), StoreError> {
    let tx = client
        .transaction()
        .await
        .map_err(|e| backend("starting a migration", e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| backend("taking the migration lock", e))?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS stratus_schema (
             version    BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(|e| backend("creating the schema table", e))?;
    let current: i64 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM stratus_schema", &[])
        .await
        .map_err(|e| backend("reading the schema version", e))?
        .get(0);
    if current > SCHEMA_VERSION {
        return Err(StoreError::Corrupt(format!(
            "the database's schema is version {current}, written by a newer Stratus; this build knows versions up to {SCHEMA_VERSION}"
        )));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as i64 + 1;
        tx.batch_execute(migration)
            .await
            .map_err(|e| backend("applying a schema migration", e))?;
        tx.execute(
            "INSERT INTO stratus_schema (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(|e| backend("recording a schema migration", e))?;
        tracing::info!(version, "applied a schema migration");
    }
    tx.commit()
        .await
        .map_err(|e| backend("committing the schema migrations", e))
}

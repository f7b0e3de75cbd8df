//! Versioned schema migrations, tracked in `PRAGMA user_version`.

use rusqlite::{Connection, TransactionBehavior};

use crate::store::StoreError;
use crate::store::error::SqlContext;

/// Migration `i` takes the schema from version `i` to `i + 1`. Append only:
/// never edit a migration that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: functions, immutable versions, logs and invocations.
    r#"
    CREATE TABLE functions (
        name            TEXT PRIMARY KEY NOT NULL,
        service         TEXT NOT NULL,
        current_version INTEGER NOT NULL,
        created_ms      INTEGER NOT NULL,
        FOREIGN KEY (name, current_version) REFERENCES versions (name, version)
            DEFERRABLE INITIALLY DEFERRED
    ) WITHOUT ROWID;
    CREATE INDEX functions_by_service ON functions (service);

    CREATE TABLE versions (
        name       TEXT NOT NULL REFERENCES functions (name) ON DELETE CASCADE
                       DEFERRABLE INITIALLY DEFERRED,
        version    INTEGER NOT NULL CHECK (version >= 1),
        artifact   TEXT NOT NULL,
        config     TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        PRIMARY KEY (name, version)
    ) WITHOUT ROWID;
    CREATE INDEX versions_by_artifact ON versions (artifact);

    -- One row per invocation (or per run of consecutive lines with the same
    -- function, version, request id and timestamp), not per line: each row
    -- and index entry has a fixed cost, and an invocation writes 4 to 6
    -- lines. `body` holds the lines, each as a stream tag byte, a LEB128
    -- length and that many bytes of UTF-8 (see `telemetry.rs`); `lines` is
    -- their count. A line's public `seq` is `id * 4096 + index + 1`.
    -- AUTOINCREMENT: ids, hence seqs, are never reused, even after pruning
    -- empties the table.
    CREATE TABLE logs (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        ts_ms      INTEGER NOT NULL,
        function   TEXT NOT NULL,
        version    INTEGER NOT NULL,
        request_id TEXT NOT NULL,
        lines      INTEGER NOT NULL CHECK (lines BETWEEN 1 AND 4096),
        body       BLOB NOT NULL
    );
    -- One index only: every log insert pays for each index. Pruning by age
    -- walks `id` order, which follows time.
    CREATE INDEX logs_by_function ON logs (function, id);

    CREATE TABLE invocations (
        id               INTEGER PRIMARY KEY,
        ts_ms            INTEGER NOT NULL,
        function         TEXT NOT NULL,
        version          INTEGER NOT NULL,
        request_id       TEXT NOT NULL,
        trigger_kind     TEXT NOT NULL,
        outcome          TEXT NOT NULL,
        cold             INTEGER NOT NULL,
        duration_us      INTEGER NOT NULL,
        init_us          INTEGER,
        billed_ms        INTEGER NOT NULL,
        memory_mb        INTEGER NOT NULL,
        max_memory_bytes INTEGER NOT NULL
    );
    CREATE INDEX invocations_by_ts ON invocations (ts_ms);
    CREATE INDEX invocations_by_function ON invocations (function, ts_ms);
    "#,
    // 2: the durable queue of asynchronous (`Event`) invocations.
    r#"
    -- One row per accepted event until it succeeds or runs out of attempts.
    -- `visible_ms`: when the event may next be claimed (enqueue time, or the
    -- time of a retry after backoff). `leased_until_ms`: set while a
    -- dispatcher runs it; a crash leaves the lease, which the next start
    -- clears, so the event runs again (at least once). `state` is `pending`
    -- or `failed` (attempts exhausted or too old; kept for inspection).
    CREATE TABLE async_events (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id      TEXT NOT NULL UNIQUE,
        function        TEXT NOT NULL,
        qualifier       TEXT,
        payload         BLOB NOT NULL,
        headers         TEXT NOT NULL,
        enqueued_ms     INTEGER NOT NULL,
        visible_ms      INTEGER NOT NULL,
        leased_until_ms INTEGER,
        attempts        INTEGER NOT NULL DEFAULT 0,
        max_attempts    INTEGER NOT NULL,
        max_age_ms      INTEGER NOT NULL,
        state           TEXT NOT NULL DEFAULT 'pending',
        last_error      TEXT
    );
    CREATE INDEX async_events_ready ON async_events (state, visible_ms);
    "#,
    // 3..7: the event services and access keys.
    crate::store::queues::MIGRATION,
    crate::store::topics::MIGRATION,
    crate::store::bus::MIGRATION,
    crate::store::schedules::MIGRATION,
    crate::store::keys::MIGRATION,
    // 8..10: parity of the event services (tags, permissions, message
    // system attributes, archives, connections, ...).
    crate::store::queues::MIGRATION_2,
    crate::store::topics::MIGRATION_2,
    crate::store::bus::MIGRATION_2,
];

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database to [`SCHEMA_VERSION`]. Each migration runs in its own
/// immediate transaction that also reads and bumps `user_version`, so a crash
/// leaves the database at a version boundary and two processes opening the
/// same directory at once do not run a migration twice.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting migration")?;
        let current: i64 = tx
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .sql("reading schema version")?;
        if !(0..=SCHEMA_VERSION).contains(&current) {
            return Err(StoreError::Corrupt(format!(
                "database schema version {current} is not one this build supports (0..={SCHEMA_VERSION})"
            )));
        }
        let Some(sql) = MIGRATIONS.get(current as usize) else {
            return Ok(());
        };
        let to = current + 1;
        tx.execute_batch(sql).sql("running migration")?;
        // PRAGMA takes no bound parameters; `to` is our own integer.
        tx.execute_batch(&format!("PRAGMA user_version = {to}"))
            .sql("setting schema version")?;
        tx.commit().sql("committing migration")?;
        tracing::info!(from = current, to, "migrated database schema");
    }
}

//! The durable queue of asynchronous invocations (Lambda's `Event`
//! invocation type): an event is committed before the caller gets its 202,
//! claimed by the engine's dispatcher under a lease, and deleted once it
//! ran, or kept as `failed` when its attempts are spent.

use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use crate::store::error::SqlContext;
use crate::store::{Store, StoreError, from_sql_int};
use stratus_engine::records::{AsyncEvent, AsyncQueueStats, NewAsyncEvent};

const COLUMNS: &str = "id, request_id, function, qualifier, payload, headers, enqueued_ms, attempts, max_attempts, max_age_ms";

fn event_from_row(row: &Row<'_>) -> rusqlite::Result<(AsyncEvent, String)> {
    let attempts: i64 = row.get(7)?;
    let max_attempts: i64 = row.get(8)?;
    Ok((
        AsyncEvent {
            id: row.get(0)?,
            request_id: row.get(1)?,
            function: row.get(2)?,
            qualifier: row.get(3)?,
            payload: row.get(4)?,
            headers: Vec::new(),
            enqueued_ms: row.get(6)?,
            attempt: u32::try_from(attempts).unwrap_or(u32::MAX),
            max_attempts: u32::try_from(max_attempts).unwrap_or(1),
            max_age_ms: row.get(9)?,
        },
        row.get::<_, String>(5)?,
    ))
}

/// Inserts an event within the caller's connection or transaction (so other
/// modules can enqueue atomically with their own writes, e.g. a schedule's
/// tick). Returns false if the request id is already queued.
pub(crate) fn insert_async(
    conn: &rusqlite::Connection,
    event: &NewAsyncEvent,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let headers = serde_json::to_string(&event.headers)
        .map_err(|e| StoreError::Invalid(format!("event headers: {e}")))?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO async_events (request_id, function, qualifier, payload, headers,
                 enqueued_ms, visible_ms, max_attempts, max_age_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8)
             ON CONFLICT (request_id) DO NOTHING",
        )
        .sql("preparing to enqueue an asynchronous event")?
        .execute(params![
            event.request_id,
            event.function,
            event.qualifier,
            event.payload,
            headers,
            now_ms,
            i64::from(event.max_attempts.max(1)),
            event.max_age_ms,
        ])
        .sql("enqueuing an asynchronous event")?;
    Ok(inserted > 0)
}

impl Store {
    /// Commits an event (durably) for the dispatcher. `Conflict` if the
    /// request id is already queued.
    pub fn enqueue_async(&self, event: &NewAsyncEvent, now_ms: i64) -> Result<(), StoreError> {
        let owned = event.clone();
        if !self.grouped(move |tx| insert_async(tx, &owned, now_ms))? {
            return Err(StoreError::Conflict(format!(
                "request id {} is already queued",
                event.request_id
            )));
        }
        Ok(())
    }

    /// Claims up to `limit` events that are due at `now_ms`, leasing each
    /// until `now_ms + lease_ms` and counting the attempt. Events past their
    /// maximum age are marked failed instead (and returned in the second
    /// list, so the caller can log them).
    pub fn claim_async(
        &self,
        now_ms: i64,
        limit: usize,
        lease_ms: i64,
    ) -> Result<(Vec<AsyncEvent>, Vec<AsyncEvent>), StoreError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting a claim of asynchronous events")?;
        let mut claimed = Vec::new();
        let mut expired = Vec::new();
        {
            let mut select = tx
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM async_events
                     WHERE state = 'pending' AND visible_ms <= ?1
                       AND (leased_until_ms IS NULL OR leased_until_ms <= ?1)
                     ORDER BY visible_ms, id LIMIT ?2"
                ))
                .sql("preparing the claim of asynchronous events")?;
            let rows = select
                .query_map(params![now_ms, limit as i64], event_from_row)
                .sql("reading due asynchronous events")?;
            for row in rows {
                let (mut event, headers) = row.sql("reading an asynchronous event")?;
                event.headers = serde_json::from_str(&headers).map_err(|e| {
                    StoreError::Corrupt(format!("headers of event {}: {e}", event.request_id))
                })?;
                if now_ms - event.enqueued_ms > event.max_age_ms {
                    expired.push(event);
                } else {
                    event.attempt += 1;
                    claimed.push(event);
                }
            }
        }
        for event in &claimed {
            tx.execute(
                "UPDATE async_events SET attempts = attempts + 1, leased_until_ms = ?2 WHERE id = ?1",
                params![event.id, now_ms + lease_ms],
            )
            .sql("leasing an asynchronous event")?;
        }
        for event in &expired {
            tx.execute(
                "UPDATE async_events SET state = 'failed', leased_until_ms = NULL,
                     last_error = 'EventAgeExceeded' WHERE id = ?1",
                params![event.id],
            )
            .sql("expiring an asynchronous event")?;
        }
        tx.commit()
            .sql("committing a claim of asynchronous events")?;
        Ok((claimed, expired))
    }

    /// Removes an event that ran to completion.
    pub fn complete_async(&self, id: i64) -> Result<(), StoreError> {
        self.grouped(move |tx| {
            tx.prepare_cached("DELETE FROM async_events WHERE id = ?1")
                .sql("preparing to complete an asynchronous event")?
                .execute(params![id])
                .sql("completing an asynchronous event")?;
            Ok(())
        })
    }

    /// Schedules another attempt at `visible_ms`. With `count_attempt`
    /// false (a throttle, a shutdown) the attempt just made is given back.
    pub fn retry_async(
        &self,
        id: i64,
        visible_ms: i64,
        error: &str,
        count_attempt: bool,
    ) -> Result<(), StoreError> {
        let give_back = if count_attempt { 0 } else { 1 };
        self.writer()
            .execute(
                "UPDATE async_events SET visible_ms = ?2, leased_until_ms = NULL,
                     last_error = ?3, attempts = MAX(attempts - ?4, 0) WHERE id = ?1",
                params![id, visible_ms, error, give_back],
            )
            .sql("scheduling a retry of an asynchronous event")?;
        Ok(())
    }

    /// Marks an event failed for good (its attempts are spent).
    pub fn fail_async(&self, id: i64, error: &str) -> Result<(), StoreError> {
        self.writer()
            .execute(
                "UPDATE async_events SET state = 'failed', leased_until_ms = NULL, last_error = ?2
                 WHERE id = ?1",
                params![id, error],
            )
            .sql("failing an asynchronous event")?;
        Ok(())
    }

    /// Clears every lease: called at start, when no dispatcher of an earlier
    /// process can still be running, so events it held run again. Returns
    /// how many were released.
    pub fn release_async_leases(&self) -> Result<usize, StoreError> {
        self.writer()
            .execute(
                "UPDATE async_events SET leased_until_ms = NULL WHERE leased_until_ms IS NOT NULL",
                [],
            )
            .sql("releasing leases of asynchronous events")
    }

    /// The earliest time a pending event becomes due, if any.
    pub fn next_async_due(&self) -> Result<Option<i64>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT MIN(MAX(visible_ms, COALESCE(leased_until_ms, 0))) FROM async_events
                 WHERE state = 'pending'",
                [],
                |row| row.get::<_, Option<i64>>(0),
            )
            .optional()
            .map(Option::flatten)
            .sql("reading the next due asynchronous event")
        })
    }

    /// Counts of pending and failed events.
    pub fn async_stats(&self) -> Result<AsyncQueueStats, StoreError> {
        self.read(|conn| {
            let count = |state: &str| -> Result<u64, StoreError> {
                let n: i64 = conn
                    .query_row(
                        "SELECT COUNT(*) FROM async_events WHERE state = ?1",
                        params![state],
                        |row| row.get(0),
                    )
                    .sql("counting asynchronous events")?;
                from_sql_int(n, "event count")
            };
            Ok(AsyncQueueStats {
                pending: count("pending")?,
                failed: count("failed")?,
            })
        })
    }
}

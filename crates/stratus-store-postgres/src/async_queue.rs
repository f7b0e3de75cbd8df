//! The async invocation queue ([`AsyncQueueBackend`]) in PostgreSQL: a
//! claim takes the due events of the partial index `(visible_ms, id)` in
//! index order with `FOR UPDATE SKIP LOCKED`, so the dispatchers of
//! several nodes claim disjoint events without waiting on each other.

use crate::{Pg, backend};
use async_trait::async_trait;
use stratus_core::StoreError;
use stratus_engine::backend::{AsyncQueueBackend, Claimed};
use stratus_engine::records::{AsyncEvent, AsyncQueueStats, NewAsyncEvent};
use tokio_postgres::Row;

/// The async invocation queue in PostgreSQL; cheap to clone.
#[derive(Clone, Debug)]
pub struct PgAsyncQueue(Pg);

impl PgAsyncQueue {
    /// The queue over `pg`.
    pub fn new(pg: Pg) -> PgAsyncQueue {
        PgAsyncQueue(pg)
    }
}

const COLUMNS: &str = "id, request_id, function, qualifier, payload, header_names, header_values, enqueued_ms, attempts, max_attempts, max_age_ms";

fn event_of(row: &Row) -> AsyncEvent {
    let names: Vec<String> = row.get(5);
    let values: Vec<String> = row.get(6);
    let attempts: i32 = row.get(8);
    let max_attempts: i32 = row.get(9);
    AsyncEvent {
        id: row.get(0),
        request_id: row.get(1),
        function: row.get(2),
        qualifier: row.get(3),
        payload: row.get(4),
        headers: names.into_iter().zip(values).collect(),
        enqueued_ms: row.get(7),
        attempt: u32::try_from(attempts).unwrap_or(0),
        max_attempts: u32::try_from(max_attempts).unwrap_or(1),
        max_age_ms: row.get(10),
    }
}

#[async_trait]
impl AsyncQueueBackend for PgAsyncQueue {
    async fn enqueue(&self, event: &NewAsyncEvent, now_ms: i64) -> Result<(), StoreError> {
        let (names, values): (Vec<&str>, Vec<&str>) = event
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .unzip();
        let max_attempts = i32::try_from(event.max_attempts.max(1)).unwrap_or(i32::MAX);
        let inserted = self
            .0
            .client()
            .await?
            .execute(
                "INSERT INTO async_events (request_id, function, qualifier, payload,
                     header_names, header_values, enqueued_ms, visible_ms, max_attempts, max_age_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9)
                 ON CONFLICT (request_id) DO NOTHING",
                &[
                    &event.request_id,
                    &event.function,
                    &event.qualifier,
                    &event.payload,
                    &names,
                    &values,
                    &now_ms,
                    &max_attempts,
                    &event.max_age_ms,
                ],
            )
            .await
            .map_err(|e| backend("enqueuing an asynchronous event", e))?;
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "request id {} is already queued",
                event.request_id
            )));
        }
        Ok(())
    }

    async fn claim(&self, now_ms: i64, limit: usize, lease_ms: i64) -> Result<Claimed, StoreError> {
        if limit == 0 {
            return Ok(Claimed::default());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut client = self.0.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| backend("starting a claim of asynchronous events", e))?;
        let rows = tx
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM async_events
                     WHERE state = 'pending' AND visible_ms <= $1
                       AND (leased_until_ms IS NULL OR leased_until_ms <= $1)
                     ORDER BY visible_ms, id
                     LIMIT $2
                     FOR UPDATE SKIP LOCKED"
                ),
                &[&now_ms, &limit],
            )
            .await
            .map_err(|e| backend("reading due asynchronous events", e))?;
        let mut claimed = Claimed::default();
        for row in &rows {
            let mut event = event_of(row);
            if now_ms - event.enqueued_ms > event.max_age_ms {
                claimed.expired.push(event);
            } else {
                event.attempt += 1;
                claimed.events.push(event);
            }
        }
        let leased: Vec<i64> = claimed.events.iter().map(|e| e.id).collect();
        let expired: Vec<i64> = claimed.expired.iter().map(|e| e.id).collect();
        if !leased.is_empty() {
            tx.execute(
                "UPDATE async_events SET attempts = attempts + 1, leased_until_ms = $2
                 WHERE id = ANY($1)",
                &[&leased, &(now_ms + lease_ms)],
            )
            .await
            .map_err(|e| backend("leasing asynchronous events", e))?;
        }
        if !expired.is_empty() {
            tx.execute(
                "UPDATE async_events SET state = 'failed', leased_until_ms = NULL,
                     last_error = 'EventAgeExceeded' WHERE id = ANY($1)",
                &[&expired],
            )
            .await
            .map_err(|e| backend("expiring asynchronous events", e))?;
        }
        tx.commit()
            .await
            .map_err(|e| backend("committing a claim of asynchronous events", e))?;
        Ok(claimed)
    }

    async fn complete(&self, id: i64) -> Result<(), StoreError> {
        self.0
            .client()
            .await?
            .execute("DELETE FROM async_events WHERE id = $1", &[&id])
            .await
            .map_err(|e| backend("completing an asynchronous event", e))?;
        Ok(())
    }

    async fn retry(
        &self,
        id: i64,
        visible_ms: i64,
        error: &str,
        count_attempt: bool,
    ) -> Result<(), StoreError> {
        let give_back: i32 = if count_attempt { 0 } else { 1 };
        self.0
            .client()
            .await?
            .execute(
                "UPDATE async_events SET visible_ms = $2, leased_until_ms = NULL,
                     last_error = $3, attempts = GREATEST(attempts - $4, 0) WHERE id = $1",
                &[&id, &visible_ms, &error, &give_back],
            )
            .await
            .map_err(|e| backend("scheduling a retry of an asynchronous event", e))?;
        Ok(())
    }

    async fn fail(&self, id: i64, error: &str) -> Result<(), StoreError> {
        self.0
            .client()
            .await?
            .execute(
                "UPDATE async_events SET state = 'failed', leased_until_ms = NULL, last_error = $2
                 WHERE id = $1",
                &[&id, &error],
            )
            .await
            .map_err(|e| backend("failing an asynchronous event", e))?;
        Ok(())
    }

    async fn release_leases(&self) -> Result<usize, StoreError> {
        let released = self
            .0
            .client()
            .await?
            .execute(
                "UPDATE async_events SET leased_until_ms = NULL WHERE leased_until_ms IS NOT NULL",
                &[],
            )
            .await
            .map_err(|e| backend("releasing leases of asynchronous events", e))?;
        Ok(usize::try_from(released).unwrap_or(usize::MAX))
    }

    async fn next_due(&self) -> Result<Option<i64>, StoreError> {
        let row = self
            .0
            .client()
            .await?
            .query_one(
                "SELECT MIN(GREATEST(visible_ms, COALESCE(leased_until_ms, 0))) FROM async_events
                 WHERE state = 'pending'",
                &[],
            )
            .await
            .map_err(|e| backend("reading the next due asynchronous event", e))?;
        Ok(row.get(0))
    }

    async fn stats(&self) -> Result<AsyncQueueStats, StoreError> {
        let row = self
            .0
            .client()
            .await?
            .query_one(
                "SELECT COUNT(*) FILTER (WHERE state = 'pending'),
                        COUNT(*) FILTER (WHERE state = 'failed')
                 FROM async_events",
                &[],
            )
            .await
            .map_err(|e| backend("counting asynchronous events", e))?;
        let count = |i: usize| u64::try_from(row.get::<_, i64>(i)).unwrap_or(0);
        Ok(AsyncQueueStats {
            pending: count(0),
            failed: count(1),
        })
    }
}

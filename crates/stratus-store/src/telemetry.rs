//! Log records and invocation records: appended in batches, read for
//! tailing and statistics, pruned for retention.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use crate::error::SqlContext;
use crate::{
    FunctionStats, InvocationRecord, LogRecord, LogStream, Outcome, Store, StoreError,
    from_sql_int, to_sql_int,
};

/// Rows deleted per transaction when pruning, so that retention never holds
/// the write lock for long.
const PRUNE_BATCH: i64 = 5_000;

const LOG_COLUMNS: &str = "seq, ts_ms, function, version, request_id, stream, message";

impl Store {
    /// Appends log records (their `seq` is ignored and assigned here) and
    /// invocation records in one transaction. Meant for one background
    /// writer that batches records; because writes are serialized, records
    /// become visible in `seq` order, so tailing by `seq` misses nothing.
    pub fn append(
        &self,
        logs: &[LogRecord],
        invocations: &[InvocationRecord],
    ) -> Result<(), StoreError> {
        if logs.is_empty() && invocations.is_empty() {
            return Ok(());
        }
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .sql("starting append")?;
        {
            let mut insert_log = tx
                .prepare_cached(
                    "INSERT INTO logs (ts_ms, function, version, request_id, stream, message)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .sql("preparing log insert")?;
            for log in logs {
                insert_log
                    .execute(params![
                        log.ts_ms,
                        log.function,
                        to_sql_int(log.version, "version")?,
                        log.request_id,
                        log.stream.as_str(),
                        log.message,
                    ])
                    .sql("inserting log record")?;
            }
            let mut insert_invocation = tx
                .prepare_cached(
                    "INSERT INTO invocations (ts_ms, function, version, request_id, trigger_kind,
                         outcome, cold, duration_us, init_us, billed_ms, memory_mb, max_memory_bytes)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .sql("preparing invocation insert")?;
            for inv in invocations {
                let init_us = inv
                    .init_us
                    .map(|us| to_sql_int(us, "init_us"))
                    .transpose()?;
                insert_invocation
                    .execute(params![
                        inv.ts_ms,
                        inv.function,
                        to_sql_int(inv.version, "version")?,
                        inv.request_id,
                        inv.trigger,
                        inv.outcome.as_str(),
                        inv.cold,
                        to_sql_int(inv.duration_us, "duration_us")?,
                        init_us,
                        to_sql_int(inv.billed_ms, "billed_ms")?,
                        inv.memory_mb,
                        to_sql_int(inv.max_memory_bytes, "max_memory_bytes")?,
                    ])
                    .sql("inserting invocation record")?;
            }
        }
        tx.commit().sql("committing append")?;
        tracing::trace!(
            logs = logs.len(),
            invocations = invocations.len(),
            "appended records"
        );
        Ok(())
    }

    /// Log records of `function` with `seq > after_seq`, oldest first, at
    /// most `limit`. Pass the last `seq` seen to page or tail; 0 to start.
    pub fn logs(
        &self,
        function: &str,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<LogRecord>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {LOG_COLUMNS} FROM logs
                     WHERE function = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
                ))
                .sql("reading logs")?;
            let mut rows = stmt
                .query(params![function, after_seq, limit])
                .sql("reading logs")?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().sql("reading logs")? {
                out.push(log_from_row(row)?);
            }
            Ok(out)
        })
    }

    /// Per-function aggregates of the invocations with `ts_ms >= since_ms`,
    /// sorted by function name. Functions without invocations in the window
    /// are absent. Percentiles are nearest-rank over the durations of
    /// invocations that ran (not throttled): the value at rank
    /// `ceil(p/100 * n)` in ascending order.
    ///
    /// One pass over the window's rows; durations are kept in memory (8
    /// bytes per invocation) and percentiles found by selection, O(n).
    pub fn stats(&self, since_ms: i64) -> Result<Vec<FunctionStats>, StoreError> {
        #[derive(Default)]
        struct Acc {
            invocations: u64,
            errors: u64,
            throttles: u64,
            cold_starts: u64,
            billed_ms: u64,
            /// Sum of billed_ms * memory_mb; exact.
            billed_ms_mb: u128,
            durations_us: Vec<u64>,
        }

        let accs = self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT function, outcome, cold, duration_us, billed_ms, memory_mb
                     FROM invocations WHERE ts_ms >= ?1",
                )
                .sql("reading invocations")?;
            let mut rows = stmt.query([since_ms]).sql("reading invocations")?;
            let mut accs: BTreeMap<String, Acc> = BTreeMap::new();
            while let Some(row) = rows.next().sql("reading invocations")? {
                // Borrowed, so that a row of a known function allocates nothing.
                let function = text_column(row, 0)?;
                let outcome = Outcome::parse(text_column(row, 1)?)?;
                let cold: bool = row.get(2).sql("reading invocations")?;
                let duration_us =
                    from_sql_int(row.get(3).sql("reading invocations")?, "duration_us")?;
                let billed_ms = from_sql_int(row.get(4).sql("reading invocations")?, "billed_ms")?;
                let memory_mb = from_sql_int(row.get(5).sql("reading invocations")?, "memory_mb")?;

                let acc = match accs.get_mut(function) {
                    Some(acc) => acc,
                    None => accs.entry(function.to_owned()).or_default(),
                };
                acc.billed_ms = acc.billed_ms.saturating_add(billed_ms);
                acc.billed_ms_mb += u128::from(billed_ms) * u128::from(memory_mb);
                match outcome {
                    Outcome::Throttled => {
                        acc.throttles += 1;
                        continue;
                    }
                    Outcome::Error | Outcome::Timeout => acc.errors += 1,
                    Outcome::Ok => {}
                }
                acc.invocations += 1;
                if cold {
                    acc.cold_starts += 1;
                }
                acc.durations_us.push(duration_us);
            }
            Ok(accs)
        })?;

        Ok(accs
            .into_iter()
            .map(|(function, mut acc)| FunctionStats {
                p50_ms: percentile_ms(&mut acc.durations_us, 50),
                p99_ms: percentile_ms(&mut acc.durations_us, 99),
                function,
                invocations: acc.invocations,
                errors: acc.errors,
                throttles: acc.throttles,
                cold_starts: acc.cold_starts,
                billed_ms: acc.billed_ms,
                gb_seconds: acc.billed_ms_mb as f64 / (1000.0 * 1024.0),
            })
            .collect())
    }

    /// Retention. Deletes log records with `ts_ms < now_ms - max_log_age_ms`,
    /// then all but the `max_log_rows` newest log records, then invocation
    /// records with `ts_ms < now_ms - keep_invocations_ms`. Returns the
    /// number of rows deleted. Works in batches of a few thousand rows, each
    /// its own transaction, so appends are not held up; a crash midway
    /// leaves a consistent, partly pruned store. Negative limits are
    /// `Invalid`.
    pub fn prune(
        &self,
        now_ms: i64,
        max_log_age_ms: i64,
        max_log_rows: i64,
        keep_invocations_ms: i64,
    ) -> Result<u64, StoreError> {
        for (name, value) in [
            ("max_log_age_ms", max_log_age_ms),
            ("max_log_rows", max_log_rows),
            ("keep_invocations_ms", keep_invocations_ms),
        ] {
            if value < 0 {
                return Err(StoreError::Invalid(format!("{name} is negative ({value})")));
            }
        }
        let log_cutoff = now_ms.saturating_sub(max_log_age_ms);
        let mut logs = self.delete_batched(
            // Only the oldest batch (by seq, i.e. by time) is examined, so
            // this costs what it deletes, without an index on ts_ms.
            "DELETE FROM logs WHERE seq IN
                 (SELECT seq FROM (SELECT seq, ts_ms FROM logs ORDER BY seq LIMIT ?2)
                  WHERE ts_ms < ?1)",
            log_cutoff,
        )?;

        // The newest seq to delete: the one just past the `max_log_rows`
        // newest.
        let boundary: Option<i64> = self.read(|conn| {
            conn.query_row(
                "SELECT seq FROM logs ORDER BY seq DESC LIMIT 1 OFFSET ?1",
                [max_log_rows],
                |row| row.get(0),
            )
            .optional()
            .sql("finding log retention boundary")
        })?;
        if let Some(boundary) = boundary {
            logs += self.delete_batched(
                "DELETE FROM logs WHERE seq IN
                     (SELECT seq FROM logs WHERE seq <= ?1 ORDER BY seq LIMIT ?2)",
                boundary,
            )?;
        }

        let invocation_cutoff = now_ms.saturating_sub(keep_invocations_ms);
        let invocations = self.delete_batched(
            "DELETE FROM invocations WHERE id IN
                 (SELECT id FROM invocations WHERE ts_ms < ?1 LIMIT ?2)",
            invocation_cutoff,
        )?;
        if logs + invocations > 0 {
            tracing::info!(logs, invocations, "pruned records");
        }
        Ok(logs + invocations)
    }

    /// Runs a `DELETE` taking `(?1 = bound, ?2 = batch size)` until it
    /// deletes less than a batch, releasing the write lock in between.
    fn delete_batched(&self, sql: &str, bound: i64) -> Result<u64, StoreError> {
        let mut total = 0u64;
        loop {
            let n = {
                let conn = self.writer();
                conn.prepare_cached(sql)
                    .sql("pruning records")?
                    .execute([bound, PRUNE_BATCH])
                    .sql("pruning records")?
            };
            total += n as u64;
            if (n as i64) < PRUNE_BATCH {
                return Ok(total);
            }
        }
    }
}

/// Nearest-rank percentile of durations in microseconds, as milliseconds.
/// Reorders `durations`.
fn percentile_ms(durations: &mut [u64], p: usize) -> Option<f64> {
    let n = durations.len();
    if n == 0 {
        return None;
    }
    let rank = (p * n).div_ceil(100).clamp(1, n);
    let (_, value, _) = durations.select_nth_unstable(rank - 1);
    Some(*value as f64 / 1000.0)
}

/// A text column borrowed from the row.
fn text_column<'r>(row: &'r Row<'_>, index: usize) -> Result<&'r str, StoreError> {
    row.get_ref(index)
        .sql("reading invocations")?
        .as_str()
        .map_err(|e| StoreError::Corrupt(format!("invocation column {index} is not text: {e}")))
}

fn log_from_row(row: &Row<'_>) -> Result<LogRecord, StoreError> {
    let stream: String = row.get(5).sql("reading logs")?;
    Ok(LogRecord {
        seq: row.get(0).sql("reading logs")?,
        ts_ms: row.get(1).sql("reading logs")?,
        function: row.get(2).sql("reading logs")?,
        version: from_sql_int(row.get(3).sql("reading logs")?, "version")?,
        request_id: row.get(4).sql("reading logs")?,
        stream: LogStream::parse(&stream)?,
        message: row.get(6).sql("reading logs")?,
    })
}

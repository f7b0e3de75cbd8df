//! Log records and invocation records: appended in batches, read for
//! tailing and statistics, pruned for retention.

use std::collections::BTreeMap;

use rusqlite::{Row, TransactionBehavior, params};

use crate::store::error::SqlContext;
use crate::store::{Store, StoreError, from_sql_int, to_sql_int};
use stratus_engine::records::{FunctionStats, InvocationRecord, LogRecord, LogStream, Outcome};

/// Rows deleted per transaction when pruning, so that retention never holds
/// the write lock for long.
const PRUNE_BATCH: i64 = 5_000;

/// Most lines stored in one `logs` row, and the stride of `seq` per row: line
/// `i` (from 0) of row `id` has `seq = id * LINES_PER_ROW + i + 1`, so seqs
/// follow rows and lines in order, are never reused (row ids are
/// AUTOINCREMENT), and a seq names its row and line without a lookup.
const LINES_PER_ROW: i64 = 4096;

/// A row is closed once its encoded lines reach this many bytes (a single
/// longer line still gets a row of its own). Keeps rows far below SQLite's
/// blob limit and bounds the work of resuming a page in the middle of a row.
const MAX_ROW_BYTES: usize = 1 << 20;

impl Store {
    /// Appends log records (their `seq` is ignored and assigned here) and
    /// invocation records in one transaction. Meant for one background
    /// writer that batches records; because writes are serialized, records
    /// become visible in `seq` order, so tailing by `seq` misses nothing.
    ///
    /// Consecutive log records with the same function, version, request id
    /// and `ts_ms` (the lines of one invocation, passed together and in
    /// order) are stored as one row, up to 4096 lines or about 1 MiB; a
    /// change of any of those starts a new row, so every line keeps its own
    /// timestamp.
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
                    "INSERT INTO logs (ts_ms, function, version, request_id, lines, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .sql("preparing log insert")?;
            let mut body = Vec::new();
            let mut start = 0;
            for (i, log) in logs.iter().enumerate() {
                if i > start
                    && (!same_row(&logs[start], log)
                        || (i - start) as i64 == LINES_PER_ROW
                        || body.len() + log.message.len() > MAX_ROW_BYTES)
                {
                    insert_log_row(&mut insert_log, &logs[start..i], &body)?;
                    body.clear();
                    start = i;
                }
                encode_line(&mut body, log.stream, &log.message);
            }
            if start < logs.len() {
                insert_log_row(&mut insert_log, &logs[start..], &body)?;
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
        // The last line seen is line `skip - 1` of row `first_row`; resume
        // right after it.
        let (first_row, skip) = if after_seq <= 0 {
            (0, 0)
        } else {
            let last = after_seq - 1;
            (
                last.div_euclid(LINES_PER_ROW),
                last.rem_euclid(LINES_PER_ROW) + 1,
            )
        };
        // Every row holds at least one line, so `limit` rows are enough,
        // plus the first, which may hold only lines already seen.
        let max_rows = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, ts_ms, version, request_id, lines, body FROM logs
                     WHERE function = ?1 AND id >= ?2 ORDER BY id LIMIT ?3",
                )
                .sql("reading logs")?;
            let mut rows = stmt
                .query(params![function, first_row, max_rows])
                .sql("reading logs")?;
            let mut out = Vec::with_capacity(limit.min(1024));
            while let Some(row) = rows.next().sql("reading logs")? {
                let id: i64 = row.get(0).sql("reading logs")?;
                let ts_ms: i64 = row.get(1).sql("reading logs")?;
                let version = from_sql_int(row.get(2).sql("reading logs")?, "version")?;
                let request_id: String = row.get(3).sql("reading logs")?;
                let count: i64 = row.get(4).sql("reading logs")?;
                let body = row
                    .get_ref(5)
                    .sql("reading logs")?
                    .as_blob()
                    .map_err(|e| StoreError::Corrupt(format!("log row {id} body: {e}")))?;
                // Leaves room for `base + LINES_PER_ROW`.
                if !(0..i64::MAX / LINES_PER_ROW).contains(&id) {
                    return Err(StoreError::Corrupt(format!(
                        "log row id {id} is out of range"
                    )));
                }
                let base = id * LINES_PER_ROW;
                let mut lines = LineReader { id, body };
                let mut index = 0i64;
                while let Some((stream, message)) = lines.next()? {
                    if index >= LINES_PER_ROW {
                        return Err(StoreError::Corrupt(format!(
                            "log row {id} holds more than {LINES_PER_ROW} lines"
                        )));
                    }
                    index += 1;
                    if id == first_row && index <= skip {
                        continue;
                    }
                    out.push(LogRecord {
                        seq: base + index,
                        ts_ms,
                        function: function.to_owned(),
                        version,
                        request_id: request_id.clone(),
                        stream: LogStream::from_tag(stream)?,
                        message: std::str::from_utf8(message)
                            .map_err(|e| {
                                StoreError::Corrupt(format!("log row {id} line {index}: {e}"))
                            })?
                            .to_owned(),
                    });
                    if out.len() == limit {
                        return Ok(out);
                    }
                }
                if index != count {
                    return Err(StoreError::Corrupt(format!(
                        "log row {id} holds {index} lines, not {count}"
                    )));
                }
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
    /// then the oldest log records until at most `max_log_rows` records
    /// (lines, not invocations) are left, then invocation records with
    /// `ts_ms < now_ms - keep_invocations_ms`. Returns the number of log and
    /// invocation records deleted.
    ///
    /// Log records are stored and deleted a row (one invocation's lines) at
    /// a time: the count limit removes whole rows, so a row that straddles
    /// it goes and fewer than `max_log_rows` records may be left. All lines
    /// of a row share their timestamp, so the age limit is exact.
    ///
    /// Works in batches of a few thousand rows, each its own transaction,
    /// so appends are not held up; a crash midway leaves a consistent, partly
    /// pruned store. Negative limits are `Invalid`.
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
            // Only the oldest batch (by id, i.e. by time) is examined, so
            // this costs what it deletes, without an index on ts_ms.
            "DELETE FROM logs WHERE id IN
                 (SELECT id FROM (SELECT id, ts_ms FROM logs ORDER BY id LIMIT ?2)
                  WHERE ts_ms < ?1)
             RETURNING lines",
            log_cutoff,
        )?;

        // The newest row to delete: the newest one whose lines, with those of
        // all newer rows, exceed `max_log_rows`. Walks the rows that are kept
        // (about a fifth of `max_log_rows`), newest first.
        let boundary: Option<i64> = self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT id, lines FROM logs ORDER BY id DESC")
                .sql("finding log retention boundary")?;
            let mut rows = stmt.query([]).sql("finding log retention boundary")?;
            let mut kept = 0i64;
            while let Some(row) = rows.next().sql("finding log retention boundary")? {
                let lines: i64 = row.get(1).sql("finding log retention boundary")?;
                kept = kept.saturating_add(lines);
                if kept > max_log_rows {
                    return Ok(Some(row.get(0).sql("finding log retention boundary")?));
                }
            }
            Ok(None)
        })?;
        if let Some(boundary) = boundary {
            logs += self.delete_batched(
                "DELETE FROM logs WHERE id IN
                     (SELECT id FROM logs WHERE id <= ?1 ORDER BY id LIMIT ?2)
                 RETURNING lines",
                boundary,
            )?;
        }

        let invocation_cutoff = now_ms.saturating_sub(keep_invocations_ms);
        let invocations = self.delete_batched(
            "DELETE FROM invocations WHERE id IN
                 (SELECT id FROM invocations WHERE ts_ms < ?1 LIMIT ?2)
             RETURNING 1",
            invocation_cutoff,
        )?;
        if logs + invocations > 0 {
            tracing::info!(logs, invocations, "pruned records");
        }
        Ok(logs + invocations)
    }

    /// Runs a `DELETE` taking `(?1 = bound, ?2 = batch size)` and returning
    /// one count per deleted row, until it deletes less than a batch,
    /// releasing the write lock in between. Returns the sum of the counts.
    fn delete_batched(&self, sql: &str, bound: i64) -> Result<u64, StoreError> {
        let mut total = 0u64;
        loop {
            let mut deleted = 0i64;
            {
                let conn = self.writer();
                let mut stmt = conn.prepare_cached(sql).sql("pruning records")?;
                let mut rows = stmt.query([bound, PRUNE_BATCH]).sql("pruning records")?;
                while let Some(row) = rows.next().sql("pruning records")? {
                    let count: i64 = row.get(0).sql("pruning records")?;
                    total += from_sql_int(count, "log line count")?;
                    deleted += 1;
                }
            }
            if deleted < PRUNE_BATCH {
                return Ok(total);
            }
        }
    }
}

/// Whether two consecutive log records go in the same row.
fn same_row(a: &LogRecord, b: &LogRecord) -> bool {
    a.ts_ms == b.ts_ms
        && a.version == b.version
        && a.request_id == b.request_id
        && a.function == b.function
}

/// Inserts one row holding `group`, whose lines `body` encodes.
fn insert_log_row(
    insert: &mut rusqlite::CachedStatement<'_>,
    group: &[LogRecord],
    body: &[u8],
) -> Result<(), StoreError> {
    let first = &group[0];
    insert
        .execute(params![
            first.ts_ms,
            first.function,
            to_sql_int(first.version, "version")?,
            first.request_id,
            group.len() as i64,
            body,
        ])
        .sql("inserting log record")?;
    Ok(())
}

/// Appends one line to a row body: the stream's tag byte, the message's
/// length in bytes as an unsigned LEB128 varint, then the message's UTF-8
/// bytes. Length-prefixed, so messages may hold any character.
fn encode_line(body: &mut Vec<u8>, stream: LogStream, message: &str) {
    body.push(stream.tag());
    let mut len = message.len() as u64;
    while len >= 0x80 {
        body.push((len as u8 & 0x7f) | 0x80);
        len >>= 7;
    }
    body.push(len as u8);
    body.extend_from_slice(message.as_bytes());
}

/// Reads back the lines [`encode_line`] wrote, as (tag, message bytes).
struct LineReader<'a> {
    /// The row, for errors.
    id: i64,
    /// What is left of the body.
    body: &'a [u8],
}

impl<'a> LineReader<'a> {
    fn next(&mut self) -> Result<Option<(u8, &'a [u8])>, StoreError> {
        let Some((&tag, mut rest)) = self.body.split_first() else {
            return Ok(None);
        };
        let mut len = 0u64;
        let mut shift = 0;
        loop {
            let Some((&byte, tail)) = rest.split_first() else {
                return Err(self.corrupt("ends inside a length"));
            };
            rest = tail;
            if shift > 63 || (shift == 63 && byte > 1) {
                return Err(self.corrupt("has a length that overflows"));
            }
            len |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let len = usize::try_from(len)
            .ok()
            .filter(|&len| len <= rest.len())
            .ok_or_else(|| self.corrupt("ends inside a line"))?;
        let (message, rest) = rest.split_at(len);
        self.body = rest;
        Ok(Some((tag, message)))
    }

    fn corrupt(&self, what: &str) -> StoreError {
        StoreError::Corrupt(format!("log row {} body {what}", self.id))
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

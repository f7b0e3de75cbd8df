//! Logs, invocation records, statistics and retention.

use std::time::Instant;

use stratus_engine::records::{InvocationRecord, LogRecord, LogStream, Outcome};
use stratus_store_sqlite::{Store, StoreError};

use super::store;

fn log(ts_ms: i64, function: &str, request_id: &str, message: &str) -> LogRecord {
    LogRecord {
        seq: 0,
        ts_ms,
        function: function.to_owned(),
        version: 1,
        request_id: request_id.to_owned(),
        stream: match ts_ms % 3 {
            0 => LogStream::Stdout,
            1 => LogStream::Stderr,
            _ => LogStream::Platform,
        },
        message: message.to_owned(),
    }
}

/// The log lines of one invocation, as the engine writes them: START,
/// `outputs` lines alternating stdout and stderr, END, REPORT.
fn invocation_logs(ts_ms: i64, function: &str, request_id: &str, outputs: usize) -> Vec<LogRecord> {
    let line = |stream, message: String| LogRecord {
        seq: 0,
        ts_ms,
        function: function.to_owned(),
        version: 3,
        request_id: request_id.to_owned(),
        stream,
        message,
    };
    let mut lines = vec![line(
        LogStream::Platform,
        format!("START RequestId: {request_id} Version: 3"),
    )];
    for i in 0..outputs {
        let stream = if i % 2 == 0 {
            LogStream::Stdout
        } else {
            LogStream::Stderr
        };
        lines.push(line(stream, format!("{request_id} output {i}")));
    }
    lines.push(line(
        LogStream::Platform,
        format!("END RequestId: {request_id}"),
    ));
    lines.push(line(
        LogStream::Platform,
        format!("REPORT RequestId: {request_id}\tDuration: 1.00 ms"),
    ));
    lines
}

/// Every log record of `function`, paged `limit` at a time from `after`.
fn read_all(store: &Store, function: &str, after: i64, limit: usize) -> Vec<LogRecord> {
    let mut seen: Vec<LogRecord> = Vec::new();
    let mut cursor = after;
    loop {
        let page = store.logs(function, cursor, limit).unwrap();
        assert!(page.len() <= limit);
        let Some(last) = page.last() else {
            return seen;
        };
        cursor = last.seq;
        seen.extend(page);
    }
}

/// `expected` with the seqs of `got`, to compare everything else.
fn with_seqs(expected: &[LogRecord], got: &[LogRecord]) -> Vec<LogRecord> {
    assert_eq!(got.len(), expected.len());
    expected
        .iter()
        .zip(got)
        .map(|(e, g)| LogRecord {
            seq: g.seq,
            ..e.clone()
        })
        .collect()
}

/// Rows in the logs table.
fn log_rows(dir: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(dir.join("stratus.db")).unwrap();
    conn.query_row("SELECT count(*) FROM logs", [], |row| row.get(0))
        .unwrap()
}

fn invocation(
    ts_ms: i64,
    function: &str,
    outcome: Outcome,
    duration_ms: u64,
    memory_mb: u32,
) -> InvocationRecord {
    InvocationRecord {
        ts_ms,
        function: function.to_owned(),
        version: 1,
        request_id: format!("req-{ts_ms}"),
        trigger: "http".to_owned(),
        outcome,
        cold: false,
        duration_us: duration_ms * 1000,
        init_us: None,
        billed_ms: if outcome == Outcome::Throttled {
            0
        } else {
            duration_ms
        },
        memory_mb,
        max_memory_bytes: 1 << 20,
    }
}

#[test]
fn logs_page_by_seq() {
    let (_dir, store) = store();
    let mut batch = Vec::new();
    for i in 0..25 {
        batch.push(log(i, "f", &format!("r{}", i % 2), &format!("line {i}")));
        batch.push(log(i, "g", "other", "noise"));
    }
    store.append(&batch[..20], &[]).unwrap();
    store.append(&batch[20..], &[]).unwrap();
    store.append(&[], &[]).unwrap();

    let mut seen = Vec::new();
    let mut cursor = 0;
    loop {
        let page = store.logs("f", cursor, 10).unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 10);
        cursor = page.last().unwrap().seq;
        seen.extend(page);
    }
    assert_eq!(seen.len(), 25);
    assert!(seen.windows(2).all(|w| w[0].seq < w[1].seq));
    for (i, rec) in seen.iter().enumerate() {
        let mut expected = log(i as i64, "f", &format!("r{}", i % 2), &format!("line {i}"));
        expected.seq = rec.seq;
        assert_eq!(*rec, expected);
    }
    assert_eq!(store.logs("f", 0, 0).unwrap(), vec![]);
    assert_eq!(store.logs("nobody", 0, 10).unwrap(), vec![]);

    // Sequence numbers keep increasing after a prune empties the table.
    let last = store
        .logs("g", 0, 100)
        .unwrap()
        .last()
        .unwrap()
        .seq
        .max(cursor);
    store.prune(1_000, 0, 0, 0).unwrap();
    store
        .append(&[log(2_000, "f", "new", "after prune")], &[])
        .unwrap();
    let after = store.logs("f", 0, 10).unwrap();
    assert_eq!(after.len(), 1);
    assert!(after[0].seq > last);
}

#[test]
fn one_row_per_invocation_pages_mid_row() {
    let (dir, store) = store();
    let mut f_lines = Vec::new();
    let mut batch = Vec::new();
    for i in 0..60 {
        let f = invocation_logs(1_000 + i, "f", &format!("f{i}"), (i % 7) as usize);
        f_lines.extend(f.iter().cloned());
        batch.extend(f);
        batch.extend(invocation_logs(1_000 + i, "g", &format!("g{i}"), 1));
        if i % 20 == 19 {
            store.append(&batch, &[]).unwrap();
            batch.clear();
        }
    }
    // One row per invocation, and one index on the table.
    assert_eq!(log_rows(dir.path()), 120);
    let conn = rusqlite::Connection::open(dir.path().join("stratus.db")).unwrap();
    let indexes: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'logs'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 1);

    let all = store.logs("f", 0, 10_000).unwrap();
    assert_eq!(all, with_seqs(&f_lines, &all));
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    // Small pages end in the middle of rows and still give every line once.
    for limit in [1, 2, 3, 4, 7] {
        assert_eq!(read_all(&store, "f", 0, limit), all, "limit {limit}");
    }
    // Any seq is a cursor: it continues right after its line.
    for (k, rec) in all.iter().enumerate() {
        let page = store.logs("f", rec.seq, 3).unwrap();
        let end = (k + 4).min(all.len());
        assert_eq!(page, all[k + 1..end], "after line {k}");
    }
    // Cursors between or before seqs work too.
    assert_eq!(store.logs("f", -5, 2).unwrap(), all[..2]);
    assert_eq!(store.logs("f", all[0].seq - 1, 1).unwrap(), all[..1]);
    assert_eq!(
        store.logs("f", all.last().unwrap().seq, 10).unwrap(),
        vec![]
    );
    assert_eq!(store.logs("f", i64::MAX, 10).unwrap(), vec![]);
}

#[test]
fn cursor_continues_across_appends_prunes_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let first = invocation_logs(10, "f", "a", 4);
    store.append(&first, &[]).unwrap();
    // A page that ends inside the row.
    let head = store.logs("f", 0, 3).unwrap();
    assert_eq!(head, with_seqs(&first[..3], &head));
    let cursor = head[2].seq;

    // More rows arrive; the cursor gets the rest of the row, then them.
    let second = invocation_logs(20, "f", "b", 0);
    store.append(&second, &[]).unwrap();
    let rest = store.logs("f", cursor, 100).unwrap();
    let expected: Vec<_> = first[3..].iter().chain(&second).cloned().collect();
    assert_eq!(rest, with_seqs(&expected, &rest));
    assert!(rest[0].seq > cursor);
    let cursor = rest.last().unwrap().seq;
    assert_eq!(store.logs("f", cursor, 100).unwrap(), vec![]);

    // After reopening, the cursor still holds and new seqs are larger.
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(read_all(&store, "f", 0, 2), [head, rest.clone()].concat());
    let third = invocation_logs(30, "f", "c", 1);
    store.append(&third, &[]).unwrap();
    let after = store.logs("f", cursor, 100).unwrap();
    assert_eq!(after, with_seqs(&third, &after));

    // A prune that empties the table does not make seqs go back.
    let last = after.last().unwrap().seq;
    assert_eq!(store.prune(1_000, 0, 0, 0).unwrap(), 7 + 3 + 4);
    assert_eq!(log_rows(dir.path()), 0);
    assert_eq!(store.logs("f", 0, 100).unwrap(), vec![]);
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    store
        .append(&invocation_logs(2_000, "f", "d", 0), &[])
        .unwrap();
    let fresh = store.logs("f", last, 100).unwrap();
    assert_eq!(fresh.len(), 3);
    assert!(fresh[0].seq > last);
}

#[test]
fn messages_and_streams_round_trip() {
    let (dir, store) = store();
    let messages = [
        "",
        "multi\nline\r\nmessage\n",
        "\ttabs\tand\0nul\u{7f}",
        "non-ASCII: héllo wörld, 日本語, emoji 🦀, RTL שלום",
        // Looks like the stored encoding of a line.
        "o\u{5}hello",
        &"x".repeat(200),
        &"long ✓".repeat(20_000),
    ];
    let mut lines = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        for stream in [LogStream::Platform, LogStream::Stdout, LogStream::Stderr] {
            lines.push(LogRecord {
                seq: 0,
                ts_ms: 5,
                function: "f".to_owned(),
                version: u64::MAX >> 1,
                request_id: "req\nwith\todd ✓ chars".to_owned(),
                stream,
                message: format!("{message}{i}"),
            });
        }
    }
    store.append(&lines, &[]).unwrap();
    assert_eq!(log_rows(dir.path()), 1);
    let got = read_all(&store, "f", 0, 4);
    assert_eq!(got, with_seqs(&lines, &got));
}

#[test]
fn rows_split_on_change_and_caps() {
    let (dir, store) = store();
    let line = |ts_ms, request_id: &str, message: String| LogRecord {
        seq: 0,
        ts_ms,
        function: "f".to_owned(),
        version: 1,
        request_id: request_id.to_owned(),
        stream: LogStream::Stdout,
        message,
    };
    let mut lines = Vec::new();
    // More lines than a row holds: 4096 + 4096 + 10.
    lines.extend((0..8_202).map(|i| line(1, "big", format!("{i}"))));
    // Same request id, another timestamp: a row of its own, keeping its ts.
    lines.push(line(2, "big", "later".to_owned()));
    // Same request id again after another one: not merged with the first.
    lines.push(line(2, "other", "x".to_owned()));
    lines.push(line(2, "big", "again".to_owned()));
    // Large lines: about 1 MiB per row.
    lines.extend((0..3).map(|i| line(3, "wide", format!("{i}{}", "w".repeat(600_000)))));
    store.append(&lines, &[]).unwrap();
    assert_eq!(log_rows(dir.path()), 3 + 3 + 3);

    let got = read_all(&store, "f", 0, 1_000);
    assert_eq!(got, with_seqs(&lines, &got));
    assert!(got.windows(2).all(|w| w[0].seq < w[1].seq));
    // Paging across the boundary between the capped rows.
    let around = store.logs("f", got[4_094].seq, 4).unwrap();
    assert_eq!(around, got[4_095..4_099]);
}

#[test]
fn corrupt_log_row_is_reported() {
    let (dir, store) = store();
    store.append(&invocation_logs(1, "f", "r", 1), &[]).unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("stratus.db")).unwrap();
    for (lines, body) in [
        (1, b"o\x05hel".to_vec()),
        (1, b"o".to_vec()),
        (1, b"x\x01a".to_vec()),
        (1, b"o\x02\xff\xfe".to_vec()),
        (2, b"o\x01a".to_vec()),
    ] {
        conn.execute(
            "UPDATE logs SET lines = ?1, body = ?2",
            rusqlite::params![lines, body],
        )
        .unwrap();
        assert!(
            matches!(store.logs("f", 0, 10), Err(StoreError::Corrupt(_))),
            "{body:?}"
        );
    }
}

#[test]
fn stats_percentiles_and_gb_seconds() {
    let (_dir, store) = store();
    let mut records = Vec::new();
    // f: durations 1..=100 ms in scrambled order, memory 128 MB.
    // Invocations 10, 20, ..., 100 ms: 7 errors, 3 timeouts.
    for k in 0..100u64 {
        let d = (k * 37) % 100 + 1;
        let outcome = match d {
            d if d % 10 == 0 && d <= 70 => Outcome::Error,
            d if d % 10 == 0 => Outcome::Timeout,
            _ => Outcome::Ok,
        };
        let mut rec = invocation(1_000 + k as i64, "f", outcome, d, 128);
        rec.cold = d <= 4;
        rec.init_us = rec.cold.then_some(500);
        records.push(rec);
    }
    // Throttled calls of f: not in invocations nor percentiles.
    for k in 0..5 {
        records.push(invocation(1_200 + k, "f", Outcome::Throttled, 100_000, 128));
    }
    // g: 10, 20, 30 ms at 1024 MB, plus one outside the window.
    for (i, d) in [30, 10, 20].into_iter().enumerate() {
        records.push(invocation(1_000 + i as i64, "g", Outcome::Ok, d, 1024));
    }
    records.push(invocation(999, "g", Outcome::Ok, 5_000, 1024));
    store.append(&[], &records).unwrap();

    let stats = store.stats(1_000).unwrap();
    assert_eq!(stats.len(), 2);
    let f = &stats[0];
    assert_eq!(f.function, "f");
    assert_eq!(f.invocations, 100);
    assert_eq!(f.errors, 10);
    assert_eq!(f.throttles, 5);
    assert_eq!(f.cold_starts, 4);
    // Nearest rank: p50 is the 50th of 100 values, p99 the 99th.
    assert_eq!(f.p50_ms, Some(50.0));
    assert_eq!(f.p99_ms, Some(99.0));
    assert_eq!(f.billed_ms, 5050);
    // 5050 ms * 128/1024 GB = 631.25 GB-ms.
    assert!((f.gb_seconds - 0.63125).abs() < 1e-12, "{}", f.gb_seconds);

    let g = &stats[1];
    assert_eq!(g.function, "g");
    assert_eq!(
        (g.invocations, g.errors, g.throttles, g.cold_starts),
        (3, 0, 0, 0)
    );
    // ceil(0.5 * 3) = 2nd of [10, 20, 30]; ceil(0.99 * 3) = 3rd.
    assert_eq!(g.p50_ms, Some(20.0));
    assert_eq!(g.p99_ms, Some(30.0));
    assert_eq!(g.billed_ms, 60);
    assert!((g.gb_seconds - 0.06).abs() < 1e-12, "{}", g.gb_seconds);

    // Only throttles in the window: no percentiles.
    let late = store.stats(1_100).unwrap();
    assert_eq!(late.len(), 1);
    assert_eq!((late[0].invocations, late[0].throttles), (0, 5));
    assert_eq!((late[0].p50_ms, late[0].p99_ms), (None, None));
    assert_eq!(store.stats(10_000).unwrap(), vec![]);

    // Sub-millisecond precision is kept.
    let mut fine = invocation(5_000, "h", Outcome::Ok, 0, 128);
    fine.duration_us = 1_234;
    store.append(&[], &[fine]).unwrap();
    assert_eq!(store.stats(5_000).unwrap()[0].p50_ms, Some(1.234));
}

#[test]
fn prune_by_age_and_count() {
    let (dir, store) = store();
    // 100 invocations of 5 lines, at ts 0..99.
    let logs: Vec<_> = (0..100)
        .flat_map(|ts| invocation_logs(ts, "f", &format!("r{ts}"), 2))
        .collect();
    // More old invocations than one prune batch.
    let invocations: Vec<_> = (0..12_000)
        .map(|i| invocation(i % 100, "f", Outcome::Ok, 1, 128))
        .collect();
    store.append(&logs, &invocations).unwrap();
    assert_eq!(log_rows(dir.path()), 100);

    // Logs older than 50 go (ts 0..49, 250 lines). At most 102 lines stay,
    // whole invocations only: the 20 newest (ts 80..99, 100 lines), so ts
    // 50..79 go (150 lines). Invocations older than 90 go (ts 0..89).
    let deleted = store.prune(100, 50, 102, 10).unwrap();
    assert_eq!(deleted, 250 + 150 + 10_800);
    let left = store.logs("f", 0, 1_000).unwrap();
    assert_eq!(left, with_seqs(&logs[400..], &left));
    assert_eq!(log_rows(dir.path()), 20);
    let stats = store.stats(0).unwrap();
    assert_eq!(stats[0].invocations, 1_200);

    assert_eq!(store.prune(100, 50, 102, 10).unwrap(), 0);
    assert_eq!(store.prune(100, 50, 100, 10).unwrap(), 0);
    // One line under: the oldest invocation left goes whole.
    assert_eq!(store.prune(100, 50, 99, 10).unwrap(), 5);
    assert_eq!(store.logs("f", 0, 1).unwrap()[0].ts_ms, 81);
    // By age, exactly at the boundary: ts 81 and 82 are older than 83.
    assert_eq!(store.prune(183, 100, 1_000, 1_000).unwrap(), 10);
    assert_eq!(store.logs("f", 0, 1).unwrap()[0].ts_ms, 83);
    assert!(matches!(
        store.prune(100, -1, 20, 10),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.prune(100, 0, -1, 10),
        Err(StoreError::Invalid(_))
    ));
}

#[test]
fn prune_logs_in_batches() {
    let (dir, store) = store();
    // More rows than one prune batch, by age and then by count.
    let logs: Vec<_> = (0..12_000)
        .flat_map(|i| invocation_logs(i, "f", "r", 0))
        .collect();
    store.append(&logs, &[]).unwrap();
    assert_eq!(log_rows(dir.path()), 12_000);
    assert_eq!(store.prune(11_000, 5_000, i64::MAX, 0).unwrap(), 6_000 * 3);
    assert_eq!(store.prune(11_000, 1_000_000, 3, 0).unwrap(), 5_999 * 3);
    let left = store.logs("f", 0, 100).unwrap();
    assert_eq!(left, with_seqs(&logs[35_997..], &left));
}

#[test]
fn records_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .append(
                &[log(1, "f", "r", "kept")],
                &[invocation(1, "f", Outcome::Ok, 7, 256)],
            )
            .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.logs("f", 0, 10).unwrap()[0].message, "kept");
    assert_eq!(store.stats(0).unwrap()[0].p50_ms, Some(7.0));
}

/// Not a behaviour test: times appending and reading a million log lines
/// (200k invocations of 5 lines, in batches like the engine's writer).
/// Runs only with `STRATUS_SOAK=1`.
#[test]
fn logs_scale() {
    if std::env::var_os("STRATUS_SOAK").is_none() {
        return;
    }
    let (_dir, store) = store();
    let batches: Vec<Vec<LogRecord>> = (0..200)
        .map(|chunk| {
            (0..1_000)
                .flat_map(|i| {
                    let n = chunk * 1_000 + i;
                    invocation_logs(n, "f", &format!("{n:032x}"), 2)
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    for batch in &batches {
        store.append(batch, &[]).unwrap();
    }
    let appended = started.elapsed();
    let started = Instant::now();
    let all = read_all(&store, "f", 0, 1_000);
    let read = started.elapsed();
    assert_eq!(all.len(), 1_000_000);
    let started = Instant::now();
    store.prune(i64::MAX, i64::MAX, 500_000, i64::MAX).unwrap();
    let pruned = started.elapsed();
    eprintln!("append 1M lines: {appended:?}, page through: {read:?}, prune half: {pruned:?}");
}

/// Not a behaviour test: times `stats` over a million rows. Runs only with
/// `STRATUS_SOAK=1`.
#[test]
fn stats_scale() {
    if std::env::var_os("STRATUS_SOAK").is_none() {
        return;
    }
    let (_dir, store) = store();
    let started = Instant::now();
    for chunk in 0..100 {
        let batch: Vec<_> = (0..10_000u64)
            .map(|i| {
                let n = chunk * 10_000 + i;
                invocation(n as i64, "f", Outcome::Ok, n % 1_000, 128)
            })
            .collect();
        store.append(&[], &batch).unwrap();
    }
    let appended = started.elapsed();
    let started = Instant::now();
    let stats = store.stats(0).unwrap();
    let took = started.elapsed();
    assert_eq!(stats[0].invocations, 1_000_000);
    eprintln!("append 1M: {appended:?}, stats over 1M: {took:?}");
}

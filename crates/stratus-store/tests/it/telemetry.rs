//! Logs, invocation records, statistics and retention.

use std::time::Instant;

use stratus_store::{InvocationRecord, LogRecord, LogStream, Outcome, Store, StoreError};

use crate::store;

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
    let (_dir, store) = store();
    let logs: Vec<_> = (0..100).map(|ts| log(ts, "f", "r", "m")).collect();
    // More old invocations than one prune batch.
    let invocations: Vec<_> = (0..12_000)
        .map(|i| invocation(i % 100, "f", Outcome::Ok, 1, 128))
        .collect();
    store.append(&logs, &invocations).unwrap();

    // Logs older than 50 go (ts 0..49), then all but the 20 newest (ts
    // 50..79); invocations older than 90 go (ts 0..89).
    let deleted = store.prune(100, 50, 20, 10).unwrap();
    assert_eq!(deleted, 50 + 30 + 10_800);
    let left = store.logs("f", 0, 1_000).unwrap();
    let ts: Vec<_> = left.iter().map(|r| r.ts_ms).collect();
    assert_eq!(ts, (80..100).collect::<Vec<_>>());
    let stats = store.stats(0).unwrap();
    assert_eq!(stats[0].invocations, 1_200);

    assert_eq!(store.prune(100, 50, 20, 10).unwrap(), 0);
    assert!(matches!(
        store.prune(100, -1, 20, 10),
        Err(StoreError::Invalid(_))
    ));
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

/// Not a behaviour test: times `stats` over a million rows. Runs only with
/// `STRATUS_STORE_SLOW_TESTS=1`.
#[test]
fn stats_scale() {
    if std::env::var_os("STRATUS_STORE_SLOW_TESTS").is_none() {
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

//! `stratus-bench --schedules`: schedule firing jitter.
//!
//! Deploys `--schedule-functions` wasm functions (the bench component), each
//! with `schedule: rate(1 second)`, lets them fire for `--schedule-seconds`,
//! then reads each function's `START` log lines: the log record's timestamp
//! is when the invocation started, and the tick it serves is the whole
//! second at or before it (rate ticks are anchored on whole seconds). Jitter
//! = start - tick. Every tick commits durably (the store runs SQLite with
//! `synchronous=FULL`) together with its asynchronous invocation before the
//! invocation can start, so the commit is inside the measured jitter.
//!
//! The first tick of each function also loads its instance (a cold start)
//! and is reported on its own.

use super::{Args, Histogram, Stratus, bench_dir, chrono_like_now, logs, start_server, version};
use anyhow::{Context, Result, bail};
use std::time::Duration;

/// Jitter in µs, up to a minute.
fn histogram() -> Result<Histogram<u64>> {
    Ok(Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?)
}

fn ms(us: u64) -> String {
    format!("{:.1}", us as f64 / 1000.0)
}

pub(super) fn run(args: &Args) -> Result<()> {
    let component = args
        .component
        .canonicalize()
        .context("find the component")?;
    let count = args.schedule_functions;
    let stratus: Stratus = start_server(args, bench_dir()?, &[])?;
    let mut manifest = String::from("service: ticks\nfunctions:\n");
    for i in 0..count {
        manifest.push_str(&format!(
            "  tick{i}:\n    handler: {}\n    memorySize: 128\n    events:\n      - schedule: rate(1 second)\n",
            component.display()
        ));
    }
    stratus.deploy(args, "ticks", &manifest)?;
    let seconds = args.schedule_seconds;
    std::thread::sleep(Duration::from_secs_f64(seconds));
    let mut warm = histogram()?;
    let mut cold = histogram()?;
    let mut fired = 0u64;
    let mut aliased = 0u64;
    // Ticks go on firing while we read; each function's log is read once.
    for i in 0..count {
        let name = format!("tick{i}");
        let records = match logs(&stratus, &name) {
            Ok(records) => records,
            Err(_) => continue,
        };
        let mut starts: Vec<i64> = records
            .iter()
            .filter(|r| {
                r["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("START RequestId: "))
            })
            .filter_map(|r| r["tsMs"].as_i64())
            .collect();
        starts.sort();
        let mut seen = std::collections::HashSet::new();
        for (n, start) in starts.iter().enumerate() {
            let tick = start.div_euclid(1000) * 1000;
            if !seen.insert(tick) {
                aliased += 1;
                continue;
            }
            fired += 1;
            let jitter_us = u64::try_from((start - tick) * 1000).unwrap_or(0).max(1);
            if n == 0 {
                cold.record(jitter_us)?;
            } else {
                warm.record(jitter_us)?;
            }
        }
    }
    if warm.is_empty() {
        bail!("no scheduled invocation was logged");
    }
    let expected = (count as f64 * seconds).round() as u64;
    println!("## Schedule jitter, run of {}", chrono_like_now());
    println!();
    println!(
        "Machine: {} cores; {}; {count} wasm functions on `rate(1 second)` for {seconds} s; component {}.",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        version(&args.stratus),
        args.component.display(),
    );
    println!();
    println!(
        "Ticks fired: {fired} (about {expected} expected); two starts within one second of a function (a tick over 1 s late, or fired twice): {aliased}."
    );
    println!();
    println!("| jitter (invocation start − tick) | ticks | p50 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|");
    for (label, h) in [
        ("warm ticks (instance loaded)", &warm),
        ("first tick of each function (cold start)", &cold),
    ] {
        println!(
            "| {label} | {} | {} | {} | {} |",
            h.len(),
            ms(h.value_at_quantile(0.5)),
            ms(h.value_at_quantile(0.99)),
            ms(h.max())
        );
    }
    println!();
    let p99 = warm.value_at_quantile(0.99);
    println!(
        "Target p99 ≤ 50 ms: {} ({} ms).",
        if p99 <= 50_000 { "met" } else { "not met" },
        ms(p99)
    );
    Ok(())
}

//! Schedule expressions: data-driven cases under `tests/cases/schedules/`.
//!
//! `*.ticks` files hold blocks (separated by blank lines) of
//! `expr:`, optional `tz:`, optional `anchor:`, `after:` and `ticks:`
//! followed by one RFC 3339 instant a line (any offset; compared as
//! instants) and optionally `none` when no tick follows. `*.errors` files
//! hold blocks of `expr:`, optional `tz:` and `error:` (the full message).

use crate::cases;
use chrono::DateTime;
use stratus_core::schedule::Schedule;

#[derive(Default, Debug)]
struct Case {
    line: usize,
    expr: Option<String>,
    tz: Option<String>,
    anchor: Option<String>,
    after: Option<String>,
    error: Option<String>,
    ticks: Vec<String>,
}

fn blocks(text: &str) -> Vec<Case> {
    let mut out = Vec::new();
    let mut case = Case::default();
    let mut in_ticks = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('#') {
            continue;
        }
        if line.is_empty() {
            if case.expr.is_some() {
                out.push(std::mem::take(&mut case));
            }
            in_ticks = false;
            continue;
        }
        if case.expr.is_none() {
            case.line = i + 1;
        }
        if in_ticks {
            case.ticks.push(line.to_string());
            continue;
        }
        let (key, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("line {}: expected key: value", i + 1));
        let value = value.trim().to_string();
        match key {
            "expr" => case.expr = Some(value),
            "tz" => case.tz = Some(value),
            "anchor" => case.anchor = Some(value),
            "after" => case.after = Some(value),
            "error" => case.error = Some(value),
            "ticks" => in_ticks = true,
            other => panic!("line {}: unknown key {other}", i + 1),
        }
    }
    if case.expr.is_some() {
        out.push(case);
    }
    out
}

fn instant(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("bad instant {text}: {e}"))
        .timestamp_millis()
}

fn show(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339())
        .unwrap_or_else(|| ms.to_string())
}

#[test]
fn ticks() {
    let mut total = 0;
    let mut failures = Vec::new();
    for file in cases::files("schedules", "ticks") {
        let text = std::fs::read_to_string(&file).expect("case file");
        for case in blocks(&text) {
            total += 1;
            let expr = case.expr.as_deref().unwrap_or_default();
            let at = format!("{}:{} {expr}", cases::name(&file), case.line);
            let schedule = match Schedule::parse(expr, case.tz.as_deref()) {
                Ok(s) => s,
                Err(e) => {
                    failures.push(format!("{at}: refused: {e}"));
                    continue;
                }
            };
            let anchor = case.anchor.as_deref().map(instant).unwrap_or(0);
            let mut after = instant(case.after.as_deref().expect("after:"));
            let mut got = Vec::new();
            for expected in &case.ticks {
                let next = schedule.next_after_anchored(anchor, after);
                if expected == "none" {
                    if let Some(t) = next {
                        got.push(show(t));
                        failures.push(format!("{at}: expected no more ticks, got {}", show(t)));
                    }
                    break;
                }
                match next {
                    Some(t) if t == instant(expected) => {
                        got.push(show(t));
                        after = t;
                    }
                    other => {
                        failures.push(format!(
                            "{at}: tick {} expected {expected}, got {:?} (after {:?})",
                            got.len() + 1,
                            other.map(show),
                            got
                        ));
                        break;
                    }
                }
            }
        }
    }
    cases::report("schedule tick", total, failures);
}

#[test]
fn errors() {
    let mut total = 0;
    let mut failures = Vec::new();
    for file in cases::files("schedules", "errors") {
        let text = std::fs::read_to_string(&file).expect("case file");
        for case in blocks(&text) {
            total += 1;
            let expr = case.expr.as_deref().unwrap_or_default();
            let at = format!("{}:{} {expr}", cases::name(&file), case.line);
            let expected = case.error.as_deref().expect("error:");
            match Schedule::parse(expr, case.tz.as_deref()) {
                Ok(s) => failures.push(format!("{at}: accepted ({s:?}), expected {expected}")),
                Err(e) if e.to_string() == expected => {}
                Err(e) => failures.push(format!("{at}:\n  expected {expected}\n  got      {e}")),
            }
        }
    }
    cases::report("schedule error", total, failures);
}

#[test]
fn missed_ticks_are_counted_and_the_latest_found() {
    let s = Schedule::parse("rate(1 minute)", None).expect("rate");
    let anchor = instant("2024-01-01T00:00:30Z");
    let last = instant("2024-01-01T00:10:30Z");
    let now = instant("2024-01-01T00:15:00Z");
    assert_eq!(
        s.ticks_between(anchor, last, now, 1000),
        Some((4, instant("2024-01-01T00:14:30Z")))
    );
    assert_eq!(s.ticks_between(anchor, now, now, 1000), None);

    let c = Schedule::parse("cron(*/10 * * * ? *)", None).expect("cron");
    let from = instant("2024-01-01T00:05:00Z");
    let until = instant("2024-01-01T01:00:00Z");
    assert_eq!(c.ticks_between(0, from, until, 1000), Some((6, until)));
    // Past the counting limit the latest tick is still found.
    let until = instant("2024-03-01T00:00:00Z");
    assert_eq!(c.ticks_between(0, from, until, 50), Some((50, until)));
}

#[test]
fn accessors() {
    let s = Schedule::parse(" rate(5 minutes) ", Some("Europe/Paris")).expect("rate");
    assert_eq!(s.expression(), "rate(5 minutes)");
    assert_eq!(s.timezone(), "Europe/Paris");
    assert_eq!(s.period_ms(), Some(300_000));
    assert!(!s.is_one_time());
    let c = Schedule::parse("cron(0 2 * * ? *)", None).expect("cron");
    assert_eq!(c.period_ms(), None);
    assert_eq!(c.timezone(), "UTC");
    assert!(
        Schedule::parse("at(2030-01-01T00:00:00)", None)
            .expect("at")
            .is_one_time()
    );
}

//! Data-driven cases of the event-pattern language (`tests/cases/patterns/`)
//! and of input transformers (`tests/cases/transforms/`).
//!
//! A pattern case file is a JSON array of cases, each with a `name` and a
//! `pattern` (or `pattern_text` for text that is not JSON), then either
//! `match` and `no_match` (lists of events) or `error` (the exact message)
//! or `error_prefix`.

use crate::cases;
use serde_json::Value;
use stratus_core::pattern::Pattern;
use stratus_core::transform::{RuleContext, TargetInput};

fn text(case: &Value) -> String {
    match case.get("pattern_text").and_then(Value::as_str) {
        Some(t) => t.to_string(),
        None => case["pattern"].to_string(),
    }
}

#[test]
fn pattern_cases() {
    let mut failures = Vec::new();
    let mut total = 0;
    for file in cases::files("patterns", "json") {
        let body = std::fs::read_to_string(&file).expect("case file");
        let list: Vec<Value> =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for case in list {
            total += 1;
            let name = format!(
                "{}: {}",
                cases::name(&file),
                case["name"].as_str().unwrap_or("?")
            );
            let parsed = Pattern::parse(&text(&case));
            let expected_error = case.get("error").and_then(Value::as_str);
            let error_prefix = case.get("error_prefix").and_then(Value::as_str);
            match (parsed, expected_error, error_prefix) {
                (Err(e), Some(want), _) if e.to_string() == want => {}
                (Err(e), None, Some(prefix)) if e.to_string().starts_with(prefix) => {}
                (Err(e), want, prefix) => failures.push(format!(
                    "{name}: refused with {:?}, expected {:?}",
                    e.to_string(),
                    want.or(prefix).unwrap_or("a match")
                )),
                (Ok(_), Some(want), _) | (Ok(_), None, Some(want)) => {
                    failures.push(format!("{name}: accepted, expected the error {want:?}"))
                }
                (Ok(pattern), None, None) => {
                    for (key, expected) in [("match", true), ("no_match", false)] {
                        for event in case[key].as_array().into_iter().flatten() {
                            if pattern.matches(event) != expected {
                                failures.push(format!(
                                    "{name}: {event} should {}match",
                                    if expected { "" } else { "not " }
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    cases::report("pattern", total, failures);
}

#[test]
fn pattern_errors_name_other_roots() {
    let e = Pattern::parse_named(r#"{"price": [{"numeric": [1]}]}"#, "FilterPolicy")
        .expect_err("invalid");
    assert_eq!(
        e.to_string(),
        "FilterPolicy.price: numeric expects pairs of operator and number"
    );
    assert_eq!(e.path, "FilterPolicy.price");
}

/// A transform case: `event`, at most one of `input` (text), `input_path`,
/// `input_transformer` (an object), then `expected` (exact text),
/// `expected_json` (compared as JSON), `error` or `error_prefix`.
#[test]
fn transform_cases() {
    let rule = RuleContext {
        rule_arn: "arn:aws:events:us-east-1:000000000000:rule/r1",
        rule_name: "r1",
        ingestion_time: "2026-01-02T03:04:05Z",
    };
    let mut failures = Vec::new();
    let mut total = 0;
    for file in cases::files("transforms", "json") {
        let body = std::fs::read_to_string(&file).expect("case file");
        let list: Vec<Value> =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for case in list {
            total += 1;
            let name = case["name"].as_str().unwrap_or("?").to_string();
            let transformer = case.get("input_transformer").map(Value::to_string);
            let parsed = TargetInput::new(
                case.get("input").and_then(Value::as_str),
                case.get("input_path").and_then(Value::as_str),
                transformer.as_deref(),
            );
            let error = case.get("error").and_then(Value::as_str);
            let prefix = case.get("error_prefix").and_then(Value::as_str);
            match parsed {
                Err(e) => {
                    let e = e.to_string();
                    let ok =
                        error.is_some_and(|w| w == e) || prefix.is_some_and(|p| e.starts_with(p));
                    if !ok {
                        failures.push(format!("{name}: refused with {e:?}"));
                    }
                }
                Ok(_) if error.is_some() || prefix.is_some() => {
                    failures.push(format!("{name}: accepted, expected an error"));
                }
                Ok(input) => {
                    let out = input.render(&case["event"], &rule);
                    if let Some(want) = case.get("expected").and_then(Value::as_str) {
                        if out != want {
                            failures.push(format!("{name}: got {out:?}, expected {want:?}"));
                        }
                    } else {
                        let want = &case["expected_json"];
                        match serde_json::from_str::<Value>(&out) {
                            Ok(got) if &got == want => {}
                            _ => failures.push(format!("{name}: got {out}, expected {want}")),
                        }
                    }
                }
            }
        }
    }
    cases::report("transform", total, failures);
}

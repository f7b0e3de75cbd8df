//! Name rules, regions and accounts, driven by `tests/cases/names/`.
//!
//! Each file is a JSON array of `{"kind", "name", "repeat"?, "suffix"?,
//! "fifo"?, "error"?, "partition"?}`: the name is `name` repeated `repeat`
//! times, then `suffix`; `kind` is `function`, `queue`, `topic`, `bus`,
//! `rule`, `region` or `account`; `error` is AWS's text (absent: valid).

use crate::cases;
use serde_json::Value;
use stratus_core::names;
use stratus_core::scope::{AccountId, Region};

fn check(case: &Value) -> Result<Result<Option<String>, String>, String> {
    let base = case["name"].as_str().ok_or("no name")?;
    let repeat = case.get("repeat").and_then(Value::as_u64).unwrap_or(1) as usize;
    let suffix = case.get("suffix").and_then(Value::as_str).unwrap_or("");
    let name = format!("{}{suffix}", base.repeat(repeat));
    let fifo = case.get("fifo").and_then(Value::as_bool).unwrap_or(false);
    let text = |r: Result<(), names::NameError>| r.map(|()| None).map_err(|e| e.to_string());
    Ok(match case["kind"].as_str().ok_or("no kind")? {
        "function" => text(names::function_name(&name)),
        "queue" => text(names::queue_name(&name, fifo)),
        "topic" => text(names::topic_name(&name, fifo)),
        "bus" => text(names::bus_name(&name)),
        "rule" => text(names::rule_name(&name)),
        "region" => Region::new(&name)
            .map(|r| Some(r.partition().to_string()))
            .map_err(|e| e.to_string()),
        "account" => AccountId::new(&name)
            .map(|_| None)
            .map_err(|e| e.to_string()),
        other => return Err(format!("unknown kind {other}")),
    })
}

#[test]
fn name_cases() {
    let mut failures = Vec::new();
    let mut total = 0;
    for file in cases::files("names", "json") {
        let body = std::fs::read_to_string(&file).expect("case file");
        let list: Vec<Value> =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for case in list {
            total += 1;
            let label = format!("{}: {}", cases::name(&file), case);
            let want_error = case.get("error").and_then(Value::as_str);
            let want_partition = case.get("partition").and_then(Value::as_str);
            match check(&case) {
                Err(bad) => failures.push(format!("{label}: bad case: {bad}")),
                Ok(Ok(partition)) if want_error.is_none() => {
                    if want_partition.is_some() && partition.as_deref() != want_partition {
                        failures.push(format!("{label}: partition {partition:?}"));
                    }
                }
                Ok(Err(e)) if Some(e.as_str()) == want_error => {}
                Ok(got) => failures.push(format!("{label}: got {got:?}")),
            }
        }
    }
    cases::report("name", total, failures);
}

#[test]
fn other_fields_and_the_manifest_wrappers() {
    let e = names::bus_name("a/b").expect_err("slash");
    assert_eq!(
        e.at("eventBusName"),
        "1 validation error detected: Value 'a/b' at 'eventBusName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+"
    );
    assert_eq!(e.kind, names::NameKind::Bus);
    assert_eq!(e.problem, names::NameProblem::BadCharacter);
    // The manifest's own rule for queues and topics named without an ARN.
    use stratus_core::manifest::{valid_bus_name, valid_function_name, valid_resource_name};
    assert!(valid_resource_name("orders.fifo"));
    assert!(valid_resource_name(&"q".repeat(80)));
    assert!(!valid_resource_name(&"q".repeat(81)));
    assert!(!valid_resource_name(".fifo"));
    assert!(valid_bus_name("my.bus"));
    assert!(!valid_bus_name("a/b"));
    assert!(valid_function_name("f-1"));
    assert!(!valid_function_name("f.1"));
}

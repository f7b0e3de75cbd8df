//! ARNs, function references and targets, driven by `tests/cases/arns/`.
//!
//! - `parse.json`: `{"arn", "parts"?, "resource"? | "resource_error"? | "error"?}`:
//!   `parts` are partition, service, region, account and resource;
//!   `resource` is what [`Arn::resource_ref`] reads (`{"queue": name}`,
//!   `{"rule": {"bus", "name"}}`, …); `error` is the exact parse error.
//!   Every ARN that parses prints back as the same text.
//! - `targets.json`: `{"text", "target" | "error"}` for [`TargetRef::parse`]
//!   (`target` as TargetRef serialises).
//! - `function_refs.json`: `{"text", "name", "qualifier" | "error"}` for
//!   [`FunctionRef::parse`] (Lambda's `FunctionName` forms).

use crate::cases;
use serde_json::{Value, json};
use stratus_core::TargetRef;
use stratus_core::arn::{Arn, ArnResource, FunctionRef};
use stratus_core::scope::ResourceScope;

fn resource_json(resource: ArnResource<'_>) -> Value {
    match resource {
        ArnResource::Queue(name) => json!({ "queue": name }),
        ArnResource::Topic(name) => json!({ "topic": name }),
        ArnResource::Subscription { topic, id } => {
            json!({"subscription": {"topic": topic, "id": id}})
        }
        ArnResource::Bus(name) => json!({ "bus": name }),
        ArnResource::Rule { bus, name } => json!({"rule": {"bus": bus, "name": name}}),
        ArnResource::Function { name, qualifier } => {
            json!({"function": {"name": name, "qualifier": qualifier}})
        }
        ArnResource::ApiDestination { name, id } => {
            json!({"api_destination": {"name": name, "id": id}})
        }
        ArnResource::Connection { name, id } => json!({"connection": {"name": name, "id": id}}),
        ArnResource::Archive(name) => json!({ "archive": name }),
    }
}

fn parse_case(case: &Value, failures: &mut Vec<String>) {
    let text = case["arn"].as_str().unwrap_or_default();
    let parsed = text.parse::<Arn>();
    let arn = match (parsed, case.get("error").and_then(Value::as_str)) {
        (Err(e), Some(want)) if e.to_string() == want => return,
        (Err(e), want) => {
            failures.push(format!(
                "{text}: refused with {:?}, expected {want:?}",
                e.to_string()
            ));
            return;
        }
        (Ok(_), Some(want)) => {
            failures.push(format!("{text}: accepted, expected the error {want:?}"));
            return;
        }
        (Ok(arn), None) => arn,
    };
    if arn.to_string() != text {
        failures.push(format!("{text}: prints as {arn}"));
    }
    if let Some(parts) = case.get("parts") {
        let got = json!([
            arn.partition,
            arn.service,
            arn.region,
            arn.account,
            arn.resource
        ]);
        if &got != parts {
            failures.push(format!("{text}: parts {got}, expected {parts}"));
        }
    }
    let resource = arn.resource_ref();
    match (resource, case.get("resource"), case.get("resource_error")) {
        (Ok(r), Some(want), _) if &resource_json(r) == want => {}
        (Err(e), _, Some(want)) if want.as_str() == Some(e.to_string().as_str()) => {}
        (_, None, None) => {}
        (got, want, want_error) => failures.push(format!(
            "{text}: resource {:?}, expected {want:?} / {want_error:?}",
            got.map(resource_json).map_err(|e| e.to_string())
        )),
    }
}

fn target_case(case: &Value, failures: &mut Vec<String>) {
    let text = case["text"].as_str().unwrap_or_default();
    let got = TargetRef::parse(text).map(|t| serde_json::to_value(t).unwrap_or_default());
    match (
        got,
        case.get("target"),
        case.get("error").and_then(Value::as_str),
    ) {
        (Ok(t), Some(want), _) if &t == want => {}
        (Err(e), _, Some(want)) if e == want => {}
        (got, want, want_error) => failures.push(format!(
            "{text:?}: {got:?}, expected {want:?} / {want_error:?}"
        )),
    }
}

fn function_ref_case(case: &Value, failures: &mut Vec<String>) {
    let text = case["text"].as_str().unwrap_or_default();
    let got = FunctionRef::parse(text);
    match (got, case.get("error").and_then(Value::as_str)) {
        (Ok(f), None)
            if case["name"] == json!(f.name) && case["qualifier"] == json!(f.qualifier) => {}
        (Err(e), Some(want)) if e.to_string() == want => {}
        (got, want) => failures.push(format!(
            "{text:?}: {:?}, expected {want:?} or {}/{}",
            got.map_err(|e| e.to_string()),
            case["name"],
            case["qualifier"]
        )),
    }
}

#[test]
fn arn_cases() {
    let mut failures = Vec::new();
    let mut total = 0;
    for file in cases::files("arns", "json") {
        let body = std::fs::read_to_string(&file).expect("case file");
        let list: Vec<Value> =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let run: fn(&Value, &mut Vec<String>) = match cases::name(&file).as_str() {
            "parse" => parse_case,
            "targets" => target_case,
            "function_refs" => function_ref_case,
            other => panic!("unknown ARN case file {other}"),
        };
        for case in &list {
            total += 1;
            run(case, &mut failures);
        }
    }
    cases::report("ARN", total, failures);
}

#[test]
fn constructors_print_what_the_old_helpers_printed() {
    use stratus_core::function::{bus_arn, function_arn, queue_arn, rule_arn, topic_arn};
    let s = ResourceScope::DEFAULT;
    let pairs = [
        (
            Arn::queue(&s, "jobs"),
            "arn:aws:sqs:us-east-1:000000000000:jobs",
        ),
        (Arn::topic(&s, "t"), "arn:aws:sns:us-east-1:000000000000:t"),
        (
            Arn::subscription(&s, "t", "worker"),
            "arn:aws:sns:us-east-1:000000000000:t:worker",
        ),
        (
            Arn::bus(&s, "orders"),
            "arn:aws:events:us-east-1:000000000000:event-bus/orders",
        ),
        (
            Arn::rule(&s, "default", "r"),
            "arn:aws:events:us-east-1:000000000000:rule/r",
        ),
        (
            Arn::rule(&s, "orders", "r"),
            "arn:aws:events:us-east-1:000000000000:rule/orders/r",
        ),
        (
            Arn::function(&s, "f", None),
            "arn:aws:lambda:us-east-1:000000000000:function:f",
        ),
        (
            Arn::function(&s, "f", Some("$LATEST")),
            "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST",
        ),
        (
            Arn::api_destination(&s, "hook", "u-1"),
            "arn:aws:events:us-east-1:000000000000:api-destination/hook/u-1",
        ),
        (
            Arn::connection(&s, "auth", "u-2"),
            "arn:aws:events:us-east-1:000000000000:connection/auth/u-2",
        ),
        (
            Arn::archive(&s, "all"),
            "arn:aws:events:us-east-1:000000000000:archive/all",
        ),
    ];
    for (arn, text) in pairs {
        assert_eq!(arn.to_string(), text);
    }
    assert_eq!(queue_arn("jobs"), "arn:aws:sqs:us-east-1:000000000000:jobs");
    assert_eq!(topic_arn("t"), "arn:aws:sns:us-east-1:000000000000:t");
    assert_eq!(
        bus_arn("b"),
        "arn:aws:events:us-east-1:000000000000:event-bus/b"
    );
    assert_eq!(
        rule_arn("default", "r"),
        "arn:aws:events:us-east-1:000000000000:rule/r"
    );
    assert_eq!(
        rule_arn("b", "r"),
        "arn:aws:events:us-east-1:000000000000:rule/b/r"
    );
    assert_eq!(
        function_arn("f", Some("3")),
        "arn:aws:lambda:us-east-1:000000000000:function:f:3"
    );
    let gov = ResourceScope::parse("us-gov-west-1", "123456789012").expect("valid scope");
    assert_eq!(
        Arn::queue(&gov, "q").to_string(),
        "arn:aws-us-gov:sqs:us-gov-west-1:123456789012:q"
    );
    let cn = ResourceScope::parse("cn-north-1", "123456789012").expect("valid scope");
    assert_eq!(
        TargetRef::Bus("b".into()).to_arn(&cn).to_string(),
        "arn:aws-cn:events:cn-north-1:123456789012:event-bus/b"
    );
    assert_eq!(
        TargetRef::Function("f".into()).arn(),
        "arn:aws:lambda:us-east-1:000000000000:function:f"
    );
}

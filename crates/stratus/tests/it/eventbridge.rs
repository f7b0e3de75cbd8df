//! End-to-end tests of the event bus (EventBridge): the real boto3 `events`
//! client against every API and error (AWS's texts), a rule with an input
//! transformer routing to an SQS queue, a FIFO queue target in its
//! `SqsParameters` group, a rule targeting a wasm function, a rule with a
//! `ScheduleExpression` firing to queues and stopping when disabled or
//! deleted, archives and a replay, connections and API destinations
//! delivering (with a retry) to an HTTP endpoint the script serves,
//! permissions and tags; a manifest `eventBridge` event triggering a Python
//! Lambda function, fed by `stratus events put`.

use crate::harness::{Server, app, fixtures, workspace};
use crate::harness::{log_lines, python};
use std::process::Command;
use std::time::{Duration, Instant};

/// Waits until `pred` holds for the logs of `name`; returns them.
fn wait_logs(
    server: &Server,
    name: &str,
    what: &str,
    pred: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let lines = log_lines(server, name);
        if pred(&lines) {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: logs of {name}: {lines:#?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn boto3_events_api_rules_and_targets() {
    let f = fixtures();
    let server = Server::start(&[]);
    let dir = app(&format!(
        "service: bus\nfunctions:\n  tb:\n    handler: {}\n",
        f.testbed.display()
    ));
    server.cli_ok(&["deploy"], dir.path());

    let script = workspace().join("crates/stratus/tests/py/eventbridge.py");
    let out = Command::new(python())
        .arg(&script)
        .envs(server.aws_env())
        .output()
        .expect("run python; ./test.sh prepares a venv with boto3");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains("checks ok"),
        "boto3 events checks failed:\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("tb-event "))
        .expect("the script names the wasm function's event")
        .trim()
        .to_string();

    // The wasm function got the whole event in EventBridge's envelope.
    let lines = wait_logs(
        &server,
        "tb",
        "the wasm function never got its event",
        |lines| lines.iter().any(|l| l.contains(&id)),
    );
    let line = lines.iter().find(|l| l.contains(&id)).expect("the line");
    let event: serde_json::Value =
        serde_json::from_str(line.trim_start_matches("event ").trim()).expect("an event as JSON");
    assert_eq!(event["id"], id.as_str());
    assert_eq!(event["version"], "0");
    assert_eq!(event["source"], "com.shop");
    assert_eq!(event["detail-type"], "Wasm Hello");
    assert_eq!(event["account"], "000000000000");
    assert_eq!(event["region"], "us-east-1");
    assert_eq!(event["resources"], serde_json::json!([]));
    assert_eq!(event["detail"], serde_json::json!({"hello": "wasm"}));
    assert_eq!(event["time"], "2026-01-02T03:04:05Z", "the entry's Time");
    server.assert_healthy();
}

/// A Python Lambda function: prints `EB-OK <id> <amount>` for an order
/// event (checking the envelope), `EB-AUDIT <json>` for the transformed
/// audit input.
const HANDLER: &str = r#"
import json

def check(event, context):
    if "user" in event:
        print("EB-AUDIT", json.dumps(event, sort_keys=True))
        return {}
    for key in ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]:
        assert key in event, (key, event)
    assert event["account"] == "000000000000" and event["region"] == "us-east-1", event
    assert event["source"] == "com.shop" and event["detail-type"] == "Order Placed", event
    assert event["resources"] == ["arn:aws:s3:::bucket"], event
    print("EB-OK", event["id"], event["detail"]["amount"])
    return {}
"#;

#[test]
fn manifest_rules_trigger_a_python_function_through_cli_put() {
    let runtimes = workspace().join("target/stratus-test-runtimes");
    let runtimes = runtimes.display().to_string();
    let server = Server::start(&["--runtimes-dir", &runtimes]);
    let package = tempfile::tempdir().expect("tempdir");
    std::fs::write(package.path().join("app.py"), HANDLER).expect("write app.py");
    let manifest = format!(
        r#"service: ebapp
functions:
  py:
    runtime: python3.11
    handler: app.check
    package: {}
    events:
      - eventBridge:
          pattern:
            source: [com.shop]
            detail:
              amount: [{{numeric: [">", 10]}}]
      - eventBridge:
          bus: audit
          pattern:
            detail-type: [{{prefix: Audit}}]
          inputTransformer:
            inputPathsMap:
              who: $.detail.user
            inputTemplate: '{{"user": <who>, "rule": "<aws.events.rule-name>", "bus": "audit"}}'
"#,
        package.path().display()
    );
    let dir = app(&manifest);
    server.cli_ok(&["deploy"], dir.path());

    let put = |args: &[&str]| {
        let mut all = vec!["events", "put"];
        all.extend_from_slice(args);
        server.cli_ok(&all, dir.path()).trim().to_string()
    };
    let big = put(&[
        "--source",
        "com.shop",
        "--detail-type",
        "Order Placed",
        "--detail",
        r#"{"amount": 20}"#,
        "--resource",
        "arn:aws:s3:::bucket",
    ]);
    let small = put(&[
        "--source",
        "com.shop",
        "--detail-type",
        "Order Placed",
        "--detail",
        r#"{"amount": 5}"#,
        "--resource",
        "arn:aws:s3:::bucket",
    ]);
    assert_eq!(big.len(), 36, "an event id: {big}");
    assert_ne!(big, small);
    // The audit bus was created by the deploy; its rule's input is the
    // transformer's output.
    put(&[
        "--bus",
        "audit",
        "--source",
        "com.auth",
        "--detail-type",
        "Audit login",
        "--detail",
        r#"{"user": "ann"}"#,
    ]);

    let lines = wait_logs(
        &server,
        "py",
        "the Python function did not get both events",
        |lines| {
            lines.iter().any(|l| l.contains(&format!("EB-OK {big} 20")))
                && lines.iter().any(|l| l.contains("EB-AUDIT"))
        },
    );
    let audit = lines
        .iter()
        .find(|l| l.contains("EB-AUDIT"))
        .expect("audit line");
    assert!(
        audit.contains(r#"{"bus": "audit", "rule": "py-eventbridge-2", "user": "ann"}"#),
        "{audit}"
    );
    // The small order matched no rule.
    std::thread::sleep(Duration::from_millis(300));
    let lines = log_lines(&server, "py");
    assert!(!lines.iter().any(|l| l.contains(&small)), "{lines:#?}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("END RequestId:"))
            .count(),
        2,
        "{lines:#?}"
    );

    // Bad input through the CLI.
    let out = server.cli(
        &[
            "events",
            "put",
            "--source",
            "s",
            "--detail-type",
            "t",
            "--detail",
            "[1]",
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--detail must be a JSON object"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = server.cli(
        &[
            "events",
            "put",
            "--bus",
            "nope",
            "--source",
            "s",
            "--detail-type",
            "t",
            "--detail",
            "{}",
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ResourceNotFoundException") && stderr.contains("nope"),
        "{stderr}"
    );
    server.assert_healthy();
}

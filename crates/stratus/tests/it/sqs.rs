//! End-to-end tests of queues (SQS): the real boto3 `sqs` client against a
//! real server, the `stratus queue` CLI, and what a queue trigger's
//! function sees of a message's system attributes.

use crate::harness::python;
use crate::harness::{Server, app, fixtures, workspace};
use crate::sink::Sink;
use std::process::Command;
use std::time::Duration;

/// Runs `tests/py/<script>` against `server` and asserts it passed.
fn run_boto3(server: &Server, script: &str) -> String {
    let path = workspace().join("crates/stratus/tests/py").join(script);
    let out = Command::new(python())
        .arg(&path)
        .envs(server.aws_env())
        .output()
        .expect("run python; ./test.sh prepares a venv with boto3");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains("checks ok"),
        "boto3 checks of {script} failed (run through ./test.sh, which installs boto3):\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn boto3_drives_the_sqs_api() {
    let server = Server::start(&[]);
    run_boto3(&server, "sqs.py");
    server.assert_healthy();
}

#[test]
fn queue_cli_creates_sends_receives_purges_lists_and_redrives() {
    let mut server = Server::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = dir.path();
    let url = server.cli_ok(&["queue", "create", "jobs-dlq"], cwd);
    assert!(url.trim().ends_with("/000000000000/jobs-dlq"), "{url}");
    server.cli_ok(
        &[
            "queue",
            "create",
            "jobs",
            "--visibility-timeout",
            "0",
            "--dlq",
            "jobs-dlq",
            "--max-receive-count",
            "1",
        ],
        cwd,
    );
    let fifo = server.cli_ok(&["queue", "create", "orders", "--fifo"], cwd);
    assert!(fifo.trim().ends_with("/orders.fifo"), "{fifo}");

    // Send and receive (without deleting: it stays, counted as received).
    let id = server.cli_ok(&["queue", "send", "jobs", "hello"], cwd);
    let got = server.cli_ok(&["queue", "receive", "jobs", "--max", "10"], cwd);
    let line: serde_json::Value = serde_json::from_str(got.trim()).expect("a JSON line");
    assert_eq!(line["body"], "hello");
    assert_eq!(line["messageId"], id.trim());
    assert_eq!(line["receiveCount"], 1);
    assert!(line["receiptHandle"].is_string(), "{line}");

    // The second receive moves it to the DLQ (maxReceiveCount 1).
    let none = server.cli(&["queue", "receive", "jobs"], cwd);
    assert!(none.status.success());
    assert!(
        none.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&none.stdout)
    );
    let listing = server.cli_ok(&["queue", "ls"], cwd);
    let row = |name: &str| {
        listing
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .unwrap_or_else(|| panic!("{name} not listed:\n{listing}"))
    };
    assert_eq!(row("jobs-dlq")[1], "1", "{listing}");
    assert_eq!(row("jobs")[1..], ["0", "0", "0", "jobs-dlq"], "{listing}");
    assert_eq!(row("orders.fifo")[1], "0", "{listing}");

    // Redrive it back, then receive with --delete.
    let moved = server.cli_ok(&["queue", "redrive", "jobs-dlq"], cwd);
    assert_eq!(moved.trim(), "moved 1 messages from jobs-dlq");
    let got = server.cli_ok(&["queue", "receive", "jobs", "--delete"], cwd);
    assert!(got.contains("\"hello\""), "{got}");
    assert!(!got.contains("receiptHandle"), "{got}");

    // FIFO with groups and dedup; a long poll that times out empty.
    server.cli_ok(
        &[
            "queue",
            "send",
            "orders.fifo",
            "o1",
            "--group",
            "g",
            "--dedup",
            "1",
        ],
        cwd,
    );
    server.cli_ok(
        &[
            "queue",
            "send",
            "orders.fifo",
            "o2",
            "--group",
            "g",
            "--dedup",
            "2",
        ],
        cwd,
    );
    server.cli_ok(
        &[
            "queue",
            "send",
            "orders.fifo",
            "o1",
            "--group",
            "g",
            "--dedup",
            "1",
        ],
        cwd,
    );
    let got = server.cli_ok(
        &["queue", "receive", "orders.fifo", "--max", "10", "--delete"],
        cwd,
    );
    let bodies: Vec<String> = got
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["body"].to_string())
        .collect();
    assert_eq!(bodies, ["\"o1\"", "\"o2\""]);
    let started = std::time::Instant::now();
    server.cli_ok(&["queue", "receive", "orders.fifo", "--wait", "1"], cwd);
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));

    // Purge, and messages survive a restart (durable before acknowledged).
    server.cli_ok(&["queue", "send", "jobs", "a"], cwd);
    server.cli_ok(&["queue", "send", "jobs", "b", "--delay", "0"], cwd);
    assert_eq!(
        server.cli_ok(&["queue", "purge", "jobs"], cwd).trim(),
        "purged jobs"
    );
    server.cli_ok(&["queue", "send", "jobs", "kept"], cwd);
    server.kill9();
    server.restart();
    let got = server.cli_ok(&["queue", "receive", "jobs", "--delete"], cwd);
    assert!(got.contains("\"kept\""), "{got}");

    // Errors come back readable, with SQS's code.
    let missing = server.cli(&["queue", "send", "nope", "x"], cwd);
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("NonExistentQueue") || stderr.contains("QueueDoesNotExist"),
        "{stderr}"
    );
    server.assert_healthy();
}

/// A message's `AWSTraceHeader` reaches the function of a queue trigger in
/// Lambda's SQS event record (`attributes.AWSTraceHeader`).
#[test]
fn queue_trigger_records_carry_the_trace_header() {
    let f = fixtures();
    let server = Server::start(&[]);
    let sink = Sink::start();
    let dir = app(&format!(
        "service: q\nfunctions:\n  traced:\n    handler: {}\n    timeout: 2\n    environment: {{SINK_URL: '{}'}}\n    allowedOutboundHosts: ['{}']\n    events:\n      - sqs: {{arn: traced-jobs, batchSize: 1}}\n",
        f.testbed.display(),
        sink.url,
        sink.host_port
    ));
    server.cli_ok(&["deploy"], dir.path());
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let script = format!(
        "import boto3\nsqs = boto3.client('sqs')\nurl = sqs.get_queue_url(QueueName='traced-jobs')['QueueUrl']\nsqs.send_message(QueueUrl=url, MessageBody='traced', MessageSystemAttributes={{'AWSTraceHeader': {{'DataType': 'String', 'StringValue': '{trace}'}}}})\nsqs.send_message(QueueUrl=url, MessageBody='untraced')\nprint('sent')\n"
    );
    let out = Command::new(python())
        .arg("-c")
        .arg(&script)
        .envs(server.aws_env())
        .output()
        .expect("run python; ./test.sh prepares a venv with boto3");
    assert!(
        out.status.success(),
        "boto3 send failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = |bodies: &[String]| -> Vec<serde_json::Value> {
        bodies
            .iter()
            .filter_map(|b| serde_json::from_str::<serde_json::Value>(b).ok())
            .filter_map(|event| event["Records"].as_array().cloned())
            .flatten()
            .collect()
    };
    let bodies = sink.wait_for(Duration::from_secs(30), "both records", |bodies| {
        records(bodies).len() >= 2
    });
    let all = records(&bodies);
    let traced = all
        .iter()
        .find(|r| r["body"] == "traced")
        .expect("the traced record");
    assert_eq!(traced["attributes"]["AWSTraceHeader"], trace, "{traced}");
    assert!(
        traced["attributes"]["SentTimestamp"].is_string(),
        "{traced}"
    );
    let untraced = all
        .iter()
        .find(|r| r["body"] == "untraced")
        .expect("the untraced record");
    assert!(
        untraced["attributes"].get("AWSTraceHeader").is_none(),
        "{untraced}"
    );
    server.assert_healthy();
}

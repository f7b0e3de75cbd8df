//! End-to-end tests of queues (SQS): the real boto3 `sqs` client against a
//! real server, and the `stratus queue` CLI.

use crate::harness::python;
use crate::harness::{Server, workspace};
use std::process::Command;

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

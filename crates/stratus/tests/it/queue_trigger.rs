//! Queue triggers (`events: - sqs: ...`) end to end: messages sent with the
//! real boto3 `sqs` client reach wasm and Python functions in Lambda's SQS
//! event shape; partial batch failures keep only the failed messages, which
//! move to the DLQ after `maxReceiveCount`; a visibility timeout shorter than
//! the function's timeout is refused at deploy; and a `kill -9` while a
//! producer sends 10,000 messages loses none that were acknowledged.

use crate::harness::python;
use crate::harness::{Server, app, fixtures, request, workspace};
use crate::sink::Sink;
use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs one step of `tests/py/events_driver.py`; returns its JSON output.
pub fn driver(server: &Server, args: &[&str]) -> serde_json::Value {
    let script = workspace().join("crates/stratus/tests/py/events_driver.py");
    let out = Command::new(python())
        .arg(&script)
        .args(args)
        .envs(server.aws_env())
        .output()
        .expect("run python; ./test.sh prepares a venv with boto3");
    assert!(
        out.status.success(),
        "events_driver {args:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

fn stats(server: &Server) -> serde_json::Value {
    let reply = request(
        "GET",
        &server.api_url("/v1/stats"),
        None,
        &[("authorization", &format!("Bearer {}", server.token))],
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

fn runtimes_server() -> Server {
    let runtimes = workspace().join("target/stratus-test-runtimes");
    Server::start(&[
        "--runtimes-dir",
        &runtimes.display().to_string(),
        "--keep-alive",
        "60",
    ])
}

#[test]
fn wasm_consumer_gets_batches_and_failed_items_reach_the_dlq() {
    let f = fixtures();
    let server = Server::start(&[]);
    let sink = Sink::start();
    driver(&server, &["create-queue", "jobs-dlq"]);
    let redrive = serde_json::json!({
        "VisibilityTimeout": "2",
        "RedrivePolicy": serde_json::json!({
            "deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:jobs-dlq",
            "maxReceiveCount": 2,
        }).to_string(),
    })
    .to_string();
    driver(&server, &["create-queue", "jobs", &redrive]);
    let dir = app(&format!(
        "service: q\nfunctions:\n  worker:\n    handler: {}\n    timeout: 2\n    environment: {{SINK_URL: '{}'}}\n    allowedOutboundHosts: ['{}']\n    events:\n      - sqs: {{arn: jobs, batchSize: 10, functionResponseType: ReportBatchItemFailures}}\n",
        f.testbed.display(),
        sink.url,
        sink.host_port
    ));
    server.cli_ok(&["deploy"], dir.path());

    driver(&server, &["send", "jobs", "30", "ok"]);
    driver(&server, &["send", "jobs", "3", "FAIL"]);
    sink.wait_for(Duration::from_secs(30), "30 ok messages", |_| {
        let got: HashSet<String> = sink.sqs_bodies().into_iter().collect();
        (0..30).all(|i| got.contains(&format!("ok-{i}")))
    });
    // The event has Lambda's shape.
    let first: serde_json::Value =
        serde_json::from_str(&sink.bodies()[0]).expect("an SQS event is JSON");
    let record = &first["Records"][0];
    assert_eq!(record["eventSource"], "aws:sqs");
    assert_eq!(
        record["eventSourceARN"],
        "arn:aws:sqs:us-east-1:000000000000:jobs"
    );
    assert_eq!(record["awsRegion"], "us-east-1");
    assert!(record["messageId"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(
        record["receiptHandle"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(record["md5OfBody"].as_str().is_some_and(|s| s.len() == 32));
    assert!(record["attributes"]["ApproximateReceiveCount"].is_string());
    assert!(record["attributes"]["SentTimestamp"].is_string());

    // Reported failures come back (visibility 2 s) and, received twice,
    // move to the DLQ; the ok messages were deleted and never come back.
    let dead = driver(&server, &["drain", "jobs-dlq", "3", "40"]);
    let mut bodies: Vec<&str> = dead
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|m| m["Body"].as_str())
        .collect();
    bodies.sort();
    assert_eq!(bodies, ["FAIL-0", "FAIL-1", "FAIL-2"]);
    let seen = sink.sqs_bodies();
    let fail_deliveries = seen.iter().filter(|b| b.starts_with("FAIL")).count();
    assert!(
        fail_deliveries >= 6,
        "each FAIL message was delivered twice before the DLQ: {fail_deliveries}"
    );
    let ok_deliveries = seen.iter().filter(|b| b.starts_with("ok-")).count();
    assert_eq!(ok_deliveries, 30, "processed messages were deleted once");

    // The console of record: depth, DLQ, deliveries and retries.
    let figures = stats(&server);
    let queues = figures["queues"].as_array().expect("queues in stats");
    let jobs = queues
        .iter()
        .find(|q| q["name"] == "jobs")
        .expect("jobs in stats");
    assert_eq!(jobs["visible"], 0, "{jobs}");
    assert_eq!(jobs["dlq"], "jobs-dlq", "{jobs}");
    let sources = figures["sources"].as_array().expect("sources in stats");
    let source = sources
        .iter()
        .find(|s| s["kind"] == "sqs" && s["name"] == "jobs")
        .expect("the jobs source in stats");
    assert!(source["deliveries"].as_u64().unwrap_or(0) >= 36, "{source}");
    assert!(source["retries"].as_u64().unwrap_or(0) >= 3, "{source}");
    let metrics = request(
        "GET",
        &server.api_url("/metrics"),
        None,
        &[("authorization", &format!("Bearer {}", server.token))],
    )
    .text();
    assert!(
        metrics.contains("stratus_queue_messages_visible{queue=\"jobs\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("stratus_source_deliveries_total{kind=\"sqs\",name=\"jobs\"}"),
        "{metrics}"
    );
    assert!(metrics.trim_end().ends_with("# EOF"), "{metrics}");
    server.assert_healthy();
}

#[test]
fn python_consumer_reports_batch_item_failures() {
    let server = runtimes_server();
    let sink = Sink::start();
    driver(&server, &["create-queue", "py-dlq"]);
    let redrive = serde_json::json!({
        "VisibilityTimeout": "10",
        "RedrivePolicy": serde_json::json!({
            "deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:py-dlq",
            "maxReceiveCount": 1,
        }).to_string(),
    })
    .to_string();
    driver(&server, &["create-queue", "py-jobs", &redrive]);
    let dir = app(&format!(
        "service: q\nfunctions:\n  pyworker:\n    runtime: python3.11\n    handler: app.sqs_batch\n    package: {}\n    timeout: 10\n    environment: {{SINK_URL: '{}'}}\n    allowedOutboundHosts: ['{}']\n    events:\n      - sqs: {{arn: py-jobs, batchSize: 5, maximumBatchingWindow: 1, functionResponseType: ReportBatchItemFailures}}\n",
        workspace().join("fixtures/lambda/python").display(),
        sink.url,
        sink.host_port
    ));
    server.cli_ok(&["deploy"], dir.path());
    driver(&server, &["send", "py-jobs", "12", "ok"]);
    driver(&server, &["send", "py-jobs", "2", "FAIL"]);
    sink.wait_for(Duration::from_secs(90), "12 ok messages", |_| {
        let got: HashSet<String> = sink.sqs_bodies().into_iter().collect();
        (0..12).all(|i| got.contains(&format!("ok-{i}")))
    });
    // With a batching window, batches fill up to batchSize.
    let sizes: Vec<usize> = sink
        .bodies()
        .iter()
        .filter_map(|b| serde_json::from_str::<serde_json::Value>(b).ok())
        .map(|v| v["Records"].as_array().map_or(0, |r| r.len()))
        .collect();
    assert!(sizes.iter().all(|n| *n <= 5), "{sizes:?}");
    assert!(
        sizes.iter().any(|n| *n > 1),
        "batches were gathered: {sizes:?}"
    );
    // The two failures: received once, then (after the 10 s visibility
    // timeout) moved to the DLQ.
    let dead = driver(&server, &["drain", "py-dlq", "2", "60"]);
    let mut bodies: Vec<&str> = dead
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|m| m["Body"].as_str())
        .collect();
    bodies.sort();
    assert_eq!(bodies, ["FAIL-0", "FAIL-1"]);
    server.assert_healthy();
}

#[test]
fn a_visibility_timeout_shorter_than_the_function_timeout_is_refused() {
    let f = fixtures();
    let server = Server::start(&[]);
    driver(
        &server,
        &["create-queue", "short", r#"{"VisibilityTimeout": "5"}"#],
    );
    let dir = app(&format!(
        "service: q\nfunctions:\n  slow:\n    handler: {}\n    timeout: 10\n    events:\n      - sqs: short\n",
        f.testbed.display()
    ));
    let out = server.cli(&["deploy"], dir.path());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "function `slow`: queue visibility timeout: 5 seconds is less than function timeout: 10 seconds"
        ),
        "{stderr}"
    );
    // A queue the trigger names that does not exist yet is created, with a
    // visibility timeout of six times the function's timeout.
    let dir = app(&format!(
        "service: q\nfunctions:\n  slow:\n    handler: {}\n    timeout: 10\n    events:\n      - sqs: fresh\n",
        f.testbed.display()
    ));
    server.cli_ok(&["deploy"], dir.path());
    let attributes = driver(&server, &["attributes", "fresh"]);
    assert_eq!(attributes["VisibilityTimeout"], "60", "{attributes}");
    server.assert_healthy();
}

#[test]
fn fifo_order_holds_within_groups_under_concurrent_pollers() {
    let f = fixtures();
    let server = Server::start(&[]);
    let sink = Sink::start();
    driver(
        &server,
        &[
            "create-queue",
            "orders.fifo",
            r#"{"FifoQueue": "true", "VisibilityTimeout": "30"}"#,
        ],
    );
    let dir = app(&format!(
        "service: q\nfunctions:\n  ordered:\n    handler: {}\n    timeout: 2\n    environment: {{SINK_URL: '{}'}}\n    allowedOutboundHosts: ['{}']\n    events:\n      - sqs: {{arn: orders.fifo, batchSize: 3, maximumConcurrency: 4}}\n",
        f.testbed.display(),
        sink.url,
        sink.host_port
    ));
    server.cli_ok(&["deploy"], dir.path());
    const GROUPS: usize = 6;
    const PER_GROUP: usize = 30;
    driver(
        &server,
        &[
            "send-fifo",
            "orders.fifo",
            &GROUPS.to_string(),
            &PER_GROUP.to_string(),
        ],
    );
    sink.wait_for(Duration::from_secs(60), "every FIFO message", |_| {
        sink.sqs_bodies().len() >= GROUPS * PER_GROUP
    });
    let bodies = sink.sqs_bodies();
    assert_eq!(
        bodies.len(),
        GROUPS * PER_GROUP,
        "no duplicates: {bodies:?}"
    );
    for g in 0..GROUPS {
        let order: Vec<usize> = bodies
            .iter()
            .filter_map(|b| b.strip_prefix(&format!("g{g}-")))
            .filter_map(|n| n.parse().ok())
            .collect();
        assert_eq!(
            order,
            (0..PER_GROUP).collect::<Vec<_>>(),
            "group g{g} was delivered in order"
        );
    }
    // Several pollers ran batches at once (groups spread over them).
    let sizes: Vec<usize> = sink
        .bodies()
        .iter()
        .filter_map(|b| serde_json::from_str::<serde_json::Value>(b).ok())
        .map(|v| v["Records"].as_array().map_or(0, |r| r.len()))
        .collect();
    assert!(sizes.iter().all(|n| *n <= 3), "{sizes:?}");
    server.assert_healthy();
}

/// Counts of every body in `bodies`.
fn counts(bodies: impl IntoIterator<Item = String>) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for body in bodies {
        *counts.entry(body).or_insert(0) += 1;
    }
    counts
}

#[test]
fn acknowledged_messages_survive_kill_9() {
    const TOTAL: usize = 10_000;
    let f = fixtures();
    let mut server = Server::start(&[]);
    let sink = Sink::start();
    driver(
        &server,
        &["create-queue", "durable", r#"{"VisibilityTimeout": "3"}"#],
    );
    let dir = app(&format!(
        "service: q\nfunctions:\n  consumer:\n    handler: {}\n    timeout: 2\n    environment: {{SINK_URL: '{}'}}\n    allowedOutboundHosts: ['{}']\n    events:\n      - sqs: {{arn: durable, batchSize: 10, maximumConcurrency: 4}}\n",
        f.testbed.display(),
        sink.url,
        sink.host_port
    ));
    server.cli_ok(&["deploy"], dir.path());

    let work = tempfile::tempdir().expect("tempdir");
    let endpoint_file = work.path().join("endpoint");
    let acked_file = work.path().join("acked");
    std::fs::write(&endpoint_file, &server.api).expect("write endpoint");
    let script = workspace().join("crates/stratus/tests/py/events_driver.py");
    let producer = Command::new(python())
        .arg(&script)
        .args(["produce"])
        .arg(&endpoint_file)
        .arg(&acked_file)
        .args([&TOTAL.to_string(), "durable", "4"])
        .envs(server.aws_env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the producer");
    let acked_count = || {
        std::fs::read_to_string(&acked_file)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    // Kill the server while the producer sends and the consumer consumes.
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked_count() < TOTAL / 3 {
        assert!(Instant::now() < deadline, "the producer made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    let processed_before = sink.sqs_bodies().len();
    server.kill9();
    let acked_at_kill = acked_count();
    std::thread::sleep(Duration::from_millis(300));
    server.restart();
    std::fs::write(&endpoint_file, &server.api).expect("write endpoint");

    let out = producer.wait_with_output().expect("producer finished");
    assert!(
        out.status.success(),
        "producer failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let acked: HashSet<String> = std::fs::read_to_string(&acked_file)
        .expect("acked file")
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        acked.len(),
        TOTAL,
        "every message was acknowledged in the end"
    );
    sink.wait_for(
        Duration::from_secs(180),
        "every acknowledged message",
        |_| {
            let got: HashSet<String> = sink.sqs_bodies().into_iter().collect();
            acked.iter().all(|m| got.contains(m))
        },
    );
    let seen = counts(sink.sqs_bodies());
    let lost: Vec<&String> = acked.iter().filter(|m| !seen.contains_key(*m)).collect();
    assert!(lost.is_empty(), "lost {} acknowledged messages", lost.len());
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    eprintln!(
        "durability: {TOTAL} acknowledged ({acked_at_kill} before the kill -9, {processed_before} processed before it); \
         all processed at least once; {duplicates} duplicate deliveries ({} messages delivered more than once)",
        seen.values().filter(|n| **n > 1).count()
    );
    // Nothing is left behind in the queue.
    let attributes = driver(&server, &["attributes", "durable"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut attributes = attributes;
    while attributes["ApproximateNumberOfMessages"] != "0"
        || attributes["ApproximateNumberOfMessagesNotVisible"] != "0"
    {
        assert!(Instant::now() < deadline, "queue not drained: {attributes}");
        std::thread::sleep(Duration::from_millis(200));
        attributes = driver(&server, &["attributes", "durable"]);
    }
    server.assert_healthy();
}

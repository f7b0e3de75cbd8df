//! Asynchronous invocation's failure paths end to end: boto3 `Event`
//! invocations of a function that always fails are retried
//! `maximumRetryAttempts` times under one request id, then Lambda's
//! destination record goes to `onFailure` and the event itself to the DLQ
//! (`onError`); a succeeding function's record goes to `onSuccess`.

use crate::harness::{Server, app, fixtures, workspace};
use crate::queue_trigger::driver;

fn drain_one(server: &Server, queue: &str) -> serde_json::Value {
    let got = driver(server, &["drain", queue, "1", "60"]);
    got.as_array()
        .and_then(|list| list.first().cloned())
        .unwrap_or_else(|| panic!("no message in {queue}: {got}"))
}

#[test]
fn failures_go_to_destinations_and_the_dlq_and_successes_to_on_success() {
    let f = fixtures();
    let runtimes = workspace().join("target/stratus-test-runtimes");
    let server = Server::start(&[
        "--runtimes-dir",
        &runtimes.display().to_string(),
        "--async-retry-delay",
        "0.2",
    ]);
    let dir = app(&format!(
        "service: a\nfunctions:\n  failing:\n    runtime: python3.11\n    handler: app.always_fail\n    package: {}\n    maximumRetryAttempts: 1\n    destinations:\n      onFailure: arn:aws:sqs:us-east-1:000000000000:failures\n    onError: arn:aws:sqs:us-east-1:000000000000:dead\n  fine:\n    handler: {}\n    maximumEventAge: 60\n    destinations:\n      onSuccess: arn:aws:sqs:us-east-1:000000000000:successes\n",
        workspace().join("fixtures/lambda/python").display(),
        f.testbed.display()
    ));
    // The queues the destinations name are created by the deploy.
    server.cli_ok(&["deploy"], dir.path());

    let request_id = driver(&server, &["invoke-event", "failing", r#"{"order": 7}"#]);
    let request_id = request_id.as_str().expect("a request id").to_string();
    let message = drain_one(&server, "failures");
    let record: serde_json::Value =
        serde_json::from_str(message["Body"].as_str().expect("body")).expect("a JSON record");
    assert_eq!(record["version"], "1.0");
    let context = &record["requestContext"];
    assert_eq!(context["requestId"], request_id.as_str(), "{record}");
    assert_eq!(context["condition"], "RetriesExhausted", "{record}");
    assert_eq!(
        context["approximateInvokeCount"], 2,
        "1 + maximumRetryAttempts: {record}"
    );
    assert_eq!(
        context["functionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:failing:1"
    );
    assert_eq!(record["requestPayload"], serde_json::json!({"order": 7}));
    assert_eq!(record["responseContext"]["functionError"], "Unhandled");
    assert_eq!(
        record["responsePayload"]["errorType"], "RuntimeError",
        "{record}"
    );
    assert!(
        record["responsePayload"]["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("always failing")),
        "{record}"
    );

    // The DLQ gets the event itself, with Lambda's attributes.
    let dead = drain_one(&server, "dead");
    assert_eq!(dead["Body"], r#"{"order": 7}"#);
    let attributes = &dead["MessageAttributes"];
    assert_eq!(attributes["RequestID"]["StringValue"], request_id.as_str());
    assert_eq!(attributes["ErrorCode"]["StringValue"], "RuntimeError");

    // A success goes to onSuccess with the function's answer.
    let request_id = driver(&server, &["invoke-event", "fine", r#"{"hello": "world"}"#]);
    let message = drain_one(&server, "successes");
    let record: serde_json::Value =
        serde_json::from_str(message["Body"].as_str().expect("body")).expect("a JSON record");
    assert_eq!(record["requestContext"]["condition"], "Success");
    assert_eq!(record["requestContext"]["requestId"], request_id);
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 1);
    assert_eq!(
        record["requestPayload"],
        serde_json::json!({"hello": "world"})
    );
    assert_eq!(
        record["responsePayload"],
        serde_json::json!({"batchItemFailures": []}),
        "the testbed's answer to an event: {record}"
    );
    server.assert_healthy();
}

//! Lambda's Invoke API, driven by the real boto3 client.

use crate::harness::python;
use crate::harness::{Server, app, fixtures, request, workspace};
use std::process::Command;

#[test]
fn boto3_invokes_functions() {
    let f = fixtures();
    let server = Server::start(&[]);
    let manifest = |color: &str| {
        format!(
            "service: lam\nfunctions:\n  tb:\n    handler: {0}\n    timeout: 1\n    environment:\n      COLOR: {color}\n  zero:\n    handler: {0}\n    reservedConcurrency: 0\n",
            f.testbed.display()
        )
    };
    let dir = app(&manifest("red"));
    server.cli_ok(&["deploy"], dir.path());
    std::fs::write(dir.path().join("stratus.yaml"), manifest("blue")).expect("write");
    let out = server.cli_ok(&["deploy"], dir.path());
    assert!(out.contains("tb: updated (version 2)"), "{out}");

    let script = workspace().join("crates/stratus/tests/py/lambda_invoke.py");
    let out = Command::new(python())
        .arg(&script)
        .env("STRATUS_ENDPOINT", &server.api)
        .envs(server.aws_env())
        .output()
        .expect("run python; ./test.sh prepares a venv with boto3");
    assert!(
        out.status.success(),
        "boto3 checks failed (run through ./test.sh, which installs boto3):\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("checks ok"));
    server.assert_healthy();
}

#[test]
fn invoke_api_needs_some_authentication() {
    let f = fixtures();
    let server = Server::start(&[]);
    let dir = app(&format!(
        "service: a\nfunctions:\n  tb:\n    handler: {}\n",
        f.testbed.display()
    ));
    server.cli_ok(&["deploy"], dir.path());
    let url = server.api_url("/2015-03-31/functions/tb/invocations");
    let anonymous = request("POST", &url, Some(b"\"/version\""), &[]);
    assert_eq!(anonymous.status, 403);
    assert_eq!(
        anonymous.header("x-amzn-errortype"),
        Some("MissingAuthenticationTokenException")
    );
    let wrong = request(
        "POST",
        &url,
        Some(b"\"/version\""),
        &[("authorization", "Bearer nope")],
    );
    assert_eq!(wrong.status, 403);
    let auth = format!("Bearer {}", server.token);
    let ok = request(
        "POST",
        &url,
        Some(b"\"/version\""),
        &[("authorization", auth.as_str())],
    );
    assert_eq!(ok.status, 200);
    assert_eq!(ok.text(), "testbed v1");
    assert_eq!(ok.header("x-amz-executed-version"), Some("1"));
    let bad_name = request(
        "POST",
        &server.api_url("/2015-03-31/functions/bad%20name/invocations"),
        Some(b"{}"),
        &[("authorization", auth.as_str())],
    );
    assert_eq!(bad_name.status, 400);
    assert_eq!(
        bad_name.header("x-amzn-errortype"),
        Some("InvalidParameterValueException")
    );
}

/// Polls a function's logs until `done` accepts them (or 30 s pass).
fn wait_for_logs(server: &Server, name: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let reply = server.api("GET", &format!("/v1/functions/{name}/logs"), None);
        let lines: Vec<String> = reply.json()["records"]
            .as_array()
            .map(|records| {
                records
                    .iter()
                    .filter_map(|r| r["message"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if done(&lines) || std::time::Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn event_invoke(server: &Server, name: &str, payload: &[u8]) -> String {
    let auth = format!("Bearer {}", server.token);
    let reply = request(
        "POST",
        &server.api_url(&format!("/2015-03-31/functions/{name}/invocations")),
        Some(payload),
        &[
            ("authorization", auth.as_str()),
            ("x-amz-invocation-type", "Event"),
        ],
    );
    assert_eq!(reply.status, 202, "{}", reply.text());
    reply
        .header("x-amzn-requestid")
        .expect("request id header")
        .to_string()
}

#[test]
fn event_invocations_retry_with_the_same_request_id() {
    let f = fixtures();
    let server = Server::start(&["--async-retry-delay", "0.2"]);
    let dir = app(&format!(
        "service: ev\nfunctions:\n  tb:\n    handler: {}\n",
        f.testbed.display()
    ));
    server.cli_ok(&["deploy"], dir.path());

    // A success runs once.
    let ok = event_invoke(&server, "tb", b"\"/version\"");
    let start = format!("START RequestId: {ok} ");
    let lines = wait_for_logs(&server, "tb", |l| l.iter().any(|m| m.starts_with(&start)));
    assert_eq!(
        lines.iter().filter(|m| m.starts_with(&start)).count(),
        1,
        "{lines:#?}"
    );

    // A failure runs three times (two retries), each under the same id.
    let failing = event_invoke(&server, "tb", b"\"/trap\"");
    let start = format!("START RequestId: {failing} ");
    let lines = wait_for_logs(&server, "tb", |l| {
        l.iter().filter(|m| m.starts_with(&start)).count() >= 3
    });
    assert_eq!(
        lines.iter().filter(|m| m.starts_with(&start)).count(),
        3,
        "{lines:#?}"
    );
    // And no more after that.
    std::thread::sleep(std::time::Duration::from_millis(800));
    let lines = wait_for_logs(&server, "tb", |_| true);
    assert_eq!(
        lines.iter().filter(|m| m.starts_with(&start)).count(),
        3,
        "{lines:#?}"
    );
    let usage = server.api("GET", "/v1/stats", None).json();
    assert!(usage.to_string().contains("tb"), "{usage}");
    server.assert_healthy();
}

#[test]
fn acknowledged_events_survive_kill_9() {
    let f = fixtures();
    let mut server = Server::start(&[]);
    let dir = app(&format!(
        "service: ev\nfunctions:\n  tb:\n    handler: {}\n    timeout: 10\n",
        f.testbed.display()
    ));
    server.cli_ok(&["deploy"], dir.path());
    // The first is running (sleeping) when the server dies; the others are
    // queued behind nothing but may not have started.
    let ids: Vec<String> = (0..5)
        .map(|_| event_invoke(&server, "tb", b"\"/sleep/1500\""))
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    server.kill9();
    server.restart();
    let lines = wait_for_logs(&server, "tb", |l| {
        ids.iter().all(|id| {
            let end = format!("END RequestId: {id}");
            l.contains(&end)
        })
    });
    for id in &ids {
        let end = format!("END RequestId: {id}");
        assert!(lines.contains(&end), "event {id} was lost: {lines:#?}");
    }
    server.assert_healthy();
}

//! Lambda's Invoke API, driven by the real boto3 client.

use crate::harness::{Server, app, fixtures, request, workspace};
use std::process::Command;

/// The Python with boto3 that `test.sh` prepares (STRATUS_TEST_PYTHON).
fn python() -> String {
    std::env::var("STRATUS_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

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

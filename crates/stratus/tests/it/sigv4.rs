//! End-to-end tests of SigV4 authentication: the admin key and
//! `stratus credentials`, AWS's error codes for bad signatures with the real
//! boto3 clients, and per-function credentials used by the AWS SDK inside
//! wasm and Python functions with no key or endpoint in their code.

use crate::harness::python;
use crate::harness::{BIN, Server, app, fixtures, request, workspace};
use std::process::Command;
use std::time::{Duration, Instant};
use stratus_aws::sigv4::{Credentials, Signer};
use ureq::http;

/// A request to the API listener signed with `credentials` for `service`.
fn signed(
    server: &Server,
    service: &str,
    credentials: &Credentials,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> crate::harness::Reply {
    let url = server.api_url(path);
    let uri: http::Uri = url.parse().expect("uri");
    let mut map = http::HeaderMap::new();
    for (k, v) in headers {
        map.insert(
            http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
            http::HeaderValue::from_str(v).expect("value"),
        );
    }
    let signer = Signer {
        credentials: credentials.clone(),
        region: "us-east-1".into(),
        service: service.into(),
    };
    signer
        .sign("POST", &uri, &mut map, body, chrono::Utc::now())
        .expect("sign");
    let pairs: Vec<(String, String)> = map
        .iter()
        .filter(|(k, _)| *k != http::header::HOST)
        .map(|(k, v)| (k.to_string(), v.to_str().expect("ascii").to_string()))
        .collect();
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    request("POST", &url, Some(body), &refs)
}

fn admin(server: &Server) -> Credentials {
    let (key_id, secret) = server.admin_key();
    Credentials {
        key_id,
        secret,
        session_token: None,
    }
}

#[test]
fn admin_key_is_issued_once_and_printed_for_a_shell() {
    let f = fixtures();
    let mut server = Server::start(&[]);
    let (key_id, secret) = server.admin_key();
    assert!(
        key_id.starts_with("AKIA")
            && key_id.len() == 20
            && key_id[4..]
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "{key_id}"
    );
    assert_eq!(secret.len(), 40);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(server.data_dir.join("credentials"))
            .expect("credentials file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let dir = app(&format!(
        "service: cred\nfunctions:\n  tb:\n    handler: {}\n",
        f.testbed.display()
    ));
    server.cli_ok(&["deploy"], dir.path());
    let out = server.cli_ok(&["credentials"], dir.path());
    assert_eq!(
        out,
        format!(
            "export AWS_ACCESS_KEY_ID={key_id}\nexport AWS_SECRET_ACCESS_KEY={secret}\nexport AWS_ENDPOINT_URL={}\nexport AWS_DEFAULT_REGION=us-east-1\n",
            server.api
        )
    );

    // `eval "$(stratus credentials)"`, then boto3 works with no arguments.
    let script = format!(
        "eval \"$('{BIN}' credentials --data-dir '{}')\" && '{}' -c 'import boto3; print(boto3.client(\"lambda\").invoke(FunctionName=\"tb\", Payload=b\"\\\"/version\\\"\")[\"Payload\"].read().decode())'",
        server.data_dir.display(),
        python()
    );
    let shell = Command::new("bash")
        .args(["-c", &script])
        .env("HOME", server.home.path())
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("bash");
    assert!(
        shell.status.success(),
        "{}",
        String::from_utf8_lossy(&shell.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&shell.stdout).trim(), "testbed v1");

    // The same key after a restart.
    server.stop();
    server.restart();
    assert_eq!(server.admin_key(), (key_id, secret));
    let out = server.cli_ok(&["credentials"], dir.path());
    assert!(
        out.contains(&format!("AWS_ENDPOINT_URL={}\n", server.api)),
        "{out}"
    );
}

#[test]
fn boto3_gets_aws_auth_errors() {
    let f = fixtures();
    let server = Server::start(&[]);
    let dir = app(&format!(
        "service: auth\nfunctions:\n  tb:\n    handler: {}\n    events:\n      - httpApi: GET /env/{{name}}\n      - httpApi: GET /fetch\n",
        f.testbed.display()
    ));
    server.cli_ok(&["deploy"], dir.path());

    // The wasm function has its own key and the API as its endpoint, which
    // it may reach although it allows no outbound hosts.
    let env = |name: &str| {
        let reply = server.get(&format!("/env/{name}"));
        assert_eq!(reply.status, 200, "{name}: {}", reply.text());
        reply.text()
    };
    let key_id = env("AWS_ACCESS_KEY_ID");
    let secret = env("AWS_SECRET_ACCESS_KEY");
    let token = env("AWS_SESSION_TOKEN");
    assert!(key_id.starts_with("ASIA") && key_id.len() == 20, "{key_id}");
    assert_eq!(secret.len(), 40);
    assert_ne!(key_id, server.admin_key().0);
    assert_eq!(env("AWS_ENDPOINT_URL"), server.api);
    assert_eq!(env("AWS_REGION"), "us-east-1");
    let health = server.get(&format!("/fetch?url={}/v1/health", server.api));
    assert_eq!(health.status, 200, "{}", health.text());
    assert!(health.text().contains("200"), "{}", health.text());

    let out = Command::new(python())
        .arg(workspace().join("crates/stratus/tests/py/sigv4.py"))
        .envs(server.aws_env())
        .env("FUNCTION_KEY_ID", &key_id)
        .env("FUNCTION_SECRET", &secret)
        .env("FUNCTION_TOKEN", &token)
        .output()
        .expect("run python; ./test.sh prepares a venv with boto3");
    assert!(
        out.status.success(),
        "boto3 checks failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("checks ok"));

    // A malformed Authorization header is IncompleteSignature (400).
    let lambda = "/2015-03-31/functions/tb/invocations";
    let url = server.api_url(lambda);
    let malformed = request(
        "POST",
        &url,
        Some(b"\"/version\""),
        &[(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAX/20150830/us-east-1/lambda/aws4_request",
        )],
    );
    assert_eq!(malformed.status, 400, "{}", malformed.text());
    assert_eq!(
        malformed.header("x-amzn-errortype"),
        Some("IncompleteSignatureException")
    );
    // A request signed for another region or service.
    let other_service = signed(
        &server,
        "sqs",
        &admin(&server),
        lambda,
        &[],
        b"\"/version\"",
    );
    assert_eq!(other_service.status, 403);
    assert_eq!(
        other_service.header("x-amzn-errortype"),
        Some("InvalidSignatureException")
    );
    assert!(
        other_service.text().contains("scoped to correct service"),
        "{}",
        other_service.text()
    );
    // Signed properly for `lambda`, it passes.
    let good = signed(
        &server,
        "lambda",
        &admin(&server),
        lambda,
        &[],
        b"\"/version\"",
    );
    assert_eq!(good.status, 200, "{}", good.text());

    // The function's key goes with the function.
    let function_key = Credentials {
        key_id: key_id.clone(),
        secret: secret.clone(),
        session_token: Some(token.clone()),
    };
    let before = signed(
        &server,
        "lambda",
        &function_key,
        lambda,
        &[],
        b"\"/version\"",
    );
    assert_eq!(before.status, 200, "{}", before.text());
    server.cli_ok(&["remove", "tb"], dir.path());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let after = signed(
            &server,
            "sqs",
            &function_key,
            "/",
            &[
                ("x-amz-target", "AmazonSQS.ListQueues"),
                ("content-type", "application/x-amz-json-1.0"),
            ],
            b"{}",
        );
        if after.status == 403 {
            assert!(
                after.text().contains("UnrecognizedClientException"),
                "{}",
                after.text()
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "removed function's key still accepted"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    server.assert_healthy();
}

/// A Python function calls the Lambda Invoke API (on a wasm function) and
/// SQS `ListQueues` through boto3 with no endpoint or key in its code: its
/// sandbox's credentials and endpoint are enough.
#[test]
fn python_function_uses_boto3_with_its_own_credentials() {
    let f = fixtures();
    let runtimes = workspace().join("target/stratus-test-runtimes");
    let runtimes = runtimes.display().to_string();
    let server = Server::start(&["--runtimes-dir", &runtimes]);
    let pkg = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        pkg.path().join("caller.py"),
        r#"import json, os
import boto3
from botocore.exceptions import ClientError


def handler(event, context):
    answer = boto3.client("lambda").invoke(FunctionName="tb", Payload=b'"/version"')
    try:
        boto3.client("sqs").list_queues()
        sqs = "ok"
    except ClientError as e:
        sqs = e.response["Error"]["Code"]
    return {
        "invoke": answer["Payload"].read().decode(),
        "sqs": sqs,
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "runtime_api": os.environ.get("AWS_LAMBDA_RUNTIME_API"),
        "key": os.environ.get("AWS_ACCESS_KEY_ID"),
    }
"#,
    )
    .expect("write handler");
    let dir = app(&format!(
        "service: py\nfunctions:\n  tb:\n    handler: {}\n  caller:\n    runtime: python3.11\n    handler: caller.handler\n    package: {}\n    timeout: 60\n",
        f.testbed.display(),
        pkg.path().display()
    ));
    server.cli_ok(&["deploy"], dir.path());
    let auth = format!("Bearer {}", server.token);
    let reply = request(
        "POST",
        &server.api_url("/2015-03-31/functions/caller/invocations"),
        Some(b"{}"),
        &[("authorization", auth.as_str())],
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.header("x-amz-function-error"),
        None,
        "{}",
        reply.text()
    );
    let body = reply.json();
    assert_eq!(body["invoke"], "testbed v1", "{body}");
    let key = body["key"].as_str().unwrap_or_default();
    assert!(key.starts_with("ASIA"), "{body}");
    let endpoint = body["endpoint"].as_str().unwrap_or_default();
    let runtime_api = body["runtime_api"].as_str().unwrap_or_default();
    assert!(
        endpoint == server.api || endpoint == format!("http://{runtime_api}"),
        "{body}"
    );
    // Without network access (own namespace), the endpoint is the
    // instance's Runtime API listener, which serves the AWS APIs too.
    assert_eq!(body["sqs"], "ok", "{body}");
    server.assert_healthy();
}

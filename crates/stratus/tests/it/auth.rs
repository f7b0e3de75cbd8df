//! The control API's bearer token.

use crate::harness::{Server, request};
use std::os::unix::fs::PermissionsExt;

#[test]
fn requests_without_a_valid_token_get_401() {
    let server = Server::start(&[]);
    let mode = std::fs::metadata(server.data_dir.join("token"))
        .expect("token")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let missing = request("GET", &server.api_url("/v1/functions"), None, &[]);
    assert_eq!(missing.status, 401);
    assert_eq!(missing.json()["code"], "Unauthorized");
    let wrong = request(
        "GET",
        &server.api_url("/v1/functions"),
        None,
        &[("authorization", "Bearer nope")],
    );
    assert_eq!(wrong.status, 401);
    let upload = request(
        "PUT",
        &server.api_url(&format!("/v1/artifacts/{}", "0".repeat(64))),
        Some(b"x"),
        &[],
    );
    assert_eq!(upload.status, 401);
    assert_eq!(
        request("GET", &server.api_url("/metrics"), None, &[]).status,
        401
    );
    assert_eq!(server.api("GET", "/v1/functions", None).status, 200);

    // the CLI with a wrong token says so
    let out = std::process::Command::new(crate::harness::BIN)
        .args(["ls", "--endpoint", &server.api])
        .env("STRATUS_TOKEN", "wrong")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bearer token is not valid"));

    // a restart keeps the same token
    let token = server.token.clone();
    let mut server = server;
    server.stop();
    server.restart();
    let again = std::fs::read_to_string(server.data_dir.join("token")).expect("token");
    assert_eq!(again.trim(), token);
}

#[test]
fn malformed_control_requests_get_400() {
    let server = Server::start(&[]);
    let bad_json = server.api("POST", "/v1/deployments", Some(b"{not json"));
    assert_eq!(bad_json.status, 400);
    assert!(
        bad_json.json()["message"]
            .as_str()
            .unwrap_or("")
            .contains("malformed deployment document")
    );
    let wrong_format = server.api(
        "POST",
        "/v1/deployments",
        Some(br#"{"format":99,"service":"s","functions":[]}"#),
    );
    assert_eq!(wrong_format.status, 400);
    let bad_sha = server.api("PUT", "/v1/artifacts/xyz", Some(b"\0asm"));
    assert_eq!(bad_sha.status, 400);
    let mismatch = server.api(
        "PUT",
        &format!("/v1/artifacts/{}", "a".repeat(64)),
        Some(b"\0asm\x0d\0\x01\0"),
    );
    assert_eq!(mismatch.status, 400, "{}", mismatch.text());
    let unknown = server.api("POST", "/v1/functions/ghost/invoke", Some(b"{}"));
    assert_eq!(unknown.status, 404);
    let not_uploaded = server.api(
        "POST",
        "/v1/deployments",
        Some(format!(r#"{{"format":1,"service":"s","functions":[{{"name":"f","runtime":"wasm","artifact":"{}","memorySize":128,"timeout":3}}]}}"#, "b".repeat(64)).as_bytes()),
    );
    assert_eq!(not_uploaded.status, 400, "{}", not_uploaded.text());
    assert!(not_uploaded.text().contains("was not uploaded"));
    server.assert_healthy();
}

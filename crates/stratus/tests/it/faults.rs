//! Functions that loop, leak memory, trap, or send too much: each gets the
//! right status and log line, and the server keeps serving.

use crate::harness::{Server, app, fixtures, request};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

fn testbed_app(extra: &str, routes: &[&str]) -> String {
    let f = fixtures();
    let mut events = String::new();
    for r in routes {
        events.push_str(&format!("      - httpApi: {r}\n"));
    }
    format!(
        "service: faults\nfunctions:\n  tb:\n    handler: {}\n    timeout: 1\n    memorySize: 32\n{extra}    events:\n{events}",
        f.testbed.display()
    )
}

fn logs(server: &Server, dir: &std::path::Path) -> String {
    server.cli_ok(&["logs", "tb", "-n", "0"], dir)
}

#[test]
fn loop_oom_trap_and_oversized_bodies() {
    let server = Server::start(&[]);
    let dir = app(&testbed_app(
        "",
        &[
            "GET /loop",
            "GET /sleep/{ms}",
            "GET /oom",
            "GET /trap",
            "POST /echo",
            "GET /big/{n}",
            "GET /version",
        ],
    ));
    server.cli_ok(&["deploy"], dir.path());

    // an infinite loop is stopped at the timeout
    let reply = server.get("/loop");
    assert_eq!(reply.status, 504, "{}", reply.text());
    assert_eq!(reply.json()["message"], "Endpoint request timed out");
    assert!(logs(&server, dir.path()).contains("Task timed out after 1.00 seconds"));
    assert_eq!(server.get("/version").status, 200);

    // a guest blocked in a host call (not running wasm) is stopped too
    let started = std::time::Instant::now();
    let reply = server.get("/sleep/5000");
    assert_eq!(reply.status, 504, "{}", reply.text());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // a memory bomb hits memorySize
    let reply = server.get("/oom");
    assert_eq!(reply.status, 500);
    assert_eq!(reply.json()["message"], "Internal Server Error");
    let text = logs(&server, dir.path());
    assert!(text.contains("Runtime.OutOfMemory"), "{text}");
    assert!(text.contains("Max Memory Used: 32 MB"), "{text}");

    // a trap: safe body, the panic message in the logs
    let reply = server.get("/trap");
    assert_eq!(reply.status, 500);
    assert_eq!(reply.text(), r#"{"message":"Internal Server Error"}"#);
    let text = logs(&server, dir.path());
    assert!(text.contains("boom"), "{text}");
    assert!(text.contains("Runtime.Trap"), "{text}");

    // request body over 6 MB
    let big = vec![b'x'; 6 * 1024 * 1024 + 1];
    let reply = request("POST", &server.url("/echo"), Some(&big), &[]);
    assert_eq!(reply.status, 413);
    // just under the limit is fine
    let ok = vec![b'y'; 6 * 1024 * 1024];
    let reply = request("POST", &server.url("/echo"), Some(&ok), &[]);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.len(), ok.len());
    // response body over 6 MB
    let reply = server.get(&format!("/big/{}", 6 * 1024 * 1024 + 1));
    assert_eq!(reply.status, 413, "{}", reply.text());
    assert!(logs(&server, dir.path()).contains("Function.ResponseSizeTooLarge"));

    // still serving, still counting
    assert_eq!(server.get("/version").text(), "testbed v1");
    server.assert_healthy();
    let stats: serde_json::Value =
        serde_json::from_str(&server.cli_ok(&["stats", "--json"], dir.path())).expect("json");
    assert!(
        stats["functions"][0]["errors"].as_u64().unwrap_or(0) >= 4,
        "{stats:#}"
    );
}

#[test]
fn chunked_request_over_limit_is_refused() {
    let server = Server::start(&[]);
    let dir = app(&testbed_app("", &["POST /echo"]));
    server.cli_ok(&["deploy"], dir.path());
    // no content-length: the gateway must count while reading
    let addr = server.gateway.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&addr).expect("connect");
    write!(stream, "POST /echo HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").expect("head");
    let chunk = vec![b'z'; 1 << 20];
    for _ in 0..7 {
        if write!(stream, "{:x}\r\n", chunk.len()).is_err()
            || stream.write_all(&chunk).is_err()
            || stream.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[test]
fn environment_and_outbound_allow_list() {
    // a local upstream for outbound requests
    let upstream = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = upstream.local_addr().expect("addr").port();
    let serve = std::thread::spawn(move || {
        // answer at most two requests, then stop
        for _ in 0..2 {
            let Ok((mut conn, _)) = upstream.accept() else {
                return;
            };
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\nconnection: close\r\n\r\nupstream",
            );
        }
    });
    let server = Server::start(&[]);
    let f = fixtures();
    let manifest = |allowed: &str| {
        format!(
            "service: net\nfunctions:\n  tb:\n    handler: {}\n    environment:\n      COLOR: blue\n    allowedOutboundHosts: [{allowed}]\n    events:\n      - httpApi: GET /env/{{name}}\n      - httpApi: GET /fetch\n",
            f.testbed.display()
        )
    };
    let dir = app(&manifest("\"example.com\""));
    server.cli_ok(&["deploy"], dir.path());
    assert_eq!(server.get("/env/COLOR").text(), "blue");
    assert_eq!(server.get("/env/STRATUS_FUNCTION_NAME").text(), "tb");
    assert_eq!(
        server.get("/env/HOME").status,
        404,
        "host environment leaked"
    );

    let target = format!("/fetch?url=http://127.0.0.1:{port}/x");
    let denied = server.get(&target);
    assert_eq!(denied.status, 502, "{}", denied.text());
    assert!(
        denied.text().contains("HttpRequestDenied"),
        "{}",
        denied.text()
    );

    std::fs::write(
        dir.path().join("stratus.yaml"),
        manifest(&format!("\"127.0.0.1:{port}\"")),
    )
    .expect("write");
    server.cli_ok(&["deploy"], dir.path());
    let allowed = server.get(&target);
    assert_eq!(allowed.status, 200, "{}", allowed.text());
    assert_eq!(allowed.text(), "status 200: upstream");
    drop(server);
    // release the upstream thread if it still waits
    let _ = std::net::TcpStream::connect(("127.0.0.1", port));
    let _ = serve.join();
}

/// A log line written while a function runs carries the invocation's
/// span: function, version and request id (here the wasm runtime's note
/// of a denied outbound request, at debug level).
#[test]
fn log_lines_inside_an_invocation_carry_its_request_id() {
    let logdir = tempfile::tempdir().expect("tempdir");
    let log = logdir.path().join("server.log");
    let server = Server::start_logged(&[], &log);
    let f = fixtures();
    let dir = app(&format!(
        "service: spans\nfunctions:\n  traced:\n    handler: {}\n    allowedOutboundHosts: [\"example.com\"]\n    events:\n      - httpApi: GET /fetch\n",
        f.testbed.display()
    ));
    server.cli_ok(&["deploy"], dir.path());
    let denied = server.get("/fetch?url=http://127.0.0.1:9/x");
    assert_ne!(denied.status, 200, "{}", denied.text());
    let request_id = denied
        .header("x-stratus-request-id")
        .expect("the gateway names the request id")
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("outbound request denied")) {
            break line.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no denied-request line in:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(line.contains("function=traced"), "{line}");
    assert!(line.contains("version=1"), "{line}");
    assert!(
        line.contains(&format!("request_id={request_id}")),
        "{line} lacks request_id={request_id}"
    );
    server.assert_healthy();
}

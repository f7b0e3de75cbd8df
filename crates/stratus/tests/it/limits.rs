//! Reserved concurrency and throttling.

use crate::harness::{Server, app, fixtures};
use std::time::Duration;

#[test]
fn calls_past_reserved_concurrency_get_429() {
    let f = fixtures();
    let server = Server::start(&[]);
    let dir = app(&format!(
        "service: lim\nfunctions:\n  slow:\n    handler: {}\n    timeout: 10\n    reservedConcurrency: 2\n    events:\n      - httpApi: GET /sleep/{{ms}}\n",
        f.testbed.display()
    ));
    server.cli_ok(&["deploy"], dir.path());
    // warm it so every call below is the same shape
    assert_eq!(server.get("/sleep/1").status, 200);

    let url = server.url("/sleep/1500");
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || crate::harness::request("GET", &url, None, &[]))
        })
        .collect();
    let replies: Vec<_> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    let ok = replies.iter().filter(|r| r.status == 200).count();
    let throttled: Vec<_> = replies.iter().filter(|r| r.status == 429).collect();
    assert_eq!(ok, 2, "{replies:#?}");
    assert_eq!(throttled.len(), 4, "{replies:#?}");
    let t = throttled[0];
    assert_eq!(t.header("retry-after"), Some("1"));
    let body = t.json();
    assert_eq!(body["limit"], "reservedConcurrency");
    assert_eq!(body["value"], 2);
    assert_eq!(
        body["reason"],
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );

    // once they finish, calls go through again
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.get("/sleep/1").status, 200);
    let stats: serde_json::Value =
        serde_json::from_str(&server.cli_ok(&["stats", "--json"], dir.path())).expect("json");
    assert_eq!(stats["functions"][0]["throttles"], 4);
}

#[test]
fn server_wide_cap_applies_to_all_functions() {
    let f = fixtures();
    let server = Server::start(&["--max-concurrency", "1"]);
    let dir = app(&format!(
        "service: cap\nfunctions:\n  a:\n    handler: {0}\n    events:\n      - httpApi: GET /sleep/{{ms}}\n  b:\n    handler: {0}\n    events:\n      - httpApi: GET /version\n",
        f.testbed.display()
    ));
    server.cli_ok(&["deploy"], dir.path());
    let url = server.url("/sleep/1000");
    let slow = std::thread::spawn(move || crate::harness::request("GET", &url, None, &[]));
    std::thread::sleep(Duration::from_millis(300));
    let other = server.get("/version");
    assert_eq!(other.status, 429, "{}", other.text());
    assert_eq!(other.json()["limit"], "maxConcurrency");
    assert_eq!(slow.join().expect("thread").status, 200);
    assert_eq!(server.get("/version").status, 200);
}

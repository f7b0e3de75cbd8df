//! Scale to zero, provisioned concurrency, graceful drain, and kill -9.

use crate::harness::{Server, app, fixtures, request, signal, wait_exit};
use std::time::{Duration, Instant};

fn instances(server: &Server, name: &str) -> u64 {
    let info = server.api("GET", &format!("/v1/functions/{name}"), None);
    info.json()["instances"].as_u64().unwrap_or(u64::MAX)
}

#[test]
fn idle_functions_scale_to_zero_but_provisioned_stay_warm() {
    let f = fixtures();
    let server = Server::start(&["--keep-alive", "0.3"]);
    let dir = app(&format!(
        "service: sc\nfunctions:\n  lazy:\n    handler: {0}\n    events:\n      - httpApi: GET /version\n  ready:\n    handler: {0}\n    provisionedConcurrency: 1\n    events:\n      - httpApi: GET /env/{{n}}\n",
        f.testbed.display()
    ));
    server.cli_ok(&["deploy"], dir.path());
    assert_eq!(instances(&server, "lazy"), 0);
    assert_eq!(
        instances(&server, "ready"),
        1,
        "provisioned instance not loaded at deploy"
    );
    assert_eq!(server.get("/version").status, 200);
    assert_eq!(instances(&server, "lazy"), 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while instances(&server, "lazy") != 0 {
        assert!(Instant::now() < deadline, "lazy never scaled to zero");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(instances(&server, "ready"), 1);
    // the provisioned instance serves warm: no cold start recorded
    let out = server.cli_ok(
        &[
            "invoke",
            "ready",
            "--path",
            "/env/STRATUS_FUNCTION_NAME",
            "-X",
            "GET",
            "--json",
        ],
        dir.path(),
    );
    let answer: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(answer["cold"], false);
}

#[test]
fn sigterm_drains_in_flight_requests_and_exits_zero() {
    let f = fixtures();
    let mut server = Server::start(&[]);
    let dir = app(&format!(
        "service: drain\nfunctions:\n  slow:\n    handler: {}\n    timeout: 10\n    events:\n      - httpApi: GET /sleep/{{ms}}\n",
        f.testbed.display()
    ));
    server.cli_ok(&["deploy"], dir.path());
    let url = server.url("/sleep/1500");
    let call = std::thread::spawn(move || request("GET", &url, None, &[]));
    std::thread::sleep(Duration::from_millis(400));
    signal(&server.child, libc::SIGTERM);
    let reply = call.join().expect("thread");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "slept 1500");
    assert_eq!(
        wait_exit(&mut server.child, Duration::from_secs(20)),
        Some(0)
    );
    // the drained invocation was logged before exit
    server.restart();
    let logs = server.cli_ok(&["logs", "slow"], dir.path());
    assert!(logs.contains("REPORT RequestId"), "{logs}");
}

#[test]
fn kill_9_during_deploy_keeps_a_whole_version_serving() {
    let f = fixtures();
    let mut server = Server::start(&[]);
    let dir = app(&format!(
        "service: k\nfunctions:\n  k:\n    handler: {}\n    events:\n      - httpApi: GET /hello/{{n}}\n      - httpApi: GET /version\n",
        f.hello.display()
    ));
    server.cli_ok(&["deploy"], dir.path());
    assert_eq!(server.get("/hello/a").text(), "hello, a");
    // start deploying new code and kill the server part-way, at several points
    for delay_ms in [0u64, 20, 60, 150] {
        std::fs::write(
            dir.path().join("stratus.yaml"),
            format!(
                "service: k\nfunctions:\n  k:\n    handler: {}\n    memorySize: {}\n    events:\n      - httpApi: GET /hello/{{n}}\n      - httpApi: GET /version\n",
                f.testbed.display(),
                128 + delay_ms
            ),
        )
        .expect("write");
        let mut deploy = std::process::Command::new(crate::harness::BIN)
            .arg("deploy")
            .current_dir(dir.path())
            .env("STRATUS_ENDPOINT", &server.api)
            .env("STRATUS_DATA_DIR", &server.data_dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn deploy");
        std::thread::sleep(Duration::from_millis(delay_ms));
        server.kill9();
        let _ = deploy.wait();
        server.restart();
        // either the old or the new version serves, completely
        let hello = server.get("/hello/a");
        let version = server.get("/version");
        let old = hello.status == 200 && hello.text() == "hello, a";
        let new = version.status == 200 && version.text() == "testbed v1";
        assert!(
            old ^ new,
            "neither version serves cleanly after kill -9 at {delay_ms} ms: {hello:?} {version:?}"
        );
        server.assert_healthy();
    }
}

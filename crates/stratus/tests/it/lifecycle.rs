//! Deploy, call, invoke, logs, redeploy, ls/info/stats, restart, remove.

use crate::harness::{Server, app, fixtures, read_until};
use std::time::Duration;

fn manifest(handler: &std::path::Path, build: &str) -> String {
    format!(
        r#"service: shop
provider:
  runtime: wasm
  memorySize: 64
functions:
  app:
    handler: {}
    build: {build}
    environment:
      GREETING: hi
    events:
      - httpApi:
          method: GET
          path: /hello/{{name}}
      - httpApi: GET /version
"#,
        handler.display()
    )
}

#[test]
fn deploy_call_invoke_logs_redeploy_restart_remove() {
    let f = fixtures();
    let mut server = Server::start(&[]);
    let dir = app(&manifest(&f.hello, "echo build-step-ran"));

    // deploy: runs the build, uploads, prints URLs
    let out = server.cli(&["deploy"], dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "deploy failed: {stderr}");
    assert!(
        stdout.contains("build-step-ran"),
        "build output not shown: {stdout}"
    );
    assert!(stdout.contains("app: created (version 1)"), "{stdout}");
    assert!(
        stdout.contains(&format!("GET {}/hello/{{name}}", server.gateway)),
        "{stdout}"
    );

    // call through the gateway
    let reply = server.get("/hello/world");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "hi, world");
    assert!(reply.header("x-stratus-request-id").is_some());
    assert_eq!(server.get("/nope").status, 404);

    // invoke through the CLI, with the log tail
    let out = server.cli(
        &[
            "invoke",
            "app",
            "--path",
            "/hello/cli",
            "-X",
            "GET",
            "--log",
        ],
        dir.path(),
    );
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hi, cli");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("START RequestId:"), "{log}");
    assert!(log.contains("greeting cli"), "{log}");
    assert!(
        log.contains("REPORT RequestId:") && log.contains("Billed Duration:"),
        "{log}"
    );

    // logs has START / the line / END / REPORT
    let logs = server.cli_ok(&["logs", "app"], dir.path());
    for needle in [
        "START RequestId:",
        "greeting world",
        "END RequestId:",
        "REPORT RequestId:",
        "Memory Size: 64 MB",
        "Init Duration:",
    ] {
        assert!(
            logs.contains(needle),
            "`{needle}` missing from logs:\n{logs}"
        );
    }

    // unchanged redeploy
    let stdout = server.cli_ok(&["deploy"], dir.path());
    assert!(stdout.contains("app: unchanged (version 1)"), "{stdout}");

    // new code: same function, the testbed component
    std::fs::write(
        dir.path().join("stratus.yaml"),
        manifest(&f.testbed, "echo rebuilt"),
    )
    .expect("write");
    let stdout = server.cli_ok(&["deploy"], dir.path());
    assert!(stdout.contains("app: updated (version 2)"), "{stdout}");
    assert_eq!(server.get("/version").text(), "testbed v1");

    // ls / info / stats
    let ls = server.cli_ok(&["ls"], dir.path());
    assert!(ls.contains("app") && ls.contains("shop"), "{ls}");
    let info = server.cli_ok(&["info", "app"], dir.path());
    assert!(info.contains("version:   2"), "{info}");
    let stats = server.cli_ok(&["stats", "--json"], dir.path());
    let stats: serde_json::Value = serde_json::from_str(&stats).expect("stats json");
    let app_stats = &stats["functions"][0];
    assert_eq!(app_stats["function"], "app");
    assert_eq!(app_stats["invocations"], 3, "{stats:#}");
    assert!(app_stats["coldStarts"].as_u64().unwrap_or(0) >= 2);
    assert!(app_stats["gbSeconds"].as_f64().unwrap_or(0.0) > 0.0);
    let table = server.cli_ok(&["stats"], dir.path());
    assert!(
        table.contains("FUNCTION") && table.contains("COST"),
        "{table}"
    );

    // restart: graceful stop exits 0, state persists
    assert_eq!(server.stop(), Some(0));
    server.restart();
    assert_eq!(server.get("/version").text(), "testbed v1");
    let logs = server.cli_ok(&["logs", "app"], dir.path());
    assert!(
        logs.contains("greeting world"),
        "logs lost across restart:\n{logs}"
    );
    let stats: serde_json::Value =
        serde_json::from_str(&server.cli_ok(&["stats", "--json"], dir.path())).expect("json");
    assert_eq!(stats["functions"][0]["invocations"], 4);

    // remove the service
    let out = server.cli_ok(&["remove"], dir.path());
    assert!(out.contains("removed service shop"), "{out}");
    assert_eq!(server.get("/version").status, 404);
    let out = server.cli(&["info", "app"], dir.path());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
}

#[test]
fn logs_follow_streams_new_invocations() {
    let f = fixtures();
    let server = Server::start(&[]);
    let dir = app(&format!(
        "service: follow\nfunctions:\n  tb:\n    handler: {}\n    events:\n      - httpApi: GET /log/{{n}}\n",
        f.testbed.display()
    ));
    server.cli_ok(&["deploy"], dir.path());
    let mut follower = server.cli_spawn(&["logs", "tb", "--follow"], dir.path());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(server.get("/log/2").text(), "logged 2");
    let lines = read_until(&mut follower, "REPORT RequestId", Duration::from_secs(15));
    let _ = follower.kill();
    let _ = follower.wait();
    let text = lines.join("\n");
    for needle in [
        "START RequestId",
        "line 1",
        "line 2",
        "to stderr",
        "END RequestId",
    ] {
        assert!(text.contains(needle), "`{needle}` not followed:\n{text}");
    }
}

#[test]
fn metrics_count_invocations() {
    let f = fixtures();
    let server = Server::start(&[]);
    let dir = app(&format!(
        "service: m\nfunctions:\n  metered:\n    handler: {}\n    events:\n      - httpApi: GET /version\n",
        f.testbed.display()
    ));
    server.cli_ok(&["deploy"], dir.path());
    for _ in 0..3 {
        assert_eq!(server.get("/version").status, 200);
    }
    let metrics = server.api("GET", "/metrics", None);
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    for needle in [
        "stratus_function_invocations_total{function=\"metered\"} 3",
        "stratus_function_cold_starts_total{function=\"metered\"} 1",
        "stratus_function_duration_seconds_count{function=\"metered\"} 3",
        "stratus_function_concurrent_executions{function=\"metered\"} 0",
    ] {
        assert!(text.contains(needle), "`{needle}` missing:\n{text}");
    }
}

#[test]
fn the_readme_example_deploys_and_answers_invoke() {
    let f = fixtures();
    let runtimes = crate::harness::workspace().join("target/stratus-test-runtimes");
    let runtimes = runtimes.display().to_string();
    let server = Server::start(&["--runtimes-dir", &runtimes]);
    // the example's own manifest, with its handler at the prebuilt path and
    // its Python package where it is in the repository
    let example = crate::harness::workspace().join("examples/hello/stratus.yaml");
    let package = crate::harness::workspace().join("examples/hello/lambda");
    let text = std::fs::read_to_string(&example).expect("example manifest");
    let text = text
        .replace(
            "target/wasm32-wasip2/release/hello.wasm",
            &f.hello.display().to_string(),
        )
        .replace(
            "build: cargo build --target wasm32-wasip2 --release",
            "build: echo prebuilt",
        )
        .replace(
            "package: lambda",
            &format!("package: {}", package.display()),
        );
    let dir = app(&text);
    server.cli_ok(&["deploy"], dir.path());
    assert_eq!(server.get("/hello/world").text(), "hello, world");
    let out = server.cli(&["invoke", "hello", "--log"], dir.path());
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello, world");
    assert!(String::from_utf8_lossy(&out.stderr).contains("REPORT RequestId"));
    // The Python function, through its route, twice on one warm instance.
    let first = server.get("/py/hello/world");
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.json()["message"], "hello from Python, world");
    let second = server.get("/py/hello/again").json();
    assert_eq!(second["message"], "hello from Python, again");
    assert_eq!(second["callsOfThisInstance"], 2, "{second}");
    // The queue-triggered function, as the manifest's comment says.
    server.cli_ok(&["queue", "send", "greetings", "hi there"], dir.path());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let logs = server.cli_ok(&["logs", "greeter"], dir.path());
        if logs.contains("greeting received: hi there") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "greeter never ran: {logs}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn stats_use_the_configured_price_sheet() {
    let f = fixtures();
    let sheet = tempfile::NamedTempFile::new().expect("tempfile");
    // no free tier, and a price per request high enough to see
    std::fs::write(
        sheet.path(),
        r#"{"perMillionRequests": 1000000.0, "perGbSecond": 0.0, "granularityMs": 100,
            "freeRequestsPerMonth": 0, "freeGbSecondsPerMonth": 0.0}"#,
    )
    .expect("write sheet");
    let sheet_path = sheet.path().display().to_string();
    let server = Server::start(&["--price-sheet", &sheet_path]);
    let dir = app(&format!(
        "service: p\nfunctions:\n  priced:\n    handler: {}\n    memorySize: 1024\n    events:\n      - httpApi: GET /version\n",
        f.testbed.display()
    ));
    server.cli_ok(&["deploy"], dir.path());
    for _ in 0..2 {
        assert_eq!(server.get("/version").status, 200);
    }
    let stats: serde_json::Value =
        serde_json::from_str(&server.cli_ok(&["stats", "--json"], dir.path())).expect("json");
    let priced = &stats["functions"][0];
    // 2 requests at $1 each; each bills at least one 100 ms unit at 1 GB
    assert_eq!(priced["cost"], 2.0, "{stats:#}");
    assert_eq!(stats["cost"]["net"], 2.0);
    assert!(priced["billedMs"].as_u64().unwrap_or(0) >= 200, "{stats:#}");
    assert!(
        (priced["gbSeconds"].as_f64().unwrap_or(0.0)
            - priced["billedMs"].as_f64().unwrap_or(0.0) / 1000.0)
            .abs()
            < 1e-9
    );

    // a malformed sheet stops the server at start with a clear error
    std::fs::write(sheet.path(), "{ nope").expect("write");
    let out = std::process::Command::new(crate::harness::BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--api-listen",
            "127.0.0.1:0",
            "--price-sheet",
            &sheet_path,
            "--data-dir",
        ])
        .arg(server.home.path().join("other-data"))
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("price sheet"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

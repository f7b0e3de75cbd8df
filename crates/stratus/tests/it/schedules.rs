//! End-to-end tests: schedules (`events: - schedule: ...`) fire their
//! functions, wasm and Python, with EventBridge's scheduled-event envelope;
//! each tick fires once across a `kill -9` and restart, the missed ones
//! once, marked `missedTicks`; disabled schedules stay silent; invalid
//! expressions are refused at deploy. Rules made through the EventBridge
//! API with a `ScheduleExpression` keep the same guarantees, and stop when
//! disabled or deleted.

use crate::harness::{Server, app, fixtures, request, workspace};
use std::path::Path;
use std::time::{Duration, Instant};

/// A Python handler that logs each event it gets as one JSON line.
const HANDLER: &str = "import json\n\ndef handler(event, context):\n    print('EVENT ' + json.dumps(event, sort_keys=True), flush=True)\n    return {'ok': True}\n";

/// A server whose managed Python environment is shared by the run's tests.
fn server() -> Server {
    let runtimes = workspace().join("target/stratus-test-runtimes");
    let runtimes = runtimes.display().to_string();
    Server::start(&["--runtimes-dir", &runtimes, "--keep-alive", "60"])
}

/// A package directory with the logging handler.
fn package(dir: &Path) -> String {
    let pkg = dir.join("pkg");
    std::fs::create_dir_all(&pkg).expect("package dir");
    std::fs::write(pkg.join("app.py"), HANDLER).expect("handler");
    pkg.display().to_string()
}

/// The events a function logged so far (flushed by the logs API).
fn logged_events(server: &Server, name: &str) -> Vec<serde_json::Value> {
    let reply = server.api(
        "GET",
        &format!("/v1/functions/{name}/logs?limit=10000"),
        None,
    );
    assert_eq!(reply.status, 200, "logs of {name}: {}", reply.text());
    reply.json()["records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["message"].as_str())
        .filter_map(|m| m.trim().strip_prefix("EVENT "))
        .map(|json| serde_json::from_str(json).expect("logged event is JSON"))
        .collect()
}

/// Polls until `name` logged `n` events (or `timeout` passes).
fn wait_for_events(
    server: &Server,
    name: &str,
    n: usize,
    timeout: Duration,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let events = logged_events(server, name);
        if events.len() >= n || Instant::now() > deadline {
            return events;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn millis(time: &serde_json::Value) -> i64 {
    let text = time.as_str().expect("time is a string");
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("time {text}: {e}"))
        .timestamp_millis()
}

/// Checks the EventBridge scheduled-event envelope.
fn assert_envelope(event: &serde_json::Value, rule: &str) {
    assert_eq!(event["version"], "0", "{event}");
    assert_eq!(event["detail-type"], "Scheduled Event", "{event}");
    assert_eq!(event["source"], "aws.events", "{event}");
    assert_eq!(event["account"], "000000000000", "{event}");
    assert_eq!(event["region"], "us-east-1", "{event}");
    assert_eq!(
        event["resources"],
        serde_json::json!([format!("arn:aws:events:us-east-1:000000000000:rule/{rule}")]),
        "{event}"
    );
    assert!(
        event["id"].as_str().is_some_and(|id| id.len() == 36),
        "{event}"
    );
    assert!(event["detail"].is_object(), "{event}");
    millis(&event["time"]);
}

#[test]
fn schedules_fire_wasm_and_python_functions_with_the_envelope() {
    let f = fixtures();
    let server = server();
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = package(dir.path());
    let manifest = format!(
        "service: ticks\n\
         provider:\n  runtime: python3.11\n\
         functions:\n\
         \x20 tb:\n    runtime: wasm\n    handler: {testbed}\n    events:\n      - schedule: rate(1 second)\n    destinations:\n      onSuccess: sink\n\
         \x20 sink:\n    handler: app.handler\n    package: {pkg}\n\
         \x20 py:\n    handler: app.handler\n    package: {pkg}\n    events:\n      - schedule: rate(1 second)\n      - schedule:\n          rate: rate(1 second)\n          input: {{\"hello\": \"world\"}}\n\
         \x20 off:\n    handler: app.handler\n    package: {pkg}\n    events:\n      - schedule:\n          rate: rate(1 second)\n          enabled: false\n",
        testbed = f.testbed.display()
    );
    std::fs::write(dir.path().join("stratus.yaml"), manifest).expect("manifest");
    let deployed_at = chrono::Utc::now().timestamp_millis();
    server.cli_ok(&["deploy"], dir.path());

    // Python: the envelope, and the constant input of the second schedule.
    let events = wait_for_events(&server, "py", 6, Duration::from_secs(60));
    let envelopes: Vec<_> = events
        .iter()
        .filter(|e| e.get("version").is_some())
        .collect();
    let inputs: Vec<_> = events.iter().filter(|e| e.get("hello").is_some()).collect();
    assert!(envelopes.len() >= 2, "envelopes: {events:?}");
    assert!(inputs.len() >= 2, "inputs: {events:?}");
    for e in &inputs {
        assert_eq!(**e, serde_json::json!({"hello": "world"}));
    }
    for e in &envelopes {
        assert_envelope(e, "py-schedule-1");
        assert_eq!(
            e["detail"],
            serde_json::json!({}),
            "no tick was missed: {e}"
        );
    }
    // Ticks (run concurrently, so logged in any order) are 1 s apart,
    // after the deploy, and each fires once.
    let mut times: Vec<i64> = envelopes.iter().map(|e| millis(&e["time"])).collect();
    times.sort();
    assert!(
        times[0] > deployed_at - 1_000,
        "{times:?} after {deployed_at}"
    );
    for pair in times.windows(2) {
        assert_eq!(pair[1] - pair[0], 1_000, "one tick a second: {times:?}");
    }

    // Wasm: the testbed got the envelope, as its success destination's
    // record shows.
    let records = wait_for_events(&server, "sink", 2, Duration::from_secs(60));
    assert!(records.len() >= 2, "destination records: {records:?}");
    for record in &records {
        assert_eq!(record["requestContext"]["condition"], "Success", "{record}");
        assert!(
            record["requestContext"]["functionArn"]
                .as_str()
                .is_some_and(|a| a.contains(":function:tb")),
            "{record}"
        );
        assert_envelope(&record["requestPayload"], "tb-schedule-1");
    }

    // The disabled schedule never fired.
    assert_eq!(
        logged_events(&server, "off"),
        Vec::<serde_json::Value>::new()
    );

    // Removing the schedules stops them.
    let quiet = "service: ticks\nprovider:\n  runtime: python3.11\nfunctions:\n  py:\n    handler: app.handler\n    package: PKG\n".replace("PKG", &pkg);
    std::fs::write(dir.path().join("stratus.yaml"), quiet).expect("manifest");
    server.cli_ok(&["deploy"], dir.path());
    std::thread::sleep(Duration::from_millis(1_500));
    let before = logged_events(&server, "py").len();
    std::thread::sleep(Duration::from_millis(2_500));
    assert_eq!(
        logged_events(&server, "py").len(),
        before,
        "a removed schedule stopped"
    );
}

#[test]
fn a_schedule_fires_each_tick_once_across_a_kill_and_the_missed_ones_once() {
    let mut server = server();
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = package(dir.path());
    let manifest = format!(
        "service: restart\nprovider:\n  runtime: python3.11\nfunctions:\n  py:\n    handler: app.handler\n    package: {pkg}\n    events:\n      - schedule: rate(1 second)\n"
    );
    std::fs::write(dir.path().join("stratus.yaml"), manifest).expect("manifest");
    server.cli_ok(&["deploy"], dir.path());
    let before = wait_for_events(&server, "py", 2, Duration::from_secs(60));
    assert!(before.len() >= 2, "ticks before the kill: {before:?}");

    server.kill9();
    std::thread::sleep(Duration::from_millis(3_200));
    server.restart();

    // After the restart: one event for the missed ticks, then ticks again.
    let deadline = Instant::now() + Duration::from_secs(60);
    let events = loop {
        let events = logged_events(&server, "py");
        let marked = events
            .iter()
            .position(|e| e["detail"].get("missedTicks").is_some());
        if marked.is_some_and(|i| events.len() >= i + 3) || Instant::now() > deadline {
            break events;
        }
        std::thread::sleep(Duration::from_millis(100));
    };

    // An event that ran when the kill came may run again (delivery is at
    // least once, with the same id); each tick has one id.
    let mut by_id: std::collections::BTreeMap<String, i64> = Default::default();
    let mut unique = Vec::new();
    for e in &events {
        assert_envelope(e, "py-schedule-1");
        let id = e["id"].as_str().expect("id").to_string();
        let t = millis(&e["time"]);
        match by_id.insert(id, t) {
            Some(seen) => assert_eq!(seen, t, "an id names one tick: {events:?}"),
            None => unique.push(e.clone()),
        }
    }
    let mut times: Vec<i64> = unique.iter().map(|e| millis(&e["time"])).collect();
    times.sort();
    let distinct = {
        let mut d = times.clone();
        d.dedup();
        d
    };
    assert_eq!(times, distinct, "no tick fired twice: {events:?}");

    let marked: Vec<_> = unique
        .iter()
        .filter(|e| e["detail"].get("missedTicks").is_some())
        .collect();
    assert_eq!(marked.len(), 1, "the missed ticks fire once: {events:?}");
    let missed = marked[0]["detail"]["missedTicks"]
        .as_u64()
        .expect("a count");
    assert!(missed >= 3, "down for 3 s at least: {missed} in {events:?}");
    let marked_at = millis(&marked[0]["time"]);
    let last_before = before
        .iter()
        .map(|e| millis(&e["time"]))
        .max()
        .expect("some");
    assert!(marked_at >= last_before + 3_000, "{events:?}");
    // After it, ticks come on time again, unmarked.
    let after: Vec<_> = unique
        .iter()
        .filter(|e| millis(&e["time"]) > marked_at)
        .collect();
    assert!(after.len() >= 2, "{events:?}");
    assert!(after.iter().all(|e| e["detail"] == serde_json::json!({})));
}

#[test]
fn invalid_schedules_are_refused_at_deploy() {
    let f = fixtures();
    let server = Server::start(&[]);
    for (schedule, message) in [
        (
            "cron(0 2 * * * *)",
            "cron(0 2 * * * *): exactly one of day-of-month and day-of-week must be ?",
        ),
        (
            "rate(1 minutes)",
            "rate(1 minutes): use the singular unit with 1",
        ),
        (
            "cron(60 2 * * ? *)",
            "cron(60 2 * * ? *): minutes: 60 is out of range 0-59",
        ),
        (
            "{rate: 'cron(0 2 * * ? *)', timezone: Mars/Base}",
            "unknown time zone Mars/Base",
        ),
    ] {
        let dir = app(&format!(
            "service: bad\nfunctions:\n  tb:\n    handler: {}\n    events:\n      - schedule: {schedule}\n",
            f.testbed.display()
        ));
        let out = server.cli(&["deploy"], dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{schedule} was accepted");
        assert!(stderr.contains(message), "{schedule}: {stderr}");
    }
}

/// A call of EventBridge's JSON protocol on the AWS endpoint, with the
/// server's bearer token; its answer, which must be a 200.
fn events_call(server: &Server, operation: &str, body: serde_json::Value) -> serde_json::Value {
    let auth = format!("Bearer {}", server.token);
    let target = format!("AWSEvents.{operation}");
    let reply = request(
        "POST",
        &server.api_url("/"),
        Some(body.to_string().as_bytes()),
        &[
            ("authorization", auth.as_str()),
            ("x-amz-target", target.as_str()),
            ("content-type", "application/x-amz-json-1.1"),
        ],
    );
    assert_eq!(reply.status, 200, "{operation}: {}", reply.text());
    reply.json()
}

/// Waits `settle`, then checks that `name` logs no new event for `quiet`.
fn assert_silent(server: &Server, name: &str, settle: Duration, quiet: Duration, what: &str) {
    std::thread::sleep(settle);
    let before = logged_events(server, name).len();
    std::thread::sleep(quiet);
    assert_eq!(logged_events(server, name).len(), before, "{what}");
}

#[test]
fn an_api_rule_schedule_fires_once_per_tick_across_a_kill_and_stops_when_disabled_or_deleted() {
    let mut server = server();
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = package(dir.path());
    let manifest = format!(
        "service: rules\nprovider:\n  runtime: python3.11\nfunctions:\n  py:\n    handler: app.handler\n    package: {pkg}\n"
    );
    std::fs::write(dir.path().join("stratus.yaml"), manifest).expect("manifest");
    server.cli_ok(&["deploy"], dir.path());
    let arn = events_call(
        &server,
        "PutRule",
        serde_json::json!({"Name": "tick", "ScheduleExpression": "rate(1 second)"}),
    );
    assert_eq!(
        arn["RuleArn"],
        "arn:aws:events:us-east-1:000000000000:rule/tick"
    );
    events_call(
        &server,
        "PutTargets",
        serde_json::json!({"Rule": "tick", "Targets": [
            {"Id": "py", "Arn": "arn:aws:lambda:us-east-1:000000000000:function:py"}]}),
    );
    let before = wait_for_events(&server, "py", 2, Duration::from_secs(60));
    assert!(before.len() >= 2, "ticks before the kill: {before:?}");
    for e in &before {
        assert_envelope(e, "tick");
    }

    server.kill9();
    std::thread::sleep(Duration::from_millis(3_200));
    server.restart();

    // After the restart: one event for the missed ticks, then ticks again.
    let deadline = Instant::now() + Duration::from_secs(60);
    let events = loop {
        let events = logged_events(&server, "py");
        let marked = events
            .iter()
            .position(|e| e["detail"].get("missedTicks").is_some());
        if marked.is_some_and(|i| events.len() >= i + 3) || Instant::now() > deadline {
            break events;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut by_id: std::collections::BTreeMap<String, i64> = Default::default();
    let mut unique = Vec::new();
    for e in &events {
        assert_envelope(e, "tick");
        let id = e["id"].as_str().expect("id").to_string();
        let t = millis(&e["time"]);
        match by_id.insert(id, t) {
            Some(seen) => assert_eq!(seen, t, "an id names one tick: {events:?}"),
            None => unique.push(e.clone()),
        }
    }
    let mut times: Vec<i64> = unique.iter().map(|e| millis(&e["time"])).collect();
    times.sort();
    let mut distinct = times.clone();
    distinct.dedup();
    assert_eq!(times, distinct, "no tick fired twice: {events:?}");
    let marked: Vec<_> = unique
        .iter()
        .filter(|e| e["detail"].get("missedTicks").is_some())
        .collect();
    assert_eq!(marked.len(), 1, "the missed ticks fire once: {events:?}");
    let missed = marked[0]["detail"]["missedTicks"]
        .as_u64()
        .expect("a count");
    assert!(missed >= 3, "down for 3 s at least: {missed} in {events:?}");

    // Disabled, it stops; enabled again, it fires; deleted, it stops.
    events_call(&server, "DisableRule", serde_json::json!({"Name": "tick"}));
    assert_silent(
        &server,
        "py",
        Duration::from_millis(1_500),
        Duration::from_millis(2_500),
        "a disabled rule fired",
    );
    let count = logged_events(&server, "py").len();
    events_call(&server, "EnableRule", serde_json::json!({"Name": "tick"}));
    let again = wait_for_events(&server, "py", count + 1, Duration::from_secs(30));
    assert!(again.len() > count, "an enabled rule fires again");
    events_call(
        &server,
        "DeleteRule",
        serde_json::json!({"Name": "tick", "Force": true}),
    );
    assert_silent(
        &server,
        "py",
        Duration::from_millis(1_500),
        Duration::from_millis(2_500),
        "a deleted rule fired",
    );
    server.assert_healthy();
}

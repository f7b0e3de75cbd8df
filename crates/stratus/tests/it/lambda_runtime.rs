//! Lambda functions run unmodified as sandboxed processes: Python with the
//! real awslambdaric, Node.js with the real aws-lambda-ric, and `provided`
//! bootstraps (a bash script and a binary built with the Rust
//! `lambda_runtime` crate), through HTTP routes, `stratus invoke` and boto3.

use crate::harness::python;
use crate::harness::{Server, app, request, workspace};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn lambda_fixture(name: &str) -> PathBuf {
    workspace().join("fixtures/lambda").join(name)
}

/// The Rust `lambda_runtime` bootstrap, built by fixtures/build.sh.
fn rust_bootstrap() -> PathBuf {
    let path = lambda_fixture("rust/target/release/bootstrap");
    if !path.exists() {
        let status = Command::new("bash")
            .arg(workspace().join("fixtures/build.sh"))
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run fixtures/build.sh");
        assert!(status.success(), "fixtures/build.sh failed");
    }
    path
}

/// A server whose managed runtime environments (awslambdaric, boto3,
/// aws-lambda-ric) are shared by all tests of this run, so they are
/// installed once.
fn server() -> Server {
    let runtimes = workspace().join("target/stratus-test-runtimes");
    let runtimes = runtimes.display().to_string();
    Server::start(&["--runtimes-dir", &runtimes, "--keep-alive", "60"])
}

/// `stratus invoke --json` of `name` with `data`; returns the JSON answer.
fn invoke(server: &Server, name: &str, data: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = server.cli(&["invoke", name, "--data", data, "--json"], dir.path());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "invoke {name}: not JSON ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn body_of(answer: &serde_json::Value) -> serde_json::Value {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(answer["bodyBase64"].as_str().unwrap_or(""))
        .expect("base64 body");
    serde_json::from_slice(&raw)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&raw).into_owned()))
}

/// Calls the Invoke API directly (bearer token) and returns the reply.
fn lambda_invoke(server: &Server, name: &str, payload: &[u8]) -> crate::harness::Reply {
    let auth = format!("Bearer {}", server.token);
    request(
        "POST",
        &server.api_url(&format!("/2015-03-31/functions/{name}/invocations")),
        Some(payload),
        &[("authorization", auth.as_str())],
    )
}

/// Asserts that the Invoke API answered with a function error of
/// `error_type` whose message contains `message`, in Lambda's shape.
fn assert_function_error(reply: &crate::harness::Reply, error_type: &str, message: &str) {
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.header("x-amz-function-error"),
        Some("Unhandled"),
        "{}",
        reply.text()
    );
    let body = reply.json();
    assert_eq!(body["errorType"], error_type, "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap_or("")
            .contains(message),
        "{body}"
    );
}

/// Runs `tests/py/lambda_runtime.py` (the real boto3 `lambda` client)
/// against the server, then checks that its Event invocations ran.
fn run_boto3_checks(server: &Server, args: &[&str]) {
    let out = Command::new(python())
        .arg(workspace().join("crates/stratus/tests/py/lambda_runtime.py"))
        .args(args)
        .env("STRATUS_ENDPOINT", &server.api)
        .envs(server.aws_env())
        .output()
        .expect("run python; ./test.sh prepares a venv with boto3");
    assert!(
        out.status.success(),
        "boto3 checks failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_events_ran(server, &String::from_utf8_lossy(&out.stdout));
}

/// Every `event NAME ID` line the boto3 script printed names an Event
/// invocation that must have run to its END line.
fn assert_events_ran(server: &Server, script_output: &str) {
    let events: Vec<(&str, &str)> = script_output
        .lines()
        .filter_map(|l| l.strip_prefix("event "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    assert!(
        !events.is_empty(),
        "the script sent no Event invocation: {script_output}"
    );
    for (name, id) in events {
        let end = format!("END RequestId: {id}");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let logs = server
                .api("GET", &format!("/v1/functions/{name}/logs"), None)
                .json();
            let ran = logs["records"]
                .as_array()
                .is_some_and(|r| r.iter().any(|line| line["message"] == end.as_str()));
            if ran {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "Event {id} of {name} never ran: {logs}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Host pids of the instances of function `name`: processes whose initial
/// environment names the function and that run as an unprivileged user (a
/// Python template, which instances are forked from, runs as root in its
/// sandbox and names the function too).
fn processes_of(name: &str) -> Vec<u32> {
    all_processes_of(name)
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("Uid:"))
                        .and_then(|l| l.split_whitespace().next().map(|u| u != "0"))
                })
                .unwrap_or(false)
        })
        .collect()
}

/// Host pids of every process whose initial environment names function
/// `name`, its template included.
fn all_processes_of(name: &str) -> Vec<u32> {
    let needle = format!("AWS_LAMBDA_FUNCTION_NAME={name}");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ
            .split(|&b| b == 0)
            .any(|var| var == needle.as_bytes())
        {
            pids.push(pid);
        }
    }
    pids
}

/// The cgroup v1 freezer state of a process, if it has a freezer cgroup.
fn freezer_state(pid: u32) -> Option<String> {
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = cgroups
        .lines()
        .find_map(|l| l.split_once(":freezer:").map(|(_, p)| p.to_string()))?;
    std::fs::read_to_string(format!("/sys/fs/cgroup/freezer{path}/freezer.state"))
        .ok()
        .map(|s| s.trim().to_string())
}

#[test]
fn processes_are_frozen_retired_and_stopped() {
    let runtimes = workspace().join("target/stratus-test-runtimes");
    let runtimes = runtimes.display().to_string();
    let mut server = Server::start(&["--runtimes-dir", &runtimes, "--keep-alive", "1"]);
    let unique = format!("life{}", std::process::id());
    let pkg = lambda_fixture("python");
    let empty = tempfile::tempdir().expect("tempdir");
    std::fs::write(empty.path().join("bootstrap"), b"not a program").expect("write");
    let dir = app(&format!(
        "service: life\nprovider:\n  runtime: python3.11\nfunctions:\n  {unique}:\n    handler: app.counter\n    package: {pkg}\n  stay{unique}:\n    handler: app.counter\n    package: {pkg}\n    provisionedConcurrency: 1\n  off:\n    handler: app.echo\n    package: {pkg}\n    reservedConcurrency: 0\n  noentry:\n    runtime: provided.al2023\n    package: {empty}\n",
        pkg = pkg.display(),
        empty = empty.path().display(),
    ));
    server.cli_ok(&["deploy"], dir.path());

    let answer = invoke(&server, &unique, "{}");
    assert_eq!(answer["status"], 200, "{answer}");
    let pids = processes_of(&unique);
    assert!(!pids.is_empty(), "no process runs function {unique}");
    // Frozen between calls: no CPU while idle (the freeze follows the
    // response by a moment).
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    let frozen = loop {
        let frozen = pids
            .iter()
            .filter_map(|&p| freezer_state(p))
            .collect::<Vec<_>>();
        if frozen.iter().all(|s| s == "FROZEN") || std::time::Instant::now() > deadline {
            break frozen;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // As root on a host with the v1 freezer (this one, and CI), it is used.
    let freezer = std::path::Path::new("/sys/fs/cgroup/freezer/cgroup.procs").exists()
        && unsafe { libc::geteuid() } == 0;
    if freezer {
        assert!(!frozen.is_empty(), "no freezer cgroup for {pids:?}");
    }
    assert!(frozen.iter().all(|s| s == "FROZEN"), "{frozen:?}");
    // Retired after the keep-alive (1 s): the processes are gone.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !processes_of(&unique).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "idle instance of {unique} not retired: {:?}",
            processes_of(&unique)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let info = server
        .api("GET", &format!("/v1/functions/{unique}"), None)
        .json();
    assert_eq!(info["instances"], 0, "{info}");
    // The provisioned one stays.
    let stay = format!("stay{unique}");
    let answer = invoke(&server, &stay, "{}");
    assert_eq!(answer["status"], 200, "{answer}");
    assert!(!processes_of(&stay).is_empty());

    // Reserved concurrency 0 throttles, with Lambda's 429.
    let reply = lambda_invoke(&server, "off", b"{}");
    assert_eq!(reply.status, 429, "{}", reply.text());
    assert_eq!(
        reply.header("x-amzn-errortype"),
        Some("TooManyRequestsException")
    );

    // A bootstrap that is not a program: Lambda's init error, twice.
    for _ in 0..2 {
        let reply = lambda_invoke(&server, "noentry", b"{}");
        assert_eq!(
            reply.header("x-amz-function-error"),
            Some("Unhandled"),
            "{}",
            reply.text()
        );
        assert_eq!(
            reply.json()["errorType"],
            "Runtime.InvalidEntrypoint",
            "{}",
            reply.text()
        );
    }
    server.assert_healthy();

    // Shutdown stops every process of the server, templates included.
    assert_eq!(server.stop(), Some(0));
    assert!(
        all_processes_of(&stay).is_empty(),
        "{:?}",
        all_processes_of(&stay)
    );
    assert!(
        all_processes_of(&unique).is_empty(),
        "{:?}",
        all_processes_of(&unique)
    );
}

#[test]
fn python_handlers_serve_http_cli_and_boto3() {
    let server = server();
    let pkg = lambda_fixture("python");
    let dir = app(&format!(
        "service: py\nprovider:\n  runtime: python3.11\nfunctions:\n  echo:\n    handler: app.echo\n    package: {pkg}\n  counter:\n    handler: app.counter\n    package: {pkg}\n  env:\n    handler: app.env\n    package: {pkg}\n    environment:\n      GREETING: hi\n  web:\n    handler: app.http\n    package: {pkg}\n    events:\n      - httpApi: 'POST /py/{{id}}'\n  slow:\n    handler: app.sleep\n    package: {pkg}\n    timeout: 10\n",
        pkg = pkg.display()
    ));
    server.cli_ok(&["deploy"], dir.path());

    // `stratus invoke`: the body is the event, the answer the response.
    let answer = invoke(&server, "echo", r#"{"hello":"world"}"#);
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(body_of(&answer), serde_json::json!({"hello": "world"}));
    assert_eq!(answer["cold"], true);
    let log = answer["log"].to_string();
    assert!(log.contains("Init Duration"), "{log}");
    let warm = invoke(&server, "echo", "[1,2]");
    assert_eq!(warm["cold"], false, "{warm}");
    assert_eq!(body_of(&warm), serde_json::json!([1, 2]));

    // Globals and /tmp survive between warm calls of one instance.
    let first = body_of(&invoke(&server, "counter", "{}"));
    let second = body_of(&invoke(&server, "counter", "{}"));
    assert_eq!(first["count"], 1, "{first}");
    assert_eq!(second["count"], 2, "{second}");
    assert_eq!(first["pid"], second["pid"]);
    assert_eq!(second["tmp"], 2, "{second}");

    // The environment Lambda functions expect.
    let env = body_of(&invoke(&server, "env", "{}"));
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "env", "{env}");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "128");
    assert_eq!(env["LAMBDA_TASK_ROOT"], "/var/task");
    assert_eq!(env["_HANDLER"], "app.env");
    assert_eq!(env["TZ"], ":UTC");
    assert_eq!(env["cwd"], "/var/task");
    assert_eq!(env["GREETING"], "hi");
    assert_eq!(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001", "{env}");
    // The sandbox: its own pid namespace, an unprivileged user.
    assert_ne!(env["uid"], 0, "{env}");
    // As root with namespaces (this host and CI), Python instances are
    // forked from a pre-initialised template.
    if unsafe { libc::geteuid() } == 0 {
        assert_eq!(env["forked"], 1, "{env}");
    }
    assert!(env["pid"].as_u64().is_some_and(|p| p < 100), "{env}");

    // An HTTP route: API Gateway payload 2.0 both ways.
    let reply = request(
        "POST",
        &server.url("/py/42?x=1&x=2"),
        Some(b"hello body"),
        &[("cookie", "a=1; b=2"), ("content-type", "text/plain")],
    );
    assert_eq!(reply.status, 201, "{}", reply.text());
    let cookies: Vec<&str> = reply
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cookies.len(), 2, "{:?}", reply.headers);
    let seen = reply.json();
    assert_eq!(seen["rawPath"], "/py/42", "{seen}");
    assert_eq!(seen["pathParameters"]["id"], "42");
    assert_eq!(seen["queryStringParameters"]["x"], "1,2");
    assert_eq!(seen["body"], "hello body");
    assert_eq!(seen["cookies"], serde_json::json!(["a=1", "b=2"]));

    // Concurrent calls get separate instances.
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let url = server.api_url("/2015-03-31/functions/slow/invocations");
            let auth = format!("Bearer {}", server.token);
            std::thread::spawn(move || {
                request(
                    "POST",
                    &url,
                    Some(br#"{"seconds": 1}"#),
                    &[("authorization", auth.as_str())],
                )
            })
        })
        .collect();
    let started = std::time::Instant::now();
    for handle in handles {
        let reply = handle.join().expect("thread");
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "three 1 s calls ran one after another"
    );
    let info = server.api("GET", "/v1/functions/slow", None).json();
    assert!(info["instances"].as_u64().unwrap_or(0) >= 3, "{info}");

    // boto3, unmodified.
    run_boto3_checks(&server, &[]);
    server.assert_healthy();
}

#[test]
fn python_failures_get_lambda_error_shapes() {
    let server = server();
    let pkg = lambda_fixture("python");
    let syntax = lambda_fixture("python-syntax");
    let dir = app(&format!(
        "service: bad\nprovider:\n  runtime: python3.11\nfunctions:\n  fail:\n    handler: app.fail\n    package: {pkg}\n  nope:\n    handler: app.nope\n    package: {pkg}\n  syntax:\n    handler: app.handler\n    package: {syntax}\n  exit:\n    handler: app.exit_mid\n    package: {pkg}\n  slow:\n    handler: app.sleep\n    package: {pkg}\n    timeout: 1\n  big:\n    handler: app.big\n    package: {pkg}\n  badid:\n    handler: app.bad_request_id\n    package: {pkg}\n",
        pkg = pkg.display(),
        syntax = syntax.display()
    ));
    server.cli_ok(&["deploy"], dir.path());

    let reply = lambda_invoke(&server, "fail", b"{}");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-amz-function-error"), Some("Unhandled"));
    let body = reply.json();
    assert_eq!(body["errorType"], "ValueError", "{body}");
    assert_eq!(body["errorMessage"], "boom");
    assert!(body["stackTrace"].is_array());

    let reply = lambda_invoke(&server, "nope", b"{}");
    assert_function_error(&reply, "Runtime.HandlerNotFound", "");

    let reply = lambda_invoke(&server, "syntax", b"{}");
    assert_function_error(&reply, "Runtime.UserCodeSyntaxError", "");
    // Init runs again on the next call (and fails again).
    let again = lambda_invoke(&server, "syntax", b"{}");
    assert_eq!(again.json()["errorType"], "Runtime.UserCodeSyntaxError");

    let reply = lambda_invoke(&server, "exit", b"{}");
    assert_eq!(reply.header("x-amz-function-error"), Some("Unhandled"));
    let body = reply.json();
    assert_eq!(body["errorType"], "Runtime.ExitError", "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap_or("")
            .contains("exit status 3"),
        "{body}"
    );

    let reply = lambda_invoke(&server, "slow", br#"{"seconds": 5}"#);
    assert_eq!(reply.header("x-amz-function-error"), Some("Unhandled"));
    let body = reply.json();
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap_or("")
            .contains("Task timed out after 1.00 seconds"),
        "{body}"
    );
    // The timed-out instance was reset: the next call is a cold start that works.
    let after = invoke(&server, "slow", r#"{"seconds": 0}"#);
    assert_eq!(after["status"], 200, "{after}");
    assert_eq!(after["cold"], true);

    let reply = lambda_invoke(&server, "big", br#"{"bytes": 7000000}"#);
    assert_eq!(reply.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(
        reply.json()["errorType"],
        "Function.ResponseSizeTooLarge",
        "{}",
        reply.text()
    );

    // A runtime that answers with someone else's request id gets 400.
    let reply = lambda_invoke(&server, "badid", b"{}");
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = reply.json();
    assert_eq!(seen["status"], 400, "{seen}");
    assert_eq!(seen["errorType"], "InvalidRequestID", "{seen}");
    server.assert_healthy();
}

#[test]
fn sandbox_stops_hogs_bombs_and_fillers() {
    let server = server();
    let pkg = lambda_fixture("python");
    let dir = app(&format!(
        "service: abuse\nprovider:\n  runtime: python3.11\nfunctions:\n  hog:\n    handler: app.hog\n    package: {pkg}\n    memorySize: 128\n    timeout: 20\n  bomb:\n    handler: app.forkbomb\n    package: {pkg}\n    timeout: 30\n    memorySize: 3008\n  smallbomb:\n    handler: app.forkbomb\n    package: {pkg}\n    timeout: 30\n  fill:\n    handler: app.fill_tmp\n    package: {pkg}\n    memorySize: 512\n    ephemeralStorageSize: 32\n  task:\n    handler: app.write_task\n    package: {pkg}\n  echo:\n    handler: app.echo\n    package: {pkg}\n",
        pkg = pkg.display()
    ));
    server.cli_ok(&["deploy"], dir.path());

    let reply = lambda_invoke(&server, "hog", b"{}");
    assert_eq!(
        reply.header("x-amz-function-error"),
        Some("Unhandled"),
        "{}",
        reply.text()
    );
    let body = reply.json();
    assert_eq!(body["errorType"], "Runtime.OutOfMemory", "{body}");

    // With memory to spare, the process limit (1024) stops the bomb: fork
    // fails inside the function, which says so.
    let reply = lambda_invoke(&server, "bomb", br#"{"child_seconds": 5}"#);
    let body = reply.json();
    assert!(reply.header("x-amz-function-error").is_none(), "{body}");
    assert!(body["forks"].as_u64().unwrap_or(u64::MAX) < 1024, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("Resource temporarily unavailable"),
        "{body}"
    );
    // In 128 MB the memory limit stops it first: the environment is killed
    // and reported as out of memory.
    let reply = lambda_invoke(&server, "smallbomb", br#"{"child_seconds": 5}"#);
    let body = reply.json();
    assert_eq!(
        reply.header("x-amz-function-error"),
        Some("Unhandled"),
        "{body}"
    );
    assert_eq!(body["errorType"], "Runtime.OutOfMemory", "{body}");

    let reply = lambda_invoke(&server, "fill", b"{}");
    let body = reply.json();
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("No space left"),
        "{body}"
    );
    assert!(body["written_mb"].as_u64().unwrap_or(0) <= 32, "{body}");

    let reply = lambda_invoke(&server, "task", b"{}");
    let body = reply.json();
    assert!(body.to_string().contains("Read-only file system"), "{body}");

    // Other functions and the server are unharmed.
    let reply = lambda_invoke(&server, "echo", b"\"still here\"");
    assert_eq!(reply.text(), "\"still here\"");
    server.assert_healthy();
}

#[test]
fn node_and_provided_runtimes() {
    let server = server();
    let rust = rust_bootstrap();
    let rust_pkg = tempfile::tempdir().expect("tempdir");
    std::fs::copy(&rust, rust_pkg.path().join("bootstrap")).expect("copy bootstrap");
    let dir = app(&format!(
        "service: mixed\nfunctions:\n  node:\n    runtime: nodejs20.x\n    handler: index.echo\n    package: {node}\n  nodeweb:\n    runtime: nodejs20.x\n    handler: index.http\n    package: {node}\n    events:\n      - httpApi: 'GET /node/{{id}}'\n  nodecount:\n    runtime: nodejs20.x\n    handler: index.counter\n    package: {node}\n  nodefail:\n    runtime: nodejs20.x\n    handler: index.fail\n    package: {node}\n  nodenope:\n    runtime: nodejs20.x\n    handler: index.nope\n    package: {node}\n  nodemissing:\n    runtime: nodejs22.x\n    handler: missing.handler\n    package: {node}\n  shell:\n    runtime: provided.al2023\n    handler: my.handler\n    package: {shell}\n  rust:\n    runtime: provided.al2023\n    package: {rust}\n    events:\n      - httpApi: 'POST /rust'\n",
        node = lambda_fixture("node").display(),
        shell = lambda_fixture("shell").display(),
        rust = rust_pkg.path().display(),
    ));
    server.cli_ok(&["deploy"], dir.path());

    let answer = invoke(&server, "node", r#"{"n":1}"#);
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(body_of(&answer), serde_json::json!({"n": 1}));
    let first = body_of(&invoke(&server, "nodecount", "{}"));
    let second = body_of(&invoke(&server, "nodecount", "{}"));
    assert_eq!(
        second["count"].as_u64(),
        first["count"].as_u64().map(|c| c + 1)
    );
    // Node.js failures in Lambda's shapes.
    let reply = lambda_invoke(&server, "nodefail", b"{}");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-amz-function-error"), Some("Unhandled"));
    let body = reply.json();
    assert_eq!(body["errorType"], "Error", "{body}");
    assert_eq!(body["errorMessage"], "boom", "{body}");
    assert!(body["trace"].is_array(), "{body}");
    let reply = lambda_invoke(&server, "nodenope", b"{}");
    assert_eq!(
        reply.json()["errorType"],
        "Runtime.HandlerNotFound",
        "{}",
        reply.text()
    );
    let reply = lambda_invoke(&server, "nodemissing", b"{}");
    assert_eq!(
        reply.json()["errorType"],
        "Runtime.ImportModuleError",
        "{}",
        reply.text()
    );
    // Warm instances keep module state; the log has Lambda's line format.
    let answer = invoke(&server, "node", r#"{"n":2}"#);
    assert_eq!(answer["cold"], false, "{answer}");
    let reply = request("GET", &server.url("/node/7?q=1"), None, &[]);
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(reply.json()["pathParameters"]["id"], "7");

    let answer = body_of(&invoke(&server, "shell", r#"{"s":true}"#));
    assert_eq!(answer["shell"], true, "{answer}");
    assert_eq!(answer["handler"], "my.handler");
    assert_eq!(answer["event"]["s"], true);

    let reply = lambda_invoke(&server, "rust", br#"{"r":1}"#);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["rust"], true, "{body}");
    assert_eq!(body["event"]["r"], 1);
    let failed = lambda_invoke(&server, "rust", br#"{"fail":true}"#);
    assert_eq!(failed.header("x-amz-function-error"), Some("Unhandled"));
    // Through an HTTP route the Rust function answers with a plain JSON
    // object: API Gateway's shortcut makes it a 200 application/json body.
    let reply = request("POST", &server.url("/rust"), Some(b"{}"), &[]);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json()["rust"], true);

    run_boto3_checks(&server, &["--others"]);
    server.assert_healthy();
}

#[test]
fn init_is_limited_to_ten_seconds() {
    let server = server();
    let dir = app(&format!(
        "service: slow\nfunctions:\n  slowinit:\n    runtime: python3.11\n    handler: app.handler\n    package: {}\n    timeout: 30\n",
        lambda_fixture("python-slowinit").display()
    ));
    server.cli_ok(&["deploy"], dir.path());
    let started = std::time::Instant::now();
    let reply = lambda_invoke(&server, "slowinit", b"{}");
    let took = started.elapsed();
    assert_function_error(&reply, "Sandbox.Timedout", "10.00 seconds");
    assert!(
        took >= Duration::from_secs(10) && took < Duration::from_secs(25),
        "{took:?}"
    );
    let log = invoke(&server, "slowinit", "{}");
    assert!(log["log"].to_string().contains("Init Duration"), "{log}");
    server.assert_healthy();
}

#[test]
fn python_without_templates_starts_the_interpreter_per_instance() {
    let runtimes = workspace().join("target/stratus-test-runtimes");
    let runtimes = runtimes.display().to_string();
    let server = Server::start(&["--runtimes-dir", &runtimes, "--no-python-templates"]);
    let pkg = lambda_fixture("python");
    let dir = app(&format!(
        "service: plain\nfunctions:\n  env:\n    runtime: python3.11\n    handler: app.env\n    package: {pkg}\n  fail:\n    runtime: python3.11\n    handler: app.fail\n    package: {pkg}\n",
        pkg = pkg.display()
    ));
    server.cli_ok(&["deploy"], dir.path());
    let env = body_of(&invoke(&server, "env", "{}"));
    assert_eq!(env["forked"], 0, "{env}");
    assert_eq!(env["LAMBDA_TASK_ROOT"], "/var/task", "{env}");
    assert_ne!(env["uid"], 0, "{env}");
    let reply = lambda_invoke(&server, "fail", b"{}");
    assert_eq!(reply.json()["errorType"], "ValueError", "{}", reply.text());
    server.assert_healthy();
}

/// A zip with the given (name, unix mode, bytes) entries.
fn zip_of(entries: &[(&str, u32, &[u8])]) -> Vec<u8> {
    use std::io::Write as _;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, mode, bytes) in entries {
        let options = zip::write::SimpleFileOptions::default().unix_permissions(*mode);
        writer.start_file(*name, options).expect("start entry");
        writer.write_all(bytes).expect("write entry");
    }
    writer.finish().expect("finish zip").into_inner()
}

#[test]
fn bad_packages_are_refused_with_clear_errors() {
    use sha2::Digest as _;
    let server = server();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "not a zip",
            b"plain text, not a zip".to_vec(),
            "not a zip archive",
        ),
        (
            "zip slip",
            zip_of(&[("../../etc/evil", 0o644, b"x")]),
            "leaves the package",
        ),
        (
            "absolute path",
            zip_of(&[("/etc/evil", 0o644, b"x")]),
            "leaves the package",
        ),
    ];
    for (what, bytes, expected) in cases {
        let sha = hex::encode(sha2::Sha256::digest(&bytes));
        let reply = server.api(
            "PUT",
            &format!("/v1/artifacts/{sha}?runtime=python"),
            Some(&bytes),
        );
        assert_eq!(reply.status, 400, "{what}: {}", reply.text());
        assert_eq!(
            reply.json()["code"],
            "InvalidArtifact",
            "{what}: {}",
            reply.text()
        );
        assert!(reply.text().contains(expected), "{what}: {}", reply.text());
    }
    // A good zip deploys, and its bootstrap runs from the unpacked tree
    // (this one exits during init: Lambda's Runtime.ExitError).
    let script = b"#!/bin/bash\necho starting\nexit 7\n";
    let good = zip_of(&[("bootstrap", 0o755, script)]);
    let pkg = tempfile::tempdir().expect("tempdir");
    std::fs::write(pkg.path().join("code.zip"), &good).expect("write zip");
    let dir = app(&format!(
        "service: zipped\nfunctions:\n  z:\n    runtime: provided\n    package: {}\n",
        pkg.path().join("code.zip").display()
    ));
    server.cli_ok(&["deploy"], dir.path());
    let reply = lambda_invoke(&server, "z", b"{}");
    assert_function_error(&reply, "Runtime.ExitError", "exit status 7");
    server.assert_healthy();
}

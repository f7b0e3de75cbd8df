//! End-to-end tests of topics (SNS): the real boto3 `sns` client, and one
//! publication fanned out to a wasm function, a Python Lambda function, an
//! SQS queue and HTTP endpoints served by the test, with filter policies;
//! email and SMS deliveries read back from the local outbox with `stratus
//! sns outbox`.

use crate::harness::{Server, app, fixtures, workspace};
use crate::harness::{log_lines, python};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The environment of a boto3 script against `server`.
fn aws_env(server: &Server) -> Vec<(String, String)> {
    server.aws_env()
}

/// One request the test's HTTP endpoint received.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: BTreeMap<String, String>,
    body: String,
}

/// An HTTP endpoint on 127.0.0.1 that records what it gets; its first
/// notification at `/` is answered 500 (so a delivery must be retried),
/// the rest 200.
struct Endpoint {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Endpoint {
    fn start() -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        std::thread::spawn(move || {
            let mut first = true;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(request) = read_request(&mut stream) else {
                    continue;
                };
                let notification = request.path == "/"
                    && request
                        .headers
                        .get("x-amz-sns-message-type")
                        .map(String::as_str)
                        == Some("Notification");
                let status = if first && notification {
                    first = false;
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                log.lock().unwrap().push(request);
            }
        });
        Endpoint { url, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// What was received of SNS message type `kind`.
    fn of_kind(&self, kind: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.headers.get("x-amz-sns-message-type").map(String::as_str) == Some(kind))
            .collect()
    }

    /// Waits until `pred` holds for what was received.
    fn wait_for(&self, what: &str, pred: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.received();
            if pred(&got) {
                return got;
            }
            assert!(Instant::now() < deadline, "{what}: got {got:#?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Received> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let length: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received {
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// A Python Lambda function that checks Lambda's SNS event shape and logs
/// `SNS-OK <message id> <message>`.
const CHECKER: &str = r#"
import json

def check(event, context):
    records = event["Records"]
    assert len(records) == 1, event
    record = records[0]
    assert record["EventSource"] == "aws:sns" and record["EventVersion"] == "1.0", record
    assert record["EventSubscriptionArn"].startswith("arn:aws:sns:us-east-1:000000000000:fan:"), record
    sns = record["Sns"]
    assert sns["Type"] == "Notification", sns
    assert sns["TopicArn"] == "arn:aws:sns:us-east-1:000000000000:fan", sns
    assert sns["SignatureVersion"] == "1", sns
    for key in ["MessageId", "Timestamp", "Signature", "SigningCertUrl", "UnsubscribeUrl", "Subject", "Message"]:
        assert isinstance(sns[key], str), (key, sns)
    assert sns["Timestamp"].endswith("Z"), sns
    assert sns["MessageAttributes"]["color"] == {"Type": "String", "Value": "red"}, sns
    assert sns["MessageAttributes"]["size"] == {"Type": "Number", "Value": "5"}, sns
    print("SNS-OK", sns["MessageId"], sns["Message"])
    return {}
"#;

fn wait_logs(server: &Server, name: &str, what: &str, pred: impl Fn(&[String]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let lines = log_lines(server, name);
        if pred(&lines) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: logs of {name}: {lines:#?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn boto3_sns_api_and_fan_out() {
    let f = fixtures();
    let runtimes = workspace().join("target/stratus-test-runtimes");
    let runtimes = runtimes.display().to_string();
    let server = Server::start(&["--runtimes-dir", &runtimes]);
    let endpoint = Endpoint::start();

    let package = tempfile::tempdir().expect("tempdir");
    std::fs::write(package.path().join("app.py"), CHECKER).expect("write app.py");
    let dir = app(&format!(
        "service: topics\nfunctions:\n  tb:\n    handler: {}\n    events:\n      - sns: fan\n  py:\n    runtime: python3.11\n    handler: app.check\n    package: {}\n    events:\n      - sns: {{topic: fan, filterPolicy: {{color: [red]}}}}\n",
        f.testbed.display(),
        package.path().display()
    ));
    server.cli_ok(&["deploy"], dir.path());

    let script = workspace().join("crates/stratus/tests/py/sns.py");
    let out = Command::new(python())
        .arg(&script)
        .envs(aws_env(&server))
        .env("HTTP_URL", &endpoint.url)
        .output()
        .expect("run python; ./test.sh prepares a venv with boto3");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success()
            && stdout.contains("parity ok")
            && stdout.contains("sqs ok")
            && stdout.contains("checks ok"),
        "boto3 sns checks failed:\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let published: BTreeMap<&str, &str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("published "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    let (red, blue) = (published["red"], published["blue"]);

    // HTTP: the envelope of red (retried after a 500) at `/`; blue's raw
    // message at `/raw` (size 50 > 10); neither elsewhere.
    let notification = |r: &&Received| {
        r.headers.get("x-amz-sns-message-type").map(String::as_str) == Some("Notification")
    };
    let got = endpoint.wait_for("red's envelope and blue's raw delivery", |got| {
        got.iter()
            .filter(notification)
            .filter(|r| r.path == "/")
            .count()
            >= 2
            && got.iter().filter(notification).any(|r| r.path == "/raw")
    });
    let envelopes: Vec<&Received> = got
        .iter()
        .filter(notification)
        .filter(|r| r.path == "/")
        .collect();
    assert_eq!(
        envelopes[0].body, envelopes[1].body,
        "a retry sends the same body"
    );
    let red_http = envelopes[1];
    assert_eq!(red_http.headers["x-amz-sns-message-type"], "Notification");
    assert_eq!(red_http.headers["x-amz-sns-message-id"], red);
    assert_eq!(
        red_http.headers["x-amz-sns-topic-arn"],
        "arn:aws:sns:us-east-1:000000000000:fan"
    );
    assert!(
        red_http.headers["x-amz-sns-subscription-arn"]
            .starts_with("arn:aws:sns:us-east-1:000000000000:fan:")
    );
    let envelope: serde_json::Value = serde_json::from_str(&red_http.body).expect("JSON envelope");
    assert_eq!(envelope["Type"], "Notification");
    assert_eq!(envelope["MessageId"], red);
    assert_eq!(envelope["Message"], "red message");
    assert_eq!(envelope["Subject"], "paint");
    assert_eq!(envelope["SignatureVersion"], "1");
    assert_eq!(
        envelope["MessageAttributes"]["color"],
        serde_json::json!({"Type": "String", "Value": "red"})
    );
    assert!(
        envelope["UnsubscribeURL"]
            .as_str()
            .is_some_and(|u| u.contains("Action=Unsubscribe"))
    );
    let raw: Vec<&Received> = got
        .iter()
        .filter(notification)
        .filter(|r| r.path == "/raw")
        .collect();
    assert_eq!(raw.len(), 1, "{raw:#?}");
    assert_eq!(raw[0].body, "blue message");
    assert_eq!(raw[0].headers["x-amz-sns-message-id"], blue);
    assert_eq!(
        raw[0]
            .headers
            .get("x-amz-sns-rawdelivery")
            .map(String::as_str),
        Some("true")
    );

    // Functions: the wasm function (no policy) ran for both, the Python
    // one (color = red) for red only, with Lambda's SNS event.
    wait_logs(
        &server,
        "py",
        "the Python function never saw red",
        |lines| {
            lines
                .iter()
                .any(|l| l.contains(&format!("SNS-OK {red} red message")))
        },
    );
    wait_logs(
        &server,
        "tb",
        "the wasm function did not run twice",
        |lines| {
            lines
                .iter()
                .filter(|l| l.starts_with("END RequestId:"))
                .count()
                >= 2
        },
    );
    let py = log_lines(&server, "py");
    assert!(!py.iter().any(|l| l.contains("blue")), "{py:#?}");
    assert_eq!(
        py.iter()
            .filter(|l| l.starts_with("END RequestId:"))
            .count(),
        1,
        "{py:#?}"
    );
    // Nothing more arrives at the endpoint (blue's envelope was filtered),
    // but the confirmation each new subscription was sent.
    std::thread::sleep(Duration::from_millis(300));
    let got = endpoint.of_kind("Notification");
    assert_eq!(got.len(), 3, "{got:#?}");
    let confirmations = endpoint.of_kind("SubscriptionConfirmation");
    let mut paths: Vec<&str> = confirmations.iter().map(|r| r.path.as_str()).collect();
    paths.sort();
    assert_eq!(paths, ["/", "/raw"], "{confirmations:#?}");
    let confirmation: serde_json::Value =
        serde_json::from_str(&confirmations[0].body).expect("JSON confirmation");
    assert_eq!(confirmation["Type"], "SubscriptionConfirmation");
    assert!(
        confirmation["Token"]
            .as_str()
            .is_some_and(|t| t.len() == 288 && t.bytes().all(|b| b.is_ascii_hexdigit())),
        "{confirmation}"
    );
    assert_eq!(endpoint.received().len(), 5);

    check_outbox(&server, &stdout);
    server.assert_healthy();
}

/// The outbox lines of `stratus sns outbox --json` with these arguments.
fn outbox(server: &Server, args: &[&str]) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut all = vec!["sns", "outbox", "--json"];
    all.extend_from_slice(args);
    server
        .cli_ok(&all, dir.path())
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

/// The email and SMS deliveries of the script's `structured` topic, and its
/// text to a phone number, as the local outbox and `stratus sns outbox`
/// show them; an email subscription confirmed with its confirmation's
/// token.
fn check_outbox(server: &Server, stdout: &str) {
    let line = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in {stdout}"))
            .to_string()
    };
    let email_subscription = line("email-subscription ");
    let sms_direct = line("sms-direct ");

    let messages = outbox(server, &["--topic", "structured", "--limit", "100"]);
    let find = |kind: &str, protocol: &str| -> Vec<&serde_json::Value> {
        messages
            .iter()
            .filter(|m| m["kind"] == kind && m["protocol"] == protocol)
            .collect()
    };
    assert!(
        messages.iter().all(|m| m["topic"] == "structured"),
        "{messages:#?}"
    );
    // The email confirmation carries the token ConfirmSubscription takes.
    let confirmations = find("SubscriptionConfirmation", "email");
    assert_eq!(confirmations.len(), 1, "{messages:#?}");
    assert_eq!(confirmations[0]["endpoint"], "ops@example.com");
    assert_eq!(
        confirmations[0]["subject"],
        "AWS Notification - Subscription Confirmation"
    );
    let body = confirmations[0]["body"].as_str().unwrap_or_default();
    let token = body
        .split("Token=")
        .nth(1)
        .map(|rest| rest.trim().to_string())
        .unwrap_or_else(|| panic!("no token in {body}"));
    assert_eq!(
        find("SubscriptionConfirmation", "email-json")[0]["endpoint"],
        "robot@example.com"
    );
    // The publication with MessageStructure=json: each protocol's key, or
    // `default`; then the batch's `default`.
    let emails = find("Notification", "email");
    assert_eq!(emails.len(), 2, "{messages:#?}");
    assert_eq!(emails[0]["subject"], "structured");
    assert!(
        emails[0]["body"].as_str().is_some_and(
            |b| b.starts_with("for inboxes\n\n--\n") && b.contains("Action=Unsubscribe")
        ),
        "{:#}",
        emails[0]
    );
    assert_eq!(emails[1]["subject"], "AWS Notification Message");
    assert!(
        emails[1]["body"]
            .as_str()
            .is_some_and(|b| b.starts_with("batch default")),
        "{:#}",
        emails[1]
    );
    let json_emails = find("Notification", "email-json");
    let envelope: serde_json::Value =
        serde_json::from_str(json_emails[0]["body"].as_str().unwrap_or_default())
            .expect("an email-json body is SNS's JSON");
    assert_eq!(envelope["Type"], "Notification");
    assert_eq!(envelope["Message"], "plain");
    let texts: Vec<&serde_json::Value> = find("Notification", "sms")
        .into_iter()
        .map(|m| &m["body"])
        .collect();
    assert_eq!(texts, ["for phones", "batch default"], "{messages:#?}");
    assert!(
        find("Notification", "sms")
            .iter()
            .all(|m| m["endpoint"] == "+15555550100" && m["subject"].is_null())
    );

    // --limit keeps the newest; a topic ARN works as well as its name.
    let newest = outbox(
        server,
        &[
            "--topic",
            "arn:aws:sns:us-east-1:000000000000:structured",
            "--limit",
            "1",
        ],
    );
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0]["id"], messages.last().expect("messages")["id"]);
    // Without --topic: every topic's, and the text sent to a phone number.
    let all = outbox(server, &["--limit", "1000"]);
    let direct = all
        .iter()
        .find(|m| m["messageId"] == sms_direct.as_str())
        .unwrap_or_else(|| panic!("no direct text in {all:#?}"));
    assert_eq!(
        (&direct["topic"], &direct["endpoint"], &direct["body"]),
        (
            &serde_json::json!(""),
            &serde_json::json!("+15555550199"),
            &serde_json::json!("straight to a phone")
        )
    );
    assert!(all.iter().any(|m| m["endpoint"] == "all@example.com"));
    // The human form.
    let dir = tempfile::tempdir().expect("tempdir");
    let text = server.cli_ok(&["sns", "outbox", "--topic", "structured"], dir.path());
    assert!(
        text.contains("Notification email ops@example.com topic=structured"),
        "{text}"
    );
    assert!(text.contains("  Subject: structured"), "{text}");
    assert!(text.contains("  for phones"), "{text}");

    // ConfirmSubscription takes the email's token and answers the ARN.
    let script = format!(
        "import boto3\nprint(boto3.client('sns').confirm_subscription(TopicArn='arn:aws:sns:us-east-1:000000000000:structured', Token='{token}')['SubscriptionArn'])"
    );
    let out = Command::new(python())
        .args(["-c", &script])
        .envs(aws_env(server))
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        email_subscription
    );
}

#[test]
fn manifest_topics_are_created_at_deploy() {
    let f = fixtures();
    let server = Server::start(&[]);
    let dir = app(&format!(
        "service: made\nfunctions:\n  tb:\n    handler: {}\n    events:\n      - sns: made-at-deploy\n",
        f.testbed.display()
    ));
    server.cli_ok(&["deploy"], dir.path());
    let env = aws_env(&server);
    let script = r#"
import boto3, time
sns = boto3.client("sns")
deadline = time.time() + 10
arn = "arn:aws:sns:us-east-1:000000000000:made-at-deploy"
while arn not in [t["TopicArn"] for t in sns.list_topics()["Topics"]]:
    assert time.time() < deadline, "the manifest's topic was not created"
    time.sleep(0.05)
print(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["SubscriptionsConfirmed"])
print(sns.publish(TopicArn=arn, Message="hi")["MessageId"])
"#;
    let run = |env: &[(String, String)]| {
        let out = Command::new(python())
            .args(["-c", script])
            .envs(env.iter().cloned())
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "stdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = run(&env);
    assert!(out.starts_with("1\n"), "one manifest subscription: {out}");
    wait_logs(
        &server,
        "tb",
        "the function did not get the message",
        |lines| lines.iter().any(|l| l.starts_with("END RequestId:")),
    );
    server.assert_healthy();
}

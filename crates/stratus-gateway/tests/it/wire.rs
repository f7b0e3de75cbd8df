use bytes::Bytes;
use std::path::{Path, PathBuf};
use stratus_engine::{Engine, EngineConfig};
use stratus_gateway::AppState;
use stratus_store_sqlite::Store;

/// One request and the answer expected.
struct Exchange {
    request: String,
    expected: String,
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/aws")
}

fn bless() -> bool {
    std::env::var_os("STRATUS_BLESS").is_some_and(|v| v == "1")
}

/// Every case file under `dir`, sorted.
fn case_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "txt") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn parse(text: &str, path: &Path) -> Vec<Exchange> {
    let mut exchanges = Vec::new();
    for block in text.split("\n>>> ").map(|b| b.trim_start_matches(">>> ")) {
        if block.trim().is_empty() {
            continue;
        }
        let (request, expected) = block
            .split_once("\n<<< ")
            .unwrap_or_else(|| panic!("{}: an exchange without `<<< `", path.display()));
        exchanges.push(Exchange {
            request: request.to_string(),
            expected: expected.trim_end().to_string(),
        });
    }
    exchanges
}

/// Method, path, headers and body of a request block.
fn request_of(block: &str, token: &str) -> http::Request<Bytes> {
    let (head, body) = block.split_once("\n\n").unwrap_or((block, ""));
    let mut lines = head.lines();
    let first = lines.next().unwrap_or_default();
    let (method, uri) = first.split_once(' ').unwrap_or(("POST", "/"));
    let mut builder = http::Request::builder().method(method).uri(uri.trim());
    let mut authorized = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("authorization") {
            authorized = true;
            if value == "none" {
                continue;
            }
        }
        builder = builder.header(name, value);
    }
    if !authorized {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder
        .body(Bytes::from(body.trim_end_matches('\n').to_string()))
        .expect("a valid request")
}

/// Replaces what differs from run to run.
fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        // A UUID: 8-4-4-4-12 hex digits.
        if i + 36 <= chars.len() {
            let candidate: String = chars[i..i + 36].iter().collect();
            if is_uuid(&candidate) {
                out.push_str("<uuid>");
                i += 36;
                continue;
            }
        }
        // A run of 13 digits is a millisecond timestamp; 10 a second one.
        if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_ascii_alphanumeric()) {
            let end = (i..chars.len())
                .find(|&j| !chars[j].is_ascii_digit())
                .unwrap_or(chars.len());
            let run = end - i;
            let bounded = end == chars.len() || !chars[end].is_ascii_alphanumeric();
            if bounded && (run == 13 || run == 10) {
                out.push_str(if run == 13 { "<ms>" } else { "<s>" });
                i = end;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    // Receipt handles are opaque.
    let mut redacted = String::new();
    let mut rest = out.as_str();
    while let Some(start) = rest.find("\"ReceiptHandle\": \"") {
        let value = start + "\"ReceiptHandle\": \"".len();
        redacted.push_str(&rest[..value]);
        let end = rest[value..].find('"').map_or(rest.len(), |e| value + e);
        redacted.push_str("<handle>");
        rest = &rest[end..];
    }
    redacted.push_str(rest);
    redacted
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The answer as a case writes it: status, the headers named in the
/// expectation (or the protocol's usual ones), body.
fn render(response: &http::Response<Bytes>, expected: &str) -> String {
    let mut names: Vec<String> = expected
        .split_once("\n\n")
        .map_or(expected, |(head, _)| head)
        .lines()
        .skip(1)
        .filter_map(|l| {
            l.split_once(':')
                .map(|(n, _)| n.trim().to_ascii_lowercase())
        })
        .collect();
    if names.is_empty() {
        names = ["content-type", "x-amzn-query-error", "x-amzn-errortype"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    }
    let mut text = format!("{}", response.status().as_u16());
    for name in names {
        if let Some(value) = response.headers().get(&name) {
            text.push_str(&format!(
                "\n{name}: {}",
                value.to_str().unwrap_or("<binary>")
            ));
        }
    }
    let body = String::from_utf8_lossy(response.body());
    let body = match serde_json::from_str::<serde_json::Value>(&body) {
        Ok(value) if body.trim_start().starts_with('{') => {
            serde_json::to_string_pretty(&value).unwrap_or_default()
        }
        _ => body.into_owned(),
    };
    text.push_str("\n\n");
    text.push_str(&redact(&body));
    text.trim_end().to_string()
}

async fn state(dir: &Path) -> AppState {
    let store = Store::open(dir).expect("open store");
    let token = store.load_or_create_token().expect("token");
    let engine = Engine::start(
        stratus_store_sqlite::engine_backends(&store),
        Vec::new(),
        EngineConfig::default(),
    )
    .await
    .expect("start engine");
    let services = stratus_triggers::Triggers::start(
        engine.clone(),
        stratus_triggers::ServicesConfig::default(),
        stratus_triggers::Backends {
            queues: std::sync::Arc::new(stratus_store_sqlite::SqliteQueues::new(store.clone())),
            topics: std::sync::Arc::new(stratus_store_sqlite::SqliteTopics::new(store.clone())),
            buses: std::sync::Arc::new(stratus_store_sqlite::SqliteBuses::new(store.clone())),
        },
    );
    AppState {
        engine,
        services,
        token: token.into(),
        gateway_url: "http://127.0.0.1:8080".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_wire_cases() {
    let files = case_files(&cases_dir());
    assert!(
        !files.is_empty(),
        "no cases under {}",
        cases_dir().display()
    );
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("read case");
        let dir = tempfile::tempdir().expect("tempdir");
        let state = state(dir.path()).await;
        let router = stratus_gateway::aws_router(&state);
        let mut blessed = String::new();
        for (n, exchange) in parse(&text, path).iter().enumerate() {
            let request =
                request_of(&exchange.request, &state.token).map(http_body_util::Full::new);
            let response = router.handle(request).await;
            let actual = render(&response, &exchange.expected);
            if bless() {
                blessed.push_str(&format!(
                    ">>> {}\n<<< {actual}\n\n",
                    exchange.request.trim_end()
                ));
            } else if actual != exchange.expected {
                failures.push(format!(
                    "{} exchange {}:\n--- expected\n{}\n--- actual\n{}",
                    path.display(),
                    n + 1,
                    exchange.expected,
                    actual
                ));
            }
        }
        if bless() {
            std::fs::write(path, blessed).expect("bless");
        }
        state.services.shutdown().await;
        state
            .engine
            .shutdown(std::time::Duration::from_secs(1))
            .await;
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

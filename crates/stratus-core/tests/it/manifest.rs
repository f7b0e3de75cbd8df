//! Manifest parsing and validation, driven by `tests/cases/manifest/*.yaml`.
//!
//! Each case is a manifest followed by a block of comments after the line
//! `# ---- expected ----`: either the error (`stratus.yaml:L:C: message`) or a
//! rendering of the parsed manifest. Being comments at the end, the expected
//! block does not move any position in the manifest. A line
//! `# test-existing-files: a.wasm b.wasm` in the manifest makes the case also
//! run `check_handlers` with exactly those files existing.

use crate::cases;
use std::fmt::Write as _;
use stratus_core::manifest::{Location, Manifest, ManifestError, check_handlers, parse_manifest};
use stratus_core::{FunctionConfig, HttpRoute, RuntimeKind};

const FILE: &str = "stratus.yaml";
const EXPECTED: &str = "# ---- expected ----";
const EXISTING: &str = "# test-existing-files:";

fn render(m: &Manifest) -> String {
    let mut out = format!("service {}\n", m.service);
    for f in &m.functions {
        let _ = writeln!(out, "function {} at {}", f.name, f.name_at);
        let _ = writeln!(out, "  handler {:?} at {}", f.handler, f.handler_at);
        match (&f.build, f.build_at) {
            (Some(b), Some(at)) => {
                let _ = writeln!(out, "  build {b:?} at {at}");
            }
            (None, None) => {}
            other => {
                let _ = writeln!(out, "  build INCONSISTENT {other:?}");
            }
        }
        let _ = writeln!(
            out,
            "  runtime {:?}, memorySize {}, timeout {}",
            f.runtime, f.memory_size, f.timeout
        );
        let env: Vec<String> = f
            .environment
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        let _ = writeln!(out, "  environment [{}]", env.join(", "));
        let _ = writeln!(
            out,
            "  reservedConcurrency {:?}, provisionedConcurrency {}",
            f.reserved_concurrency, f.provisioned_concurrency
        );
        let _ = writeln!(out, "  allowedOutboundHosts {:?}", f.allowed_outbound_hosts);
        if let Some(version) = &f.runtime_version {
            let _ = writeln!(
                out,
                "  runtimeVersion {version}, package {:?} at {}, ephemeralStorageSize {:?}",
                f.package, f.package_at, f.ephemeral_storage
            );
        }
        for (route, at) in &f.routes {
            let _ = writeln!(out, "  route {} {} at {at}", route.method, route.path);
        }
        if !f.events.is_empty() {
            let json = serde_json::to_string(&f.events).unwrap_or_default();
            let _ = writeln!(out, "  events {json}");
        }
        if !f.async_config.is_default() {
            let json = serde_json::to_string(&f.async_config).unwrap_or_default();
            let _ = writeln!(out, "  async {json}");
        }
    }
    out
}

fn run(source: &str) -> String {
    let manifest = match parse_manifest(FILE, source) {
        Ok(m) => m,
        Err(e) => return e.to_string(),
    };
    if let Some(line) = source.lines().find(|l| l.starts_with(EXISTING)) {
        let existing: Vec<&str> = line[EXISTING.len()..].split_whitespace().collect();
        if let Err(e) = check_handlers(FILE, &manifest, |h| existing.contains(&h)) {
            return e.to_string();
        }
    }
    render(&manifest)
}

/// The error position must be inside the file (one past the end at most).
fn check_position(source: &str, e: &ManifestError) -> Result<(), String> {
    let lines: Vec<&str> = source.split('\n').collect();
    let ok = e.line >= 1
        && e.column >= 1
        && lines
            .get(e.line - 1)
            .is_some_and(|l| e.column <= l.chars().count() + 1);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "position {}:{} is outside the file",
            e.line, e.column
        ))
    }
}

#[test]
fn manifest_cases() {
    let files = cases::files("manifest", "yaml");
    let mut failures = Vec::new();
    for path in &files {
        let name = cases::name(path);
        let text = std::fs::read_to_string(path).expect("read case");
        let (source, expected) = match text.split_once(&format!("\n{EXPECTED}\n")) {
            Some((source, expected)) => (format!("{source}\n"), expected.to_string()),
            None => (text.clone(), String::new()),
        };
        let expected: String = expected
            .lines()
            .map(|l| l.strip_prefix("# ").or(l.strip_prefix('#')).unwrap_or(l))
            .map(|l| format!("{l}\n"))
            .collect();
        let actual = run(&source);
        let actual = if actual.ends_with('\n') {
            actual
        } else {
            format!("{actual}\n")
        };
        if let Err(e) = parse_manifest(FILE, &source)
            && let Err(why) = check_position(&source, &e)
        {
            failures.push(format!("{name}: {why}"));
        }
        if actual != expected {
            if cases::bless() {
                let block: String = actual
                    .lines()
                    .map(|l| format!("# {l}").trim_end().to_string() + "\n")
                    .collect();
                std::fs::write(path, format!("{source}{EXPECTED}\n{block}")).expect("bless");
            } else {
                failures.push(format!(
                    "{name}:\n--- expected\n{expected}--- actual\n{actual}"
                ));
            }
        }
    }
    cases::report("manifest", files.len(), failures);
}

const FULL: &str = "\
service: hello
provider:
  name: stratus
  runtime: wasm
  memorySize: 128
  timeout: 3
  environment: {LOG_LEVEL: info}
functions:
  hello:
    handler: target/wasm32-wasip2/release/hello.wasm
    runtime: wasm
    build: cargo build --target wasm32-wasip2 --release
    memorySize: 256
    timeout: 5
    environment: {GREETING: hello}
    reservedConcurrency: 10
    provisionedConcurrency: 1
    allowedOutboundHosts: [\"example.com\", \"127.0.0.1:8080\", \"*.example.org\"]
    events:
      - httpApi:
          method: GET
          path: /hello/{name}
      - httpApi: 'POST /items/{proxy+}'
      - httpApi: '*'
  other:
    handler: other.wasm
";

#[test]
fn to_config_carries_every_field() {
    let m = parse_manifest(FILE, FULL).expect("valid manifest");
    let config = m.functions[0].to_config("ab12");
    let expected = FunctionConfig {
        name: "hello".into(),
        runtime: RuntimeKind::Wasm,
        artifact: "ab12".into(),
        memory_size: 256,
        timeout: 5.0,
        environment: [("GREETING", "hello"), ("LOG_LEVEL", "info")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        reserved_concurrency: Some(10),
        provisioned_concurrency: 1,
        allowed_outbound_hosts: vec![
            "example.com".into(),
            "127.0.0.1:8080".into(),
            "*.example.org".into(),
        ],
        routes: vec![
            HttpRoute {
                method: "GET".into(),
                path: "/hello/{name}".into(),
            },
            HttpRoute {
                method: "POST".into(),
                path: "/items/{proxy+}".into(),
            },
            HttpRoute {
                method: "*".into(),
                path: "*".into(),
            },
        ],
        runtime_version: None,
        handler: None,
        ephemeral_storage: None,
        events: Default::default(),
        async_config: Default::default(),
    };
    assert_eq!(config, expected);
    let other = m.functions[1].to_config("cd34");
    assert_eq!(other.memory_size, 128);
    assert_eq!(other.timeout, 3.0);
    assert_eq!(other.reserved_concurrency, None);
    assert!(other.routes.is_empty());
}

#[test]
fn check_handlers_sees_paths_as_written() {
    let m = parse_manifest(FILE, FULL).expect("valid manifest");
    let seen = std::cell::RefCell::new(Vec::new());
    let result = check_handlers(FILE, &m, |h| {
        seen.borrow_mut().push(h.to_string());
        true
    });
    assert!(result.is_ok());
    assert_eq!(
        seen.into_inner(),
        ["target/wasm32-wasip2/release/hello.wasm", "other.wasm"]
    );
}

#[test]
fn errors_name_the_given_file() {
    let err = parse_manifest("svc/stratus.yaml", "service: a\nfunctions: []\n")
        .expect_err("functions must be a mapping");
    assert_eq!(err.file, "svc/stratus.yaml");
    assert_eq!(
        err.location(),
        Location {
            line: 2,
            column: 12
        }
    );
    assert_eq!(
        err.to_string(),
        "svc/stratus.yaml:2:12: `functions` must be a mapping of function names to definitions, found a list"
    );
}

#[test]
fn byte_order_mark_is_ignored() {
    let source = format!("\u{feff}{FULL}");
    let m = parse_manifest(FILE, &source).expect("valid manifest");
    assert_eq!(m.service, "hello");
    assert_eq!(m.functions[0].name_at, Location { line: 9, column: 3 });
}

/// Every prefix and every one-line deletion of a valid manifest either
/// parses or fails with a position inside the text, and never panics.
#[test]
fn mangled_manifests_fail_cleanly() {
    let mut sources = Vec::new();
    for (i, _) in FULL.char_indices() {
        sources.push(FULL[..i].to_string());
    }
    let lines: Vec<&str> = FULL.lines().collect();
    for skip in 0..lines.len() {
        let mut kept = lines.clone();
        kept.remove(skip);
        sources.push(kept.join("\n"));
        let mut indented = lines.clone();
        let shifted = format!(" {}", lines[skip]);
        indented[skip] = &shifted;
        sources.push(indented.join("\n"));
    }
    let mut failures = Vec::new();
    for source in &sources {
        if let Err(e) = parse_manifest(FILE, source)
            && let Err(why) = check_position(source, &e)
        {
            failures.push(format!("{why}: {e}\n{source}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

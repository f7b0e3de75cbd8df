//! Bad artifacts and bad manifests: each gets a precise error, and the
//! server stays up and keeps serving what was deployed before.

use crate::harness::{Server, app, fixtures, workspace};
use std::path::Path;

fn deploy_err(server: &Server, dir: &Path) -> String {
    let out = server.cli(&["deploy"], dir);
    assert!(
        !out.status.success(),
        "deploy should fail; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn one_function(handler: &Path) -> String {
    format!(
        "service: bad\nfunctions:\n  bad:\n    handler: {}\n    events:\n      - httpApi: GET /bad\n",
        handler.display()
    )
}

#[test]
fn bad_artifacts_are_rejected_with_clear_errors() {
    let f = fixtures();
    let server = Server::start(&[]);
    // something good is deployed first and must keep serving
    let good = app(&format!(
        "service: good\nfunctions:\n  good:\n    handler: {}\n    events:\n      - httpApi: GET /version\n",
        f.testbed.display()
    ));
    server.cli_ok(&["deploy"], good.path());

    let scratch = tempfile::tempdir().expect("tempdir");
    let not_wasm = scratch.path().join("notwasm.wasm");
    std::fs::write(&not_wasm, b"#!/bin/sh\necho this is not wasm\n").expect("write");
    let core = scratch.path().join("core.wasm");
    // the smallest valid core module: magic + version 1
    std::fs::write(&core, b"\0asm\x01\0\0\0").expect("write");
    let cases: [(&Path, &str); 3] = [
        (&not_wasm, "is not WebAssembly"),
        (&core, "is a core WebAssembly module, not a component"),
        (&f.cli_main, "does not export `wasi:http/incoming-handler"),
    ];
    for (artifact, expected) in cases {
        let dir = app(&one_function(artifact));
        let err = deploy_err(&server, dir.path());
        assert!(
            err.contains(expected),
            "{}: expected `{expected}` in:\n{err}",
            artifact.display()
        );
        server.assert_healthy();
        assert_eq!(server.get("/version").text(), "testbed v1");
        assert_eq!(server.get("/bad").status, 404);
    }
}

/// Data-driven: each file in tests/cases/manifest is a bad stratus.yaml whose
/// first line is `# expect: <line>:<col>: <message fragment>`.
#[test]
fn manifest_errors_name_file_line_and_column() {
    let f = fixtures();
    let server = Server::start(&[]);
    let cases = workspace().join("crates/stratus/tests/cases/manifest");
    let mut entries: Vec<_> = std::fs::read_dir(&cases)
        .expect("cases dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    entries.sort();
    assert!(
        entries.len() >= 8,
        "expected the manifest cases, found {}",
        entries.len()
    );
    for case in entries {
        let text = std::fs::read_to_string(&case).expect("read case");
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} lacks `# expect:`", case.display()))
            .to_string();
        let text = text.replace("{testbed}", &f.testbed.display().to_string());
        let dir = app(&text);
        let err = deploy_err(&server, dir.path());
        let wanted = format!("stratus.yaml:{expect}");
        assert!(
            err.contains(&wanted),
            "{}: expected `{wanted}` in:\n{err}",
            case.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        );
    }
    server.assert_healthy();
}

#[test]
fn failing_build_command_stops_the_deploy() {
    let server = Server::start(&[]);
    let dir = app(
        "service: b\nfunctions:\n  b:\n    handler: out.wasm\n    build: echo compiling; exit 3\n",
    );
    let err = deploy_err(&server, dir.path());
    assert!(
        err.contains("the build command of function `b` failed"),
        "{err}"
    );
}

#[test]
fn route_conflicts_across_services_are_refused() {
    let f = fixtures();
    let server = Server::start(&[]);
    let first = app(&format!(
        "service: one\nfunctions:\n  a:\n    handler: {}\n    events:\n      - httpApi: GET /shared/{{id}}\n",
        f.testbed.display()
    ));
    server.cli_ok(&["deploy"], first.path());
    let second = app(&format!(
        "service: two\nfunctions:\n  b:\n    handler: {}\n    events:\n      - httpApi: GET /shared/{{other}}\n",
        f.testbed.display()
    ));
    let err = deploy_err(&server, second.path());
    assert!(err.contains("route `GET /shared/{other}`"), "{err}");
    // a function name owned by another service is refused too
    let third = app(&format!(
        "service: three\nfunctions:\n  a:\n    handler: {}\n",
        f.testbed.display()
    ));
    let err = deploy_err(&server, third.path());
    assert!(err.contains("one") && err.contains("three"), "{err}");
}

//! The engine's backends ([`EngineBackends`]): one `pub async fn` per
//! case, each taking a fresh set of backends and the time it starts at
//! (`t0`, ms since the epoch; the cases move the clock forward
//! themselves, never sleeping). A case may use several traits at once
//! (a function key removed with its function).
//!
//! What is covered:
//! - [`FunctionBackend`](stratus_engine::backend::FunctionBackend):
//!   artifacts kept under a checked SHA-256; deploys that create, keep,
//!   update and remove functions, old versions readable by number; the
//!   errors of a deploy (`Invalid`, `NotFound`, `Conflict`), after which
//!   nothing has changed; removal of a function and of a service.
//! - [`TelemetryBackend`](stratus_engine::backend::TelemetryBackend): log
//!   lines read back per function in pages with increasing sequence
//!   numbers; usage summed per function from a time on; pruning by age
//!   and by count.
//! - [`AsyncQueueBackend`](stratus_engine::backend::AsyncQueueBackend):
//!   claims under a lease (attempts counted), complete, retry (with the
//!   attempt given back or not, and its due time), fail, expiry past the
//!   maximum age, released leases, the limit and the order of a claim.
//! - [`KeyBackend`](stratus_engine::backend::KeyBackend): the admin key,
//!   function keys (created once, found by id) and their removal with
//!   their function.
//!
//! Deploys stamp their versions with the backend's own clock, so the
//! function cases check the order of `created_ms` and `updated_ms`, not
//! their values.

use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use stratus_core::{FunctionConfig, HttpRoute, RuntimeKind};
use stratus_engine::backend::{
    AsyncQueueBackend, EngineBackends, FunctionBackend, KeyBackend, StoreError,
};
use stratus_engine::records::{
    AccessKey, AsyncEvent, AsyncQueueStats, DeployResult, DeployStatus, FunctionRecord,
    FunctionStats, InvocationRecord, KeyKind, LogRecord, LogStream, NewAsyncEvent, Outcome,
};

/// The start time of every case: 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600_000;

/// The lower-case hex SHA-256 of `bytes`.
fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Stores `bytes` as an artifact; its hash.
async fn upload(functions: &dyn FunctionBackend, bytes: &'static [u8]) -> String {
    let sha = sha(bytes);
    functions
        .put_artifact(&sha, Bytes::from_static(bytes))
        .await
        .expect("put an artifact");
    sha
}

/// A plausible config of function `name` running `artifact`.
fn config(name: &str, artifact: &str) -> FunctionConfig {
    FunctionConfig {
        name: name.to_owned(),
        runtime: RuntimeKind::Wasm,
        artifact: artifact.to_owned(),
        memory_size: 128,
        timeout: 3.0,
        environment: BTreeMap::from([("STAGE".to_owned(), "test".to_owned())]),
        reserved_concurrency: None,
        provisioned_concurrency: 0,
        allowed_outbound_hosts: vec![],
        routes: vec![HttpRoute {
            method: "GET".to_owned(),
            path: format!("/{name}"),
        }],
        runtime_version: None,
        handler: None,
        ephemeral_storage: None,
        events: Default::default(),
        async_config: Default::default(),
    }
}

fn result(name: &str, status: DeployStatus, version: u64) -> DeployResult {
    DeployResult {
        name: name.to_owned(),
        status,
        version,
    }
}

async fn deploy(
    functions: &dyn FunctionBackend,
    service: &str,
    configs: &[FunctionConfig],
) -> Vec<DeployResult> {
    functions
        .deploy(service, configs)
        .await
        .unwrap_or_else(|e| panic!("deploy service {service:?}: {e}"))
}

async fn list(functions: &dyn FunctionBackend) -> Vec<FunctionRecord> {
    functions.list_functions().await.expect("list functions")
}

/// (name, service, version) of every current function.
async fn names(functions: &dyn FunctionBackend) -> Vec<(String, String, u64)> {
    list(functions)
        .await
        .into_iter()
        .map(|f| (f.name, f.service, f.version))
        .collect()
}

fn named(name: &str, service: &str, version: u64) -> (String, String, u64) {
    (name.to_owned(), service.to_owned(), version)
}

/// Artifacts are kept under their SHA-256 and read back; storing one
/// again is fine; a hash that is malformed or does not match the bytes is
/// `Invalid` and keeps nothing.
pub async fn artifacts_are_kept_under_a_checked_hash(functions: &dyn FunctionBackend, _t0: i64) {
    let bytes: &'static [u8] = b"\0asm artifact one";
    let hash = sha(bytes);
    assert!(
        !functions.has_artifact(&hash).await.expect("has"),
        "nothing is kept at first"
    );
    assert_eq!(functions.artifact(&hash).await.expect("read"), None);

    functions
        .put_artifact(&hash, Bytes::from_static(bytes))
        .await
        .expect("put an artifact");
    assert!(functions.has_artifact(&hash).await.expect("has"));
    assert_eq!(
        functions.artifact(&hash).await.expect("read"),
        Some(Bytes::from_static(bytes)),
        "the artifact reads back as stored"
    );
    functions
        .put_artifact(&hash, Bytes::from_static(bytes))
        .await
        .expect("putting the same artifact again is a no-op");
    assert_eq!(
        functions.artifact(&hash).await.expect("read"),
        Some(Bytes::from_static(bytes))
    );

    // Bytes that do not hash to the name given.
    let other: &'static [u8] = b"\0asm artifact two";
    let err = functions
        .put_artifact(&hash, Bytes::from_static(other))
        .await
        .expect_err("a hash mismatch is refused");
    assert!(matches!(err, StoreError::Invalid(_)), "mismatch: {err:?}");
    assert_eq!(
        functions.artifact(&hash).await.expect("read"),
        Some(Bytes::from_static(bytes)),
        "a refused put leaves the kept artifact alone"
    );
    assert!(
        !functions.has_artifact(&sha(other)).await.expect("has"),
        "a refused put keeps nothing under the bytes' real hash"
    );

    // Malformed hashes: upper case, short, not hex.
    for bad in [
        hash.to_uppercase(),
        hash[..63].to_owned(),
        format!("{}g", &hash[..63]),
        String::new(),
    ] {
        let err = functions
            .put_artifact(&bad, Bytes::from_static(bytes))
            .await
            .expect_err("a malformed hash is refused");
        assert!(
            matches!(err, StoreError::Invalid(_)),
            "malformed hash {bad:?}: {err:?}"
        );
    }
}

/// A first deploy creates version 1 of each function; deploying the same
/// configs again changes nothing.
pub async fn first_deploy_creates_version_one_and_a_same_deploy_keeps_it(
    functions: &dyn FunctionBackend,
    _t0: i64,
) {
    let art = upload(functions, b"wasm one").await;
    // Not in name order, to see that results follow `configs`.
    let configs = [config("beta", &art), config("alpha", &art)];
    assert_eq!(
        deploy(functions, "shop", &configs).await,
        vec![
            result("beta", DeployStatus::Created, 1),
            result("alpha", DeployStatus::Created, 1),
        ],
        "a first deploy creates version 1 of each function, in the order given"
    );

    let listed = list(functions).await;
    assert_eq!(
        listed.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        ["alpha", "beta"],
        "functions are listed by name"
    );
    for record in &listed {
        assert_eq!(record.service, "shop");
        assert_eq!(record.version, 1);
        assert_eq!(record.config, config(&record.name, &art), "config kept");
        assert!(record.created_ms <= record.updated_ms);
    }

    assert_eq!(
        deploy(functions, "shop", &configs).await,
        vec![
            result("beta", DeployStatus::Unchanged, 1),
            result("alpha", DeployStatus::Unchanged, 1),
        ],
        "the same configs again change nothing"
    );
    assert_eq!(
        list(functions).await,
        listed,
        "an unchanged deploy keeps the records"
    );
    assert_eq!(
        functions.version("alpha", 2).await.expect("version"),
        None,
        "no version 2 was made"
    );
}

/// A changed config makes version 2 current; version 1 stays readable by
/// number; deploying version 2's config again keeps it.
pub async fn changed_config_makes_a_new_version_and_keeps_the_old(
    functions: &dyn FunctionBackend,
    _t0: i64,
) {
    let art = upload(functions, b"wasm one").await;
    let art2 = upload(functions, b"wasm two").await;
    let a = config("alpha", &art);
    let b = config("beta", &art);
    deploy(functions, "shop", &[a.clone(), b.clone()]).await;

    let mut a2 = config("alpha", &art2);
    a2.memory_size = 256;
    assert_eq!(
        deploy(functions, "shop", &[a2.clone(), b.clone()]).await,
        vec![
            result("alpha", DeployStatus::Updated, 2),
            result("beta", DeployStatus::Unchanged, 1),
        ]
    );
    assert_eq!(
        deploy(functions, "shop", &[a2.clone(), b.clone()]).await[0],
        result("alpha", DeployStatus::Unchanged, 2),
        "the updated config again changes nothing"
    );

    let listed = list(functions).await;
    let current = listed
        .iter()
        .find(|f| f.name == "alpha")
        .expect("alpha is listed");
    assert_eq!((current.version, &current.config), (2, &a2));
    assert!(current.created_ms <= current.updated_ms);

    let v1 = functions
        .version("alpha", 1)
        .await
        .expect("version")
        .expect("version 1 is kept");
    assert_eq!(
        (v1.version, &v1.config, v1.service.as_str()),
        (1, &a, "shop")
    );
    assert!(v1.updated_ms <= current.updated_ms);
    let v2 = functions
        .version("alpha", 2)
        .await
        .expect("version")
        .expect("version 2 exists");
    assert_eq!(&v2, current, "version 2 is the current record");
    for missing in [0, 3, u64::MAX] {
        assert_eq!(
            functions.version("alpha", missing).await.expect("version"),
            None,
            "no version {missing}"
        );
    }
    assert_eq!(
        functions.version("gamma", 1).await.expect("version"),
        None,
        "no such function"
    );
}

/// The functions of a service left out of its next deploy are removed
/// with all their versions, reported after the deployed ones, by name;
/// other services are untouched.
pub async fn functions_left_out_of_a_deploy_are_removed(functions: &dyn FunctionBackend, _t0: i64) {
    let art = upload(functions, b"wasm one").await;
    let mut c2 = config("charlie", &art);
    deploy(
        functions,
        "shop",
        &[
            config("alpha", &art),
            config("delta", &art),
            config("charlie", &art),
        ],
    )
    .await;
    c2.timeout = 10.0;
    deploy(
        functions,
        "shop",
        &[config("alpha", &art), config("delta", &art), c2.clone()],
    )
    .await;
    deploy(functions, "other", &[config("zulu", &art)]).await;

    assert_eq!(
        deploy(
            functions,
            "shop",
            &[config("bravo", &art), config("alpha", &art)]
        )
        .await,
        vec![
            result("bravo", DeployStatus::Created, 1),
            result("alpha", DeployStatus::Unchanged, 1),
            result("charlie", DeployStatus::Removed, 2),
            result("delta", DeployStatus::Removed, 1),
        ],
        "the deployed ones in order, then the removed ones by name with their last version"
    );
    assert_eq!(
        names(functions).await,
        vec![
            named("alpha", "shop", 1),
            named("bravo", "shop", 1),
            named("zulu", "other", 1),
        ]
    );
    for (name, version) in [("charlie", 1), ("charlie", 2), ("delta", 1)] {
        assert_eq!(
            functions.version(name, version).await.expect("version"),
            None,
            "{name} version {version} went with its function"
        );
    }

    // A removed name can be deployed again, from version 1.
    assert_eq!(
        deploy(functions, "shop", &[config("alpha", &art), c2]).await,
        vec![
            result("alpha", DeployStatus::Unchanged, 1),
            result("charlie", DeployStatus::Created, 1),
            result("bravo", DeployStatus::Removed, 1),
        ]
    );

    // A deploy of nothing removes the whole service.
    assert_eq!(
        deploy(functions, "shop", &[]).await,
        vec![
            result("alpha", DeployStatus::Removed, 1),
            result("charlie", DeployStatus::Removed, 1),
        ]
    );
    assert_eq!(names(functions).await, vec![named("zulu", "other", 1)]);
}

/// The variant of an error, for messages.
fn error_kind(err: &StoreError) -> &'static str {
    match err {
        StoreError::NotFound(_) => "NotFound",
        StoreError::Conflict(_) => "Conflict",
        StoreError::Invalid(_) => "Invalid",
        StoreError::Corrupt(_) => "Corrupt",
        _ => "another error",
    }
}

/// A deploy that fails changes nothing: `Conflict` for a name another
/// service owns, `NotFound` for an artifact not kept, `Invalid` for an
/// empty service, an empty or repeated name or a malformed hash.
pub async fn failed_deploys_change_nothing(functions: &dyn FunctionBackend, _t0: i64) {
    let art = upload(functions, b"wasm one").await;
    deploy(
        functions,
        "shop",
        &[config("alpha", &art), config("beta", &art)],
    )
    .await;
    deploy(functions, "other", &[config("zulu", &art)]).await;
    let before = list(functions).await;

    let mut changed = config("beta", &art);
    changed.memory_size = 512;
    let missing = sha(b"never uploaded");
    let cases: Vec<(&str, &str, &str, Vec<FunctionConfig>)> = vec![
        (
            "a name owned by another service",
            "Conflict",
            "shop",
            vec![config("new", &art), changed.clone(), config("zulu", &art)],
        ),
        (
            "an artifact not kept",
            "NotFound",
            "shop",
            vec![
                config("new", &art),
                changed.clone(),
                config("gamma", &missing),
            ],
        ),
        ("an empty service", "Invalid", "", vec![config("new", &art)]),
        (
            "an empty function name",
            "Invalid",
            "shop",
            vec![config("new", &art), config("", &art)],
        ),
        (
            "a repeated function name",
            "Invalid",
            "shop",
            vec![config("new", &art), changed.clone(), config("new", &art)],
        ),
        (
            "a malformed artifact hash",
            "Invalid",
            "shop",
            vec![config("new", &art), config("gamma", &art.to_uppercase())],
        ),
    ];
    for (what, kind, service, configs) in cases {
        let err = functions.deploy(service, &configs).await.expect_err(what);
        assert_eq!(error_kind(&err), kind, "{what}: wrong error {err:?}");
        assert_eq!(
            list(functions).await,
            before,
            "a deploy refused for {what} changes nothing"
        );
        assert_eq!(
            functions.version("beta", 2).await.expect("version"),
            None,
            "a deploy refused for {what} makes no version"
        );
    }

    // Taking over another service's function is refused even alone.
    let err = functions
        .deploy("other", &[config("alpha", &art), config("zulu", &art)])
        .await
        .expect_err("alpha belongs to shop");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(list(functions).await, before);
}

/// `remove_function` removes one function with its versions and says
/// whether it existed; `remove_service` removes every function of one
/// service and names them.
pub async fn remove_a_function_and_a_service(functions: &dyn FunctionBackend, _t0: i64) {
    let art = upload(functions, b"wasm one").await;
    let mut a2 = config("alpha", &art);
    a2.memory_size = 1024;
    deploy(
        functions,
        "shop",
        &[config("alpha", &art), config("beta", &art)],
    )
    .await;
    deploy(
        functions,
        "shop",
        &[a2, config("beta", &art), config("gamma", &art)],
    )
    .await;
    deploy(functions, "other", &[config("zulu", &art)]).await;

    assert!(
        functions
            .remove_function("alpha")
            .await
            .expect("remove a function"),
        "alpha existed"
    );
    assert!(
        !functions
            .remove_function("alpha")
            .await
            .expect("remove a function"),
        "alpha is gone"
    );
    assert!(
        !functions
            .remove_function("nope")
            .await
            .expect("remove a function"),
        "no such function"
    );
    for version in [1, 2] {
        assert_eq!(
            functions.version("alpha", version).await.expect("version"),
            None,
            "alpha's version {version} went with it"
        );
    }
    assert_eq!(
        names(functions).await,
        vec![
            named("beta", "shop", 1),
            named("gamma", "shop", 1),
            named("zulu", "other", 1),
        ]
    );

    let mut removed = functions
        .remove_service("shop")
        .await
        .expect("remove a service");
    removed.sort();
    assert_eq!(removed, ["beta", "gamma"], "the service's functions went");
    assert_eq!(names(functions).await, vec![named("zulu", "other", 1)]);
    assert_eq!(
        functions
            .remove_service("shop")
            .await
            .expect("remove a service"),
        Vec::<String>::new(),
        "an empty service removes nothing"
    );
    assert!(
        functions.has_artifact(&art).await.expect("has"),
        "removals leave artifacts alone"
    );
}

fn log(
    function: &str,
    request_id: &str,
    ts_ms: i64,
    stream: LogStream,
    message: &str,
) -> LogRecord {
    LogRecord {
        seq: 0,
        ts_ms,
        function: function.to_owned(),
        version: 1,
        request_id: request_id.to_owned(),
        stream,
        message: message.to_owned(),
    }
}

fn invocation(
    function: &str,
    ts_ms: i64,
    outcome: Outcome,
    duration_ms: u64,
    billed_ms: u64,
) -> InvocationRecord {
    InvocationRecord {
        ts_ms,
        function: function.to_owned(),
        version: 1,
        request_id: format!("{function}-{ts_ms}"),
        trigger: "invoke".to_owned(),
        outcome,
        cold: false,
        duration_us: duration_ms * 1000,
        init_us: None,
        billed_ms,
        memory_mb: 128,
        max_memory_bytes: 1 << 20,
    }
}

async fn all_logs(backends: &EngineBackends, function: &str) -> Vec<LogRecord> {
    backends
        .telemetry
        .logs(function, 0, 10_000)
        .await
        .expect("read logs")
}

/// What a log line is, without its sequence number.
fn line(record: &LogRecord) -> (&str, &str, i64, LogStream, &str, u64) {
    (
        record.function.as_str(),
        record.request_id.as_str(),
        record.ts_ms,
        record.stream,
        record.message.as_str(),
        record.version,
    )
}

/// Log lines of two functions appended together read back per function,
/// oldest first, with increasing sequence numbers, in pages after a
/// sequence number.
pub async fn logs_read_back_per_function_in_pages(backends: &EngineBackends, t0: i64) {
    let telemetry = &backends.telemetry;
    assert!(
        all_logs(backends, "alpha").await.is_empty(),
        "no logs at first"
    );

    // Three invocations of alpha, two of beta, interleaved, over two
    // batches; some lines of one invocation share their timestamp.
    let first = vec![
        log("alpha", "a1", t0, LogStream::Platform, "START a1"),
        log("alpha", "a1", t0, LogStream::Stdout, "hello"),
        log("beta", "b1", t0 + 1, LogStream::Platform, "START b1"),
        log(
            "alpha",
            "a1",
            t0 + 2,
            LogStream::Stderr,
            "warn: ünïcödé\ttab",
        ),
        log("beta", "b1", t0 + 3, LogStream::Stdout, ""),
        log("alpha", "a2", t0 + 3, LogStream::Platform, "START a2"),
    ];
    let second = vec![
        log("beta", "b2", t0 + 10, LogStream::Stdout, "beta again"),
        log(
            "alpha",
            "a2",
            t0 + 11,
            LogStream::Stdout,
            "line\nwith newline",
        ),
        log("alpha", "a3", t0 + 12, LogStream::Platform, "START a3"),
        log("alpha", "a3", t0 + 12, LogStream::Platform, "END a3"),
    ];
    telemetry
        .append(first.clone(), vec![])
        .await
        .expect("append a batch");
    telemetry
        .append(second.clone(), vec![])
        .await
        .expect("append a batch");

    let written: Vec<LogRecord> = first.into_iter().chain(second).collect();
    for function in ["alpha", "beta"] {
        let expected: Vec<_> = written
            .iter()
            .filter(|r| r.function == function)
            .map(line)
            .collect();
        let read = all_logs(backends, function).await;
        assert_eq!(
            read.iter().map(line).collect::<Vec<_>>(),
            expected,
            "{function}'s lines come back in order, as written"
        );
        assert!(
            read.windows(2).all(|w| w[0].seq < w[1].seq),
            "{function}'s sequence numbers increase: {:?}",
            read.iter().map(|r| r.seq).collect::<Vec<_>>()
        );
        assert!(
            read.iter().all(|r| r.seq > 0),
            "sequence numbers are positive"
        );

        // Pages of two, each after the last one read.
        let mut paged = Vec::new();
        let mut after = 0;
        loop {
            let page = telemetry
                .logs(function, after, 2)
                .await
                .expect("read a page");
            assert!(page.len() <= 2, "a page holds at most its limit");
            let Some(last) = page.last() else { break };
            after = last.seq;
            paged.extend(page);
        }
        assert_eq!(paged, read, "pages of {function} add up to the whole log");
    }

    // Tailing: a cursor at the end sees only what is appended after.
    let alpha = all_logs(backends, "alpha").await;
    let end = alpha.last().expect("alpha has lines").seq;
    assert!(
        telemetry
            .logs("alpha", end, 10)
            .await
            .expect("tail")
            .is_empty(),
        "nothing after the last line"
    );
    telemetry
        .append(
            vec![log("alpha", "a4", t0 + 20, LogStream::Stdout, "later")],
            vec![],
        )
        .await
        .expect("append");
    let tail = telemetry.logs("alpha", end, 10).await.expect("tail");
    assert_eq!(
        tail.iter().map(line).collect::<Vec<_>>(),
        vec![("alpha", "a4", t0 + 20, LogStream::Stdout, "later", 1)]
    );
    assert!(
        tail[0].seq > end,
        "a new line gets a greater sequence number"
    );
    assert!(
        telemetry
            .logs("gamma", 0, 10)
            .await
            .expect("read")
            .is_empty(),
        "a function without logs has none"
    );
    assert!(
        telemetry
            .logs("alpha", 0, 0)
            .await
            .expect("read")
            .is_empty(),
        "a limit of 0 reads nothing"
    );
}

fn stats_of<'a>(stats: &'a [FunctionStats], function: &str) -> &'a FunctionStats {
    stats
        .iter()
        .find(|s| s.function == function)
        .unwrap_or_else(|| panic!("no stats of {function} in {stats:?}"))
}

/// Usage sums the invocations that started at or after `since_ms`, per
/// function, by name.
pub async fn stats_sum_the_invocations_since_a_time(backends: &EngineBackends, t0: i64) {
    let telemetry = &backends.telemetry;
    assert!(
        telemetry.stats(t0).await.expect("stats").is_empty(),
        "no usage at first"
    );
    let mut cold = invocation("beta", t0 + 5, Outcome::Ok, 40, 40);
    cold.cold = true;
    cold.init_us = Some(7_000);
    telemetry
        .append(
            vec![],
            vec![
                // Before the window: not counted.
                invocation("alpha", t0 - 1, Outcome::Ok, 999, 1000),
                invocation("gamma", t0 - 10, Outcome::Ok, 5, 5),
                // In the window, from its first millisecond.
                invocation("alpha", t0, Outcome::Ok, 1, 1),
                invocation("alpha", t0 + 1, Outcome::Error, 3, 3),
                invocation("alpha", t0 + 2, Outcome::Timeout, 2, 2),
                invocation("alpha", t0 + 3, Outcome::Throttled, 0, 0),
                cold,
                invocation("beta", t0 + 6, Outcome::Ok, 10, 1024),
            ],
        )
        .await
        .expect("append invocations");

    let stats = telemetry.stats(t0).await.expect("stats");
    assert_eq!(
        stats
            .iter()
            .map(|s| s.function.as_str())
            .collect::<Vec<_>>(),
        ["alpha", "beta"],
        "functions with invocations in the window, by name"
    );
    let alpha = stats_of(&stats, "alpha");
    assert_eq!(
        (
            alpha.invocations,
            alpha.errors,
            alpha.throttles,
            alpha.cold_starts,
            alpha.billed_ms
        ),
        (3, 2, 1, 0, 6),
        "alpha: three ran (two failed), one throttled, 6 ms billed"
    );
    assert_eq!(
        (alpha.p50_ms, alpha.p99_ms),
        (Some(2.0), Some(3.0)),
        "nearest-rank percentiles of 1, 2 and 3 ms"
    );
    let beta = stats_of(&stats, "beta");
    assert_eq!(
        (
            beta.invocations,
            beta.errors,
            beta.throttles,
            beta.cold_starts,
            beta.billed_ms
        ),
        (2, 0, 0, 1, 1064)
    );
    let expected_gb_s = 1064.0 / 1000.0 * 128.0 / 1024.0;
    assert!(
        (beta.gb_seconds - expected_gb_s).abs() < 1e-9,
        "beta's GB-seconds: {} not {expected_gb_s}",
        beta.gb_seconds
    );

    let later = telemetry.stats(t0 + 6).await.expect("stats");
    assert_eq!(
        later.len(),
        1,
        "only beta ran at or after t0 + 6: {later:?}"
    );
    let beta = stats_of(&later, "beta");
    assert_eq!((beta.invocations, beta.billed_ms), (1, 1024));
    assert!(
        telemetry.stats(t0 + 7).await.expect("stats").is_empty(),
        "nothing after the last invocation"
    );
    let all = telemetry.stats(t0 - 10).await.expect("stats");
    assert_eq!(
        (
            stats_of(&all, "alpha").invocations,
            stats_of(&all, "gamma").invocations
        ),
        (4, 1),
        "an earlier start counts the earlier invocations"
    );
}

/// Pruning deletes log lines past their age, then the oldest beyond a
/// count, and invocation records past theirs; what is newer stays.
pub async fn prune_removes_old_rows_and_keeps_new_ones(backends: &EngineBackends, t0: i64) {
    let telemetry = &backends.telemetry;
    // One line per invocation (each its own timestamp), so that a count
    // limit falls between invocations.
    let logs: Vec<LogRecord> = (0..10)
        .map(|i| {
            log(
                "alpha",
                &format!("r{i}"),
                t0 + i * 1000,
                LogStream::Stdout,
                &format!("line {i}"),
            )
        })
        .collect();
    let invocations: Vec<InvocationRecord> = (0..10)
        .map(|i| invocation("alpha", t0 + i * 1000, Outcome::Ok, 1, 1))
        .collect();
    telemetry.append(logs, invocations).await.expect("append");

    let now = t0 + 10_000;
    assert_eq!(
        telemetry
            .prune(now, 60_000, 1_000, 60_000)
            .await
            .expect("prune"),
        0,
        "nothing is old or beyond the count yet"
    );

    // Logs older than 6.5 s (lines 0 to 3) and invocations older than
    // 4.5 s (0 to 5) go.
    assert_eq!(
        telemetry
            .prune(now, 6_500, 1_000, 4_500)
            .await
            .expect("prune"),
        4 + 6,
        "four log lines and six invocation records went"
    );
    let messages: Vec<String> = all_logs(backends, "alpha")
        .await
        .into_iter()
        .map(|r| r.message)
        .collect();
    assert_eq!(
        messages,
        ["line 4", "line 5", "line 6", "line 7", "line 8", "line 9"],
        "the newer lines stay"
    );
    let stats = telemetry.stats(t0 - 1).await.expect("stats");
    assert_eq!(
        stats_of(&stats, "alpha").invocations,
        4,
        "the four newer invocation records stay"
    );

    // Beyond a count of 2, the oldest lines go.
    assert_eq!(
        telemetry
            .prune(now, 60_000, 2, 60_000)
            .await
            .expect("prune"),
        4,
        "the four oldest of six lines went"
    );
    let messages: Vec<String> = all_logs(backends, "alpha")
        .await
        .into_iter()
        .map(|r| r.message)
        .collect();
    assert_eq!(messages, ["line 8", "line 9"], "the newest two lines stay");
    assert_eq!(
        stats_of(&telemetry.stats(t0 - 1).await.expect("stats"), "alpha").invocations,
        4,
        "a log count limit leaves invocation records alone"
    );
}

fn event(request_id: &str) -> NewAsyncEvent {
    NewAsyncEvent {
        request_id: request_id.to_owned(),
        function: "alpha".to_owned(),
        qualifier: None,
        payload: format!("{{\"id\":\"{request_id}\"}}").into_bytes(),
        headers: vec![],
        max_attempts: 3,
        max_age_ms: 3_600_000,
    }
}

async fn enqueue(queue: &dyn AsyncQueueBackend, event: &NewAsyncEvent, now_ms: i64) {
    queue
        .enqueue(event, now_ms)
        .await
        .unwrap_or_else(|e| panic!("enqueue {}: {e}", event.request_id));
}

async fn claim(
    queue: &dyn AsyncQueueBackend,
    now_ms: i64,
    limit: usize,
    lease_ms: i64,
) -> Vec<AsyncEvent> {
    let claimed = queue.claim(now_ms, limit, lease_ms).await.expect("claim");
    assert!(
        claimed.expired.is_empty(),
        "no event expires here: {:?}",
        claimed.expired
    );
    claimed.events
}

fn ids(events: &[AsyncEvent]) -> Vec<(&str, u32)> {
    events
        .iter()
        .map(|e| (e.request_id.as_str(), e.attempt))
        .collect()
}

async fn queue_stats(queue: &dyn AsyncQueueBackend) -> AsyncQueueStats {
    queue.stats().await.expect("queue stats")
}

/// An enqueued event is due at once; a claim leases it with its attempt
/// counted; no one claims it again until the lease ends, and then it is
/// claimed with its next attempt.
pub async fn claimed_events_are_leased_until_the_lease_ends(
    queue: &dyn AsyncQueueBackend,
    t0: i64,
) {
    assert_eq!(
        queue.next_due().await.expect("next due"),
        None,
        "empty queue"
    );
    assert_eq!(queue_stats(queue).await, AsyncQueueStats::default());

    let new = NewAsyncEvent {
        qualifier: Some("2".to_owned()),
        headers: vec![
            ("x-amzn-trace-id".to_owned(), "Root=1-abc".to_owned()),
            ("x-custom".to_owned(), "v".to_owned()),
        ],
        payload: vec![0, 1, 2, 255],
        ..event("r1")
    };
    enqueue(queue, &new, t0).await;
    assert_eq!(
        queue.next_due().await.expect("next due"),
        Some(t0),
        "an event is due when enqueued"
    );
    assert_eq!(
        queue_stats(queue).await,
        AsyncQueueStats {
            pending: 1,
            failed: 0
        }
    );

    let claimed = claim(queue, t0, 10, 30_000).await;
    assert_eq!(claimed.len(), 1, "the event is claimed");
    let first = &claimed[0];
    assert_eq!(
        (
            first.request_id.as_str(),
            first.function.as_str(),
            first.qualifier.as_deref(),
            first.payload.as_slice(),
            &first.headers,
            first.enqueued_ms,
            first.attempt,
            first.max_attempts,
            first.max_age_ms,
        ),
        (
            "r1",
            "alpha",
            Some("2"),
            &[0u8, 1, 2, 255][..],
            &new.headers,
            t0,
            1,
            3,
            3_600_000,
        ),
        "the claimed event is the one enqueued, at its first attempt"
    );

    assert!(
        claim(queue, t0 + 29_999, 10, 30_000).await.is_empty(),
        "a leased event is not claimed again before its lease ends"
    );
    assert_eq!(
        queue.next_due().await.expect("next due"),
        Some(t0 + 30_000),
        "a leased event is due again when its lease ends"
    );
    assert_eq!(
        queue_stats(queue).await.pending,
        1,
        "a leased event is still pending"
    );

    let again = claim(queue, t0 + 30_000, 10, 30_000).await;
    assert_eq!(
        ids(&again),
        [("r1", 2)],
        "once the lease ends the event is claimed with its second attempt"
    );
    assert_eq!(again[0].id, first.id, "the same event");
    assert_eq!(again[0].payload, first.payload);
}

/// Completing an event deletes it; a retry makes it due at the time given
/// with its attempt counted or given back.
pub async fn complete_deletes_and_retry_reschedules(queue: &dyn AsyncQueueBackend, t0: i64) {
    enqueue(queue, &event("done"), t0).await;
    enqueue(queue, &event("again"), t0 + 1).await;
    let claimed = claim(queue, t0 + 1, 10, 60_000).await;
    assert_eq!(ids(&claimed), [("done", 1), ("again", 1)]);
    let (done, again) = (claimed[0].id, claimed[1].id);

    queue.complete(done).await.expect("complete");
    assert_eq!(
        queue_stats(queue).await.pending,
        1,
        "a completed event is gone"
    );

    // A retry that counts the attempt: due at the time given, not before.
    queue
        .retry(again, t0 + 5_000, "Unhandled", true)
        .await
        .expect("retry");
    assert_eq!(
        queue.next_due().await.expect("next due"),
        Some(t0 + 5_000),
        "a retried event is due at the time given"
    );
    assert!(
        claim(queue, t0 + 4_999, 10, 60_000).await.is_empty(),
        "a retried event is not claimed before it is due"
    );
    let claimed = claim(queue, t0 + 5_000, 10, 60_000).await;
    assert_eq!(
        ids(&claimed),
        [("again", 2)],
        "claimed when due, its attempt counted"
    );

    // A retry that gives the attempt back (it never ran).
    queue
        .retry(again, t0 + 6_000, "throttled", false)
        .await
        .expect("retry");
    let claimed = claim(queue, t0 + 6_000, 10, 60_000).await;
    assert_eq!(
        ids(&claimed),
        [("again", 2)],
        "a retry without counting gives the attempt back"
    );

    queue.complete(again).await.expect("complete");
    assert_eq!(queue_stats(queue).await, AsyncQueueStats::default());
    assert_eq!(queue.next_due().await.expect("next due"), None);
    assert!(
        claim(queue, t0 + 1_000_000, 10, 60_000).await.is_empty(),
        "completed events are never claimed again"
    );
}

/// A failed event is kept and counted, never claimed again, and not due.
pub async fn failed_events_are_kept_and_never_claimed(queue: &dyn AsyncQueueBackend, t0: i64) {
    enqueue(queue, &event("bad"), t0).await;
    enqueue(queue, &event("good"), t0 + 1).await;
    let claimed = claim(queue, t0 + 1, 10, 60_000).await;
    assert_eq!(ids(&claimed), [("bad", 1), ("good", 1)]);
    queue
        .fail(claimed[0].id, "attempts spent")
        .await
        .expect("fail");
    queue
        .retry(claimed[1].id, t0 + 10, "retry", true)
        .await
        .expect("retry");

    assert_eq!(
        queue_stats(queue).await,
        AsyncQueueStats {
            pending: 1,
            failed: 1
        },
        "the failed event is kept and counted"
    );
    assert_eq!(
        queue.next_due().await.expect("next due"),
        Some(t0 + 10),
        "a failed event is never due"
    );
    let claimed = claim(queue, t0 + 100_000, 10, 60_000).await;
    assert_eq!(
        ids(&claimed),
        [("good", 2)],
        "only the pending event is claimed"
    );
    queue.complete(claimed[0].id).await.expect("complete");
    assert!(
        claim(queue, t0 + 1_000_000, 10, 60_000).await.is_empty(),
        "the failed event is never claimed"
    );
    queue.release_leases().await.expect("release leases");
    assert!(
        claim(queue, t0 + 1_000_000, 10, 60_000).await.is_empty(),
        "released leases do not bring a failed event back"
    );
    assert_eq!(queue.next_due().await.expect("next due"), None);
    assert_eq!(
        queue_stats(queue).await,
        AsyncQueueStats {
            pending: 0,
            failed: 1
        },
        "the failed event stays"
    );
}

/// An event found past its maximum age by a claim is failed and returned
/// in `expired`, not leased; one within its age is claimed.
pub async fn events_past_their_max_age_expire_on_claim(queue: &dyn AsyncQueueBackend, t0: i64) {
    let short = NewAsyncEvent {
        max_age_ms: 1_000,
        ..event("short")
    };
    enqueue(queue, &short, t0).await;
    enqueue(queue, &event("long"), t0).await;

    // At exactly its maximum age, an event still runs.
    let claimed = claim(queue, t0 + 1_000, 10, 100).await;
    assert_eq!(ids(&claimed), [("short", 1), ("long", 1)]);
    let short_id = claimed[0].id;
    queue
        .retry(short_id, t0 + 1_001, "retry", true)
        .await
        .expect("retry");

    let claimed = queue.claim(t0 + 1_001, 10, 100).await.expect("claim");
    assert_eq!(
        claimed
            .expired
            .iter()
            .map(|e| (e.id, e.request_id.as_str(), e.enqueued_ms))
            .collect::<Vec<_>>(),
        [(short_id, "short", t0)],
        "the event past its age is expired"
    );
    assert!(
        claimed.events.is_empty(),
        "long is still leased: {:?}",
        claimed.events
    );
    assert_eq!(
        queue_stats(queue).await,
        AsyncQueueStats {
            pending: 1,
            failed: 1
        },
        "an expired event is failed"
    );
    let later = queue.claim(t0 + 5_000, 10, 100).await.expect("claim");
    assert_eq!(
        ids(&later.events),
        [("long", 2)],
        "the event within its age is claimed"
    );
    assert!(
        later.expired.is_empty(),
        "an expired event is reported once: {:?}",
        later.expired
    );
}

/// `release_leases` makes every leased event claimable at once.
pub async fn released_leases_are_claimable_at_once(queue: &dyn AsyncQueueBackend, t0: i64) {
    assert_eq!(
        queue.release_leases().await.expect("release"),
        0,
        "nothing leased"
    );
    for id in ["a", "b", "c"] {
        enqueue(queue, &event(id), t0).await;
    }
    assert_eq!(
        ids(&claim(queue, t0, 2, 600_000).await),
        [("a", 1), ("b", 1)]
    );
    assert_eq!(
        ids(&claim(queue, t0 + 1, 10, 600_000).await),
        [("c", 1)],
        "only c was not leased"
    );

    assert_eq!(
        queue.release_leases().await.expect("release"),
        3,
        "three events were leased"
    );
    assert_eq!(
        queue.next_due().await.expect("next due"),
        Some(t0),
        "released events are due"
    );
    assert_eq!(
        ids(&claim(queue, t0 + 2, 10, 600_000).await),
        [("a", 2), ("b", 2), ("c", 2)],
        "released events are claimed at once, in order, their attempts counted"
    );
    assert_eq!(queue_stats(queue).await.pending, 3);
}

/// A claim takes at most `limit` events, the oldest first, and only
/// those due.
pub async fn claim_honours_its_limit_and_age_order(queue: &dyn AsyncQueueBackend, t0: i64) {
    for (i, id) in ["one", "two", "three", "four"].into_iter().enumerate() {
        enqueue(queue, &event(id), t0 + i as i64).await;
    }
    assert_eq!(
        ids(&claim(queue, t0 + 1, 10, 60_000).await),
        [("one", 1), ("two", 1)],
        "only events enqueued by now are due"
    );
    assert!(
        claim(queue, t0 + 10, 0, 60_000).await.is_empty(),
        "a limit of 0 claims nothing"
    );
    assert_eq!(
        ids(&claim(queue, t0 + 10, 1, 60_000).await),
        [("three", 1)],
        "a limit of 1 claims the oldest"
    );
    assert_eq!(ids(&claim(queue, t0 + 10, 5, 60_000).await), [("four", 1)]);
    assert_eq!(queue_stats(queue).await.pending, 4);
}

/// The admin key is created once and stays the same.
pub async fn admin_key_is_created_once(
    _functions: &dyn FunctionBackend,
    keys: &dyn KeyBackend,
    _t0: i64,
) {
    let admin = keys.admin_key().await.expect("admin key");
    assert!(
        admin.key_id.starts_with("AKIA") && admin.key_id.len() == 20,
        "an admin key id is AKIA and 16 characters: {}",
        admin.key_id
    );
    assert!(
        admin.key_id[4..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "upper-case alphanumerics: {}",
        admin.key_id
    );
    assert_eq!(admin.secret.len(), 40, "a 40-character secret");
    assert_eq!(
        (
            admin.kind,
            admin.function.as_deref(),
            admin.session_token.as_deref()
        ),
        (KeyKind::Admin, None, None)
    );
    assert_eq!(
        keys.admin_key().await.expect("admin key"),
        admin,
        "the same key on every call"
    );
    assert_eq!(
        keys.access_key(&admin.key_id).await.expect("access key"),
        Some(admin),
        "the admin key is found by its id"
    );
    assert_eq!(
        keys.access_key("AKIAAAAAAAAAAAAAAAAA")
            .await
            .expect("access key"),
        None,
        "an unknown key id"
    );
}

/// A function key needs its function, is created once, carries a session
/// token and is found by its id.
pub async fn function_keys_need_their_function_and_are_stable(
    functions: &dyn FunctionBackend,
    keys: &dyn KeyBackend,
    _t0: i64,
) {
    let err = keys
        .function_key("alpha")
        .await
        .expect_err("no such function");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");

    let art = upload(functions, b"wasm one").await;
    deploy(
        functions,
        "shop",
        &[config("alpha", &art), config("beta", &art)],
    )
    .await;
    let alpha = keys.function_key("alpha").await.expect("function key");
    assert!(
        alpha.key_id.starts_with("ASIA") && alpha.key_id.len() == 20,
        "a function key id is ASIA and 16 characters: {}",
        alpha.key_id
    );
    assert_eq!(alpha.secret.len(), 40, "a 40-character secret");
    assert_eq!(
        (alpha.kind, alpha.function.as_deref()),
        (KeyKind::Function, Some("alpha"))
    );
    assert!(
        alpha
            .session_token
            .as_deref()
            .is_some_and(|t| !t.is_empty()),
        "a function key has a session token"
    );
    assert_eq!(
        keys.function_key("alpha").await.expect("function key"),
        alpha,
        "the same key on every call"
    );
    assert_eq!(
        keys.access_key(&alpha.key_id).await.expect("access key"),
        Some(alpha.clone()),
        "the function key is found by its id"
    );

    let beta = keys.function_key("beta").await.expect("function key");
    let admin = keys.admin_key().await.expect("admin key");
    let distinct: std::collections::BTreeSet<&str> = [&alpha, &beta, &admin]
        .iter()
        .map(|k| k.key_id.as_str())
        .collect();
    assert_eq!(distinct.len(), 3, "every key has its own id");
    assert_ne!(alpha.secret, beta.secret, "every key has its own secret");

    // An update keeps the key.
    let mut alpha2 = config("alpha", &art);
    alpha2.memory_size = 512;
    deploy(functions, "shop", &[alpha2, config("beta", &art)]).await;
    assert_eq!(
        keys.function_key("alpha").await.expect("function key"),
        alpha,
        "a new version keeps the function's key"
    );
}

async fn gone(keys: &dyn KeyBackend, key: &AccessKey, how: &str) {
    assert_eq!(
        keys.access_key(&key.key_id).await.expect("access key"),
        None,
        "the key of a function removed by {how} is gone"
    );
}

/// A function's key goes with the function, however it is removed.
pub async fn a_removed_functions_key_is_gone(
    functions: &dyn FunctionBackend,
    keys: &dyn KeyBackend,
    _t0: i64,
) {
    let art = upload(functions, b"wasm one").await;
    deploy(
        functions,
        "shop",
        &[
            config("alpha", &art),
            config("beta", &art),
            config("gamma", &art),
        ],
    )
    .await;
    deploy(functions, "other", &[config("zulu", &art)]).await;
    let mut key = BTreeMap::new();
    for name in ["alpha", "beta", "gamma", "zulu"] {
        key.insert(name, keys.function_key(name).await.expect("function key"));
    }
    let admin = keys.admin_key().await.expect("admin key");

    functions
        .remove_function("alpha")
        .await
        .expect("remove a function");
    gone(keys, &key["alpha"], "remove_function").await;
    let err = keys.function_key("alpha").await.expect_err("alpha is gone");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");

    deploy(functions, "shop", &[config("gamma", &art)]).await;
    gone(keys, &key["beta"], "a deploy").await;

    functions
        .remove_service("shop")
        .await
        .expect("remove a service");
    gone(keys, &key["gamma"], "remove_service").await;

    assert_eq!(
        keys.access_key(&key["zulu"].key_id)
            .await
            .expect("access key"),
        Some(key["zulu"].clone()),
        "another function's key stays"
    );
    assert_eq!(
        keys.access_key(&admin.key_id).await.expect("access key"),
        Some(admin),
        "the admin key stays"
    );

    // A function deployed again under a removed name gets a key again.
    deploy(functions, "shop", &[config("alpha", &art)]).await;
    let fresh = keys.function_key("alpha").await.expect("function key");
    assert_eq!(
        keys.access_key(&fresh.key_id).await.expect("access key"),
        Some(fresh.clone())
    );
    assert_eq!(fresh.function.as_deref(), Some("alpha"));
}

//! `stratus-bench --lambda`: the Lambda process runtime, with baselines
//! measured in the same run.
//!
//! - Warm invokes: sequential `POST /2015-03-31/functions/{name}/invocations`
//!   on one keep-alive connection to the control API, for a Python echo
//!   (`awslambdaric`) and a Rust `lambda_runtime` echo; the same client
//!   sends the same POST to the plain hyper server, and the difference of the
//!   p50s is Stratus's overhead. The engine's own `Duration` (dispatch
//!   through the Runtime API to the reply) comes from the REPORT lines.
//! - Cold starts: evict a Python function that imports boto3 at init, then
//!   time its first invoke; against fresh `python3 -c "import boto3"` and
//!   `python3 -c pass` processes.
//! - Idle memory: several instances started at once, then left idle
//!   (frozen); their memory cgroups and their processes' RSS are summed.

use super::{Args, Histogram, Stratus, bench_dir, logs, post_blocking, start_baseline};
use super::{chrono_like_now, start_server, version};
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Latencies in nanoseconds, up to a minute.
fn histogram() -> Result<Histogram<u64>> {
    Ok(Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?)
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1000.0)
}

fn ms(ns: u64) -> String {
    format!("{:.2}", ns as f64 / 1_000_000.0)
}

fn ns_of(d: Duration) -> u64 {
    (d.as_nanos() as u64).max(1)
}

/// One keep-alive HTTP/1.1 connection.
struct Client {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: String,
}

/// One answer: status, the `x-amzn-requestid` header, the body.
struct Answer {
    status: u16,
    request_id: Option<String>,
    body: Bytes,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Client {
    async fn connect(addr: SocketAddr) -> Result<Client> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("connect to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        Ok(Client {
            sender,
            host: addr.to_string(),
        })
    }

    async fn post(&mut self, path: &str, body: &Bytes, token: &str) -> Result<Answer> {
        let req = hyper::Request::post(path)
            .header("host", self.host.as_str())
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Full::new(body.clone()))?;
        let response = self.sender.send_request(req).await?;
        let status = response.status().as_u16();
        let request_id = response
            .headers()
            .get("x-amzn-requestid")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Answer {
            status,
            request_id,
            body,
        })
    }
}

fn invoke_path(name: &str) -> String {
    format!("/2015-03-31/functions/{name}/invocations")
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Sequential calls on one connection.
struct Series {
    latency: Histogram<u64>,
    total: Duration,
    calls: usize,
    /// Request ids of the measured calls (when the server sends them).
    ids: Vec<String>,
}

impl Series {
    fn mean_ns(&self) -> u64 {
        (self.total.as_nanos() / self.calls.max(1) as u128) as u64
    }
}

/// `warm_up` then `calls` POSTs of `event` to `path`, one after another on
/// one keep-alive connection; each must answer 200 (`check` looks at the
/// first measured answer).
fn sequential(
    addr: SocketAddr,
    path: &str,
    event: &Bytes,
    token: &str,
    warm_up: usize,
    calls: usize,
    check: impl Fn(&str) -> bool,
) -> Result<Series> {
    runtime()?.block_on(async {
        let mut client = Client::connect(addr).await?;
        let mut latency = histogram()?;
        let mut total = Duration::ZERO;
        let mut ids = Vec::with_capacity(calls);
        for i in 0..warm_up + calls {
            let started = Instant::now();
            let answer = client.post(path, event, token).await?;
            let took = started.elapsed();
            if answer.status != 200 {
                bail!("POST {path} answered {}: {}", answer.status, answer.text());
            }
            if i == warm_up && !check(&answer.text()) {
                bail!("POST {path}: unexpected answer {}", answer.text());
            }
            if i >= warm_up {
                latency.record(ns_of(took))?;
                total += took;
                ids.extend(answer.request_id);
            }
        }
        Ok(Series {
            latency,
            total,
            calls,
            ids,
        })
    })
}

/// What one REPORT line says.
struct Report {
    duration_ns: u64,
    init_ns: Option<u64>,
}

/// `12.34 ms` → ns.
fn millis(text: &str) -> Option<u64> {
    let ms: f64 = text.trim().strip_suffix("ms")?.trim().parse().ok()?;
    Some((ms * 1_000_000.0).round() as u64)
}

/// The REPORT lines of function `name`, by request id.
fn reports(s: &Stratus, name: &str) -> Result<HashMap<String, Report>> {
    let mut found = HashMap::new();
    for record in logs(s, name)? {
        let message = record["message"].as_str().unwrap_or("");
        let Some(rest) = message.strip_prefix("REPORT RequestId: ") else {
            continue;
        };
        let mut fields = rest.split('\t');
        let id = fields.next().unwrap_or("").trim().to_string();
        let (mut duration_ns, mut init_ns) = (None, None);
        for field in fields {
            if let Some(v) = field.strip_prefix("Duration: ") {
                duration_ns = millis(v);
            } else if let Some(v) = field.strip_prefix("Init Duration: ") {
                init_ns = millis(v);
            }
        }
        if let Some(duration_ns) = duration_ns {
            found.insert(
                id,
                Report {
                    duration_ns,
                    init_ns,
                },
            );
        }
    }
    Ok(found)
}

/// The interpreter `python3` on PATH resolves to (through pyenv's shim
/// here), as the server resolves it, and its version.
fn python() -> Result<(PathBuf, String)> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys; print(sys.executable); print('%d.%d.%d' % sys.version_info[:3])",
        ])
        .output()
        .context("run python3")?;
    if !out.status.success() {
        bail!("python3 failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let exe = lines.next().context("python3 printed no sys.executable")?;
    let version = lines.next().unwrap_or("?").to_string();
    Ok((PathBuf::from(exe), version))
}

/// Times `count` fresh `program -c code` processes, start to exit.
fn spawn_times(
    program: &Path,
    code: &str,
    pythonpath: Option<&Path>,
    count: usize,
) -> Result<Histogram<u64>> {
    let mut hist = histogram()?;
    for _ in 0..count {
        let mut cmd = Command::new(program);
        cmd.args(["-c", code])
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match pythonpath {
            Some(p) => cmd.env("PYTHONPATH", p),
            None => cmd.env_remove("PYTHONPATH"),
        };
        let started = Instant::now();
        let out = cmd
            .output()
            .with_context(|| format!("run {}", program.display()))?;
        let took = started.elapsed();
        if !out.status.success() {
            bail!(
                "{} -c {code:?} failed: {}",
                program.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        hist.record(ns_of(took))?;
    }
    Ok(hist)
}

/// The memory of one idle instance, from its cgroups.
struct Instance {
    usage: u64,
    anon: Option<u64>,
    file: Option<u64>,
    rss_kib: u64,
    processes: usize,
    frozen: bool,
}

/// The cgroup layout the server made, found by looking.
struct Layout {
    v2: bool,
    /// `.../stratus-<pid>`, whose subfolders are the instances.
    memory: PathBuf,
    freezer: Option<PathBuf>,
}

fn layout(server_pid: u32) -> Option<Layout> {
    let name = format!("stratus-{server_pid}");
    let v1 = Path::new("/sys/fs/cgroup/memory").join(&name);
    if v1.join("memory.usage_in_bytes").exists() {
        let freezer = Path::new("/sys/fs/cgroup/freezer").join(&name);
        return Some(Layout {
            v2: false,
            memory: v1,
            freezer: freezer.exists().then_some(freezer),
        });
    }
    let v2 = Path::new("/sys/fs/cgroup").join(&name);
    v2.join("memory.current").exists().then(|| Layout {
        v2: true,
        memory: v2.clone(),
        freezer: Some(v2),
    })
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// `key N` from a flat-keyed file such as `memory.stat`.
fn keyed(path: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// The pids in `dir`'s `cgroup.procs` and in those of its subfolders.
fn procs(dir: &Path) -> Vec<u32> {
    let mut pids: Vec<u32> = std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            pids.extend(procs(&entry.path()));
        }
    }
    pids
}

/// Whether process `pid` runs function `name` (by its environment).
fn runs_function(pid: u32, name: &str) -> bool {
    let needle = format!("AWS_LAMBDA_FUNCTION_NAME={name}");
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|env| env.split(|&b| b == 0).any(|v| v == needle.as_bytes()))
        .unwrap_or(false)
}

/// The instances of function `name` in the server's cgroups.
fn instances_of(layout: &Layout, name: &str) -> Result<Vec<Instance>> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(&layout.memory)
        .with_context(|| format!("list {}", layout.memory.display()))?;
    for entry in entries.flatten() {
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = entry.path();
        let pids = procs(&dir);
        if !pids.iter().any(|&p| runs_function(p, name)) {
            continue;
        }
        let (usage, stat) = if layout.v2 {
            (read_u64(&dir.join("memory.current")), ("anon", "file"))
        } else {
            (
                read_u64(&dir.join("memory.usage_in_bytes")),
                ("total_rss", "total_cache"),
            )
        };
        let usage = usage.with_context(|| format!("no memory usage in {}", dir.display()))?;
        let rss_kib = pids
            .iter()
            .filter_map(|&p| super::rss_kib(p).ok())
            .sum::<u64>();
        let frozen = match &layout.freezer {
            Some(freezer) if layout.v2 => {
                keyed(
                    &freezer.join(entry.file_name()).join("prog/cgroup.events"),
                    "frozen",
                ) == Some(1)
            }
            Some(freezer) => {
                std::fs::read_to_string(freezer.join(entry.file_name()).join("freezer.state"))
                    .is_ok_and(|s| s.trim() == "FROZEN")
            }
            None => false,
        };
        found.push(Instance {
            usage,
            anon: keyed(&dir.join("memory.stat"), stat.0),
            file: keyed(&dir.join("memory.stat"), stat.1),
            rss_kib,
            processes: pids.len(),
            frozen,
        });
    }
    Ok(found)
}

/// Starts `count` instances of `pysleep` at once (concurrent calls that each
/// sleep 0.3 s); returns the request ids.
fn start_instances(s: &Stratus, count: usize) -> Result<Vec<String>> {
    let api: SocketAddr = s.api.parse()?;
    let token = s.token.clone();
    runtime()?.block_on(async move {
        let mut tasks = Vec::new();
        for _ in 0..count {
            let token = token.clone();
            tasks.push(tokio::spawn(async move {
                let mut client = Client::connect(api).await?;
                let answer = client
                    .post(
                        &invoke_path("pysleep"),
                        &Bytes::from_static(br#"{"seconds": 0.3}"#),
                        &token,
                    )
                    .await?;
                if answer.status != 200 || !answer.text().contains("slept") {
                    bail!("pysleep answered {}: {}", answer.status, answer.text());
                }
                Ok(answer.request_id.unwrap_or_default())
            }));
        }
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await??);
        }
        Ok(ids)
    })
}

fn evict(s: &Stratus, name: &str) -> Result<()> {
    let status = post_blocking(&s.api, &format!("/v1/functions/{name}/evict"), &s.token)?;
    if status != 200 {
        bail!("evict {name} answered {status}");
    }
    Ok(())
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "not met" }
}

pub(crate) fn run(args: &Args) -> Result<()> {
    let dir = bench_dir()?;
    let runtimes = match &args.runtimes_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.canonicalize()?
        }
        None => match Path::new("target/stratus-test-runtimes").canonicalize() {
            Ok(d) => d,
            Err(_) => dir.0.join("runtimes"),
        },
    };
    let fixtures = args
        .fixtures
        .canonicalize()
        .with_context(|| format!("find the fixtures at {}", args.fixtures.display()))?;
    let bootstrap = fixtures.join("rust/target/release/bootstrap");
    let rust_pkg = dir.0.join("rsecho");
    std::fs::create_dir_all(&rust_pkg)?;
    std::fs::copy(&bootstrap, rust_pkg.join("bootstrap")).with_context(|| {
        format!(
            "copy {} (build it with fixtures/build.sh)",
            bootstrap.display()
        )
    })?;
    let manifest = format!(
        "service: lb\nfunctions:\n  pyecho:\n    runtime: python3.11\n    handler: app.echo\n    package: {py}\n  rsecho:\n    runtime: provided.al2023\n    package: {rs}\n  pyboto:\n    runtime: python3.11\n    handler: app.handler\n    package: {boto}\n  pysleep:\n    runtime: python3.11\n    handler: app.sleep\n    timeout: 10\n    package: {py}\n",
        py = fixtures.join("python").display(),
        rs = rust_pkg.display(),
        boto = fixtures.join("python-boto3").display(),
    );

    let (python, python_version) = python()?;
    let s = start_server(
        args,
        dir,
        &[
            OsStr::new("--runtimes-dir"),
            runtimes.as_os_str(),
            OsStr::new("--keep-alive"),
            OsStr::new("600"),
        ],
    )?;
    s.deploy(args, "lambda", &manifest)?;
    let (_baseline, baseline_addr) = start_baseline()?;
    let api: SocketAddr = s.api.parse()?;

    // The first Python call installs the managed environment if needed.
    let installing = Instant::now();
    sequential(
        api,
        &invoke_path("pyecho"),
        &Bytes::from_static(b"{}"),
        &s.token,
        0,
        1,
        |_| true,
    )
    .context("first call of pyecho (installs the Python environment if needed)")?;
    let first_call = installing.elapsed();

    // 1. Warm invokes.
    let event = Bytes::from_static(br#"{"hello": "world", "n": 1}"#);
    let hyper = sequential(
        baseline_addr,
        &invoke_path("pyecho"),
        &event,
        &s.token,
        args.warm_up,
        args.calls,
        |body| body == "hello, world",
    )?;
    let pyecho = sequential(
        api,
        &invoke_path("pyecho"),
        &event,
        &s.token,
        args.warm_up,
        args.calls,
        |body| {
            serde_json::from_str::<serde_json::Value>(body)
                .is_ok_and(|v| v["hello"] == "world" && v["n"] == 1)
        },
    )?;
    let rsecho = sequential(
        api,
        &invoke_path("rsecho"),
        &event,
        &s.token,
        args.warm_up,
        args.calls,
        |body| {
            serde_json::from_str::<serde_json::Value>(body)
                .is_ok_and(|v| v["rust"] == true && v["event"]["hello"] == "world")
        },
    )?;
    let engine_duration = |name: &str, series: &Series| -> Result<(Histogram<u64>, usize)> {
        let reports = reports(&s, name)?;
        let mut hist = histogram()?;
        let mut matched = 0;
        for id in &series.ids {
            if let Some(r) = reports.get(id) {
                hist.record(r.duration_ns.max(1))?;
                matched += 1;
            }
        }
        Ok((hist, matched))
    };
    let (py_engine, py_matched) = engine_duration("pyecho", &pyecho)?;
    let (rs_engine, rs_matched) = engine_duration("rsecho", &rsecho)?;

    // 2. Cold starts of a function that imports boto3 at init.
    let mut boto3_version = String::new();
    let mut cold = histogram()?;
    let mut cold_ids = Vec::new();
    runtime()?.block_on(async {
        let mut client = Client::connect(api).await?;
        let path = invoke_path("pyboto");
        let empty = Bytes::from_static(b"{}");
        // One unmeasured call first: the function's first instance.
        client.post(&path, &empty, &s.token).await?;
        for _ in 0..args.lambda_cold_starts {
            evict(&s, "pyboto")?;
            // Let the retired instance's teardown finish off the clock.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let started = Instant::now();
            let answer = client.post(&path, &empty, &s.token).await?;
            let took = started.elapsed();
            if answer.status != 200 {
                bail!("pyboto answered {}: {}", answer.status, answer.text());
            }
            if boto3_version.is_empty() {
                let v: serde_json::Value = serde_json::from_slice(&answer.body)
                    .with_context(|| format!("pyboto answered {}", answer.text()))?;
                boto3_version = v["boto3"].as_str().unwrap_or("?").to_string();
            }
            cold.record(ns_of(took))?;
            cold_ids.extend(answer.request_id);
        }
        anyhow::Ok(())
    })?;
    let boto_reports = reports(&s, "pyboto")?;
    let mut init = histogram()?;
    let mut cold_duration = histogram()?;
    for id in &cold_ids {
        if let Some(r) = boto_reports.get(id) {
            if let Some(i) = r.init_ns {
                init.record(i.max(1))?;
            }
            cold_duration.record(r.duration_ns.max(1))?;
        }
    }
    let pythonpath = runtimes.join("python");
    let k = args.lambda_cold_starts;
    let import_boto3 = spawn_times(&python, "import boto3", Some(&pythonpath), k)?;
    let import_both = spawn_times(&python, "import awslambdaric, boto3", Some(&pythonpath), k)?;
    let pass = spawn_times(&python, "pass", None, k)?;
    let shim_pass = spawn_times(Path::new("python3"), "pass", None, k)?;

    // 3. Idle memory of frozen instances.
    for name in ["pyecho", "rsecho", "pyboto"] {
        evict(&s, name)?;
    }
    let started = Instant::now();
    let sleep_ids = start_instances(&s, args.instances)?;
    let started_in = started.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    let server_pid = s.proc.child.id();
    let layout = layout(server_pid);
    let instances = match &layout {
        Some(l) => instances_of(l, "pysleep")?,
        None => Vec::new(),
    };
    let sleep_reports = reports(&s, "pysleep")?;
    let sleep_cold = sleep_ids
        .iter()
        .filter(|id| sleep_reports.get(*id).is_some_and(|r| r.init_ns.is_some()))
        .count();

    // The report.
    println!("## Lambda process runtime: run of {}", chrono_like_now());
    println!();
    println!(
        "Machine: {} cores; {}; Python {} ({}), boto3 {}; managed environments in {}.",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        version(&args.stratus),
        python_version,
        python.display(),
        boto3_version,
        runtimes.display()
    );
    println!(
        "First pyecho call (cold, plus the environment's install if it was missing): {} ms.",
        ms(ns_of(first_call))
    );
    println!();
    println!(
        "### Warm invoke: {} sequential calls on one keep-alive connection (after {} warm-up)",
        args.calls, args.warm_up
    );
    println!();
    println!(
        "`POST /2015-03-31/functions/{{name}}/invocations`, event `{}`; the hyper row is the same client sending the same POST to the plain hyper server.",
        String::from_utf8_lossy(&event)
    );
    println!();
    println!(
        "| target | p50 µs | p99 µs | mean µs | engine Duration p50 µs | overhead above hyper p50 µs |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let hyper_p50 = hyper.latency.value_at_quantile(0.5);
    println!(
        "| hyper (baseline round trip) | {} | {} | {} | | |",
        us(hyper_p50),
        us(hyper.latency.value_at_quantile(0.99)),
        us(hyper.mean_ns())
    );
    let overhead = |series: &Series| {
        series.latency.value_at_quantile(0.5) as f64 / 1000.0 - hyper_p50 as f64 / 1000.0
    };
    for (name, series, engine, matched) in [
        (
            "pyecho (python3.11, awslambdaric, `app.echo`)",
            &pyecho,
            &py_engine,
            py_matched,
        ),
        (
            "rsecho (provided.al2023, Rust `lambda_runtime`)",
            &rsecho,
            &rs_engine,
            rs_matched,
        ),
    ] {
        let engine_p50 = if matched > 0 {
            us(engine.value_at_quantile(0.5))
        } else {
            "n/a".into()
        };
        println!(
            "| {name} | {} | {} | {} | {engine_p50} | {:.1} |",
            us(series.latency.value_at_quantile(0.5)),
            us(series.latency.value_at_quantile(0.99)),
            us(series.mean_ns()),
            overhead(series)
        );
    }
    println!();
    println!(
        "Engine Duration is the REPORT line's `Duration` (2 decimals of ms, so 10 µs steps), matched by request id: {py_matched} of {} pyecho calls, {rs_matched} of {} rsecho calls.",
        args.calls, args.calls
    );
    println!();

    println!(
        "### Cold start: pyboto (`import boto3` at init), {} evictions",
        args.lambda_cold_starts
    );
    println!();
    println!("| measure | p50 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|");
    for (name, h) in [
        ("first invoke after eviction (end to end)", &cold),
        ("REPORT Init Duration", &init),
        ("REPORT Duration of that invoke", &cold_duration),
        (
            "baseline: `python3 -c \"import boto3\"` (fresh process)",
            &import_boto3,
        ),
        (
            "baseline: `python3 -c \"import awslambdaric, boto3\"`",
            &import_both,
        ),
        ("baseline: `python3 -c pass`", &pass),
        (
            "(info) `python3 -c pass` through the pyenv shim",
            &shim_pass,
        ),
    ] {
        if h.is_empty() {
            println!("| {name} | n/a | n/a | n/a |");
            continue;
        }
        println!(
            "| {name} | {} | {} | {} |",
            ms(h.value_at_quantile(0.5)),
            ms(h.value_at_quantile(0.99)),
            ms(h.max())
        );
    }
    println!();
    println!(
        "Baselines run {} directly (what the server runs; `python3` resolves to it) with `PYTHONDONTWRITEBYTECODE=1` as the server sets, and `PYTHONPATH={}` for the imports. Each measured invoke follows an eviction and 200 ms for the retired instance's teardown; {} of {} REPORT lines carry `Init Duration`.",
        python.display(),
        pythonpath.display(),
        init.len(),
        cold_ids.len()
    );
    println!();

    println!(
        "### Idle memory: {} instances started at once (`app.sleep`, 0.3 s), then idle 1 s",
        args.instances
    );
    println!();
    match &layout {
        Some(l) => println!(
            "cgroup {}: {}/<instance>/ ({} of {} calls were cold starts; all answered in {} ms).",
            if l.v2 { "v2" } else { "v1" },
            l.memory.display(),
            sleep_cold,
            sleep_ids.len(),
            ms(ns_of(started_in))
        ),
        None => println!(
            "No per-instance memory cgroups found under /sys/fs/cgroup for server pid {server_pid}."
        ),
    }
    println!();
    let n = instances.len();
    let mib = |bytes: f64| bytes / (1024.0 * 1024.0);
    let per_gib = |per_mib: f64| {
        if per_mib > 0.0 {
            format!("{:.0}", 1024.0 / per_mib)
        } else {
            "n/a".into()
        }
    };
    let usage: u64 = instances.iter().map(|i| i.usage).sum();
    let anon: u64 = instances.iter().filter_map(|i| i.anon).sum();
    let file: u64 = instances.iter().filter_map(|i| i.file).sum();
    let rss: u64 = instances.iter().map(|i| i.rss_kib).sum();
    let processes: usize = instances.iter().map(|i| i.processes).sum();
    let frozen = instances.iter().filter(|i| i.frozen).count();
    let per_usage = mib(usage as f64) / n.max(1) as f64;
    let per_rss = rss as f64 / 1024.0 / n.max(1) as f64;
    println!("| measure | value |");
    println!("|---|---:|");
    println!("| instances found (frozen) | {n} ({frozen}), {processes} processes |");
    println!(
        "| memory cgroup usage, sum | {:.1} MiB |",
        mib(usage as f64)
    );
    println!(
        "| of which anon / page cache | {:.1} / {:.1} MiB |",
        mib(anon as f64),
        mib(file as f64)
    );
    println!("| memory cgroup usage per instance | {per_usage:.1} MiB |");
    println!("| instances per GiB (cgroup) | {} |", per_gib(per_usage));
    println!(
        "| VmRSS sum of the instances' processes | {:.1} MiB |",
        rss as f64 / 1024.0
    );
    println!("| VmRSS per instance | {per_rss:.1} MiB |");
    println!("| instances per GiB (RSS) | {} |", per_gib(per_rss));
    println!();
    println!(
        "RSS counts shared pages (the interpreter, libraries) once per process; the cgroup charges each page once, to the instance that first touched it."
    );
    println!();

    println!("### Targets");
    println!();
    let py_over = overhead(&pyecho);
    let rs_over = overhead(&rsecho);
    let cold_p50 = cold.value_at_quantile(0.5);
    let boto_p50 = import_boto3.value_at_quantile(0.5);
    println!(
        "- warm overhead above the hyper round trip, p50: pyecho {py_over:.1} µs, rsecho {rs_over:.1} µs (target <= 200 µs above handler time): {}",
        met(py_over <= 200.0 && rs_over <= 200.0)
    );
    println!(
        "- Python cold start with boto3 imported, p50: {} ms end to end, Init Duration {} ms (target <= 50 ms): {}",
        ms(cold_p50),
        if init.is_empty() {
            "n/a".into()
        } else {
            ms(init.value_at_quantile(0.5))
        },
        met(cold_p50 <= 50_000_000)
    );
    println!(
        "- stratus cold p50 / `python3 -c \"import boto3\"` p50: **{:.2}x** ({} ms vs {} ms; `python3 -c pass` {} ms)",
        cold_p50 as f64 / boto_p50.max(1) as f64,
        ms(cold_p50),
        ms(boto_p50),
        ms(pass.value_at_quantile(0.5))
    );
    println!(
        "- idle frozen instance: {per_usage:.1} MiB (cgroup), {per_rss:.1} MiB (RSS); {} / {} per GiB",
        per_gib(per_usage),
        per_gib(per_rss)
    );
    Ok(())
}

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

/// How many sequential calls, and the pause between them.
#[derive(Clone, Copy)]
struct Pace {
    warm_up: usize,
    calls: usize,
    gap: Duration,
}

/// `warm_up` then `calls` POSTs of `event` to `path`, one after another on
/// one keep-alive connection; each must answer 200 (`check` looks at the
/// first measured answer).
fn sequential(
    addr: SocketAddr,
    path: &str,
    event: &Bytes,
    token: &str,
    pace: Pace,
    check: impl Fn(&str) -> bool,
) -> Result<Series> {
    let Pace {
        warm_up,
        calls,
        gap,
    } = pace;
    runtime()?.block_on(async {
        let mut client = Client::connect(addr).await?;
        let mut latency = histogram()?;
        let mut total = Duration::ZERO;
        let mut ids = Vec::with_capacity(calls);
        for i in 0..warm_up + calls {
            if !gap.is_zero() && i > 0 {
                tokio::time::sleep(gap).await;
            }
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

/// One fresh-process baseline: `program -c code`.
struct Spawn<'a> {
    program: &'a Path,
    code: &'a str,
    pythonpath: Option<&'a Path>,
}

/// Times one run of `spawn`, start to exit.
fn spawn_once(spawn: &Spawn) -> Result<Duration> {
    let mut cmd = Command::new(spawn.program);
    cmd.args(["-c", spawn.code])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    match spawn.pythonpath {
        Some(p) => cmd.env("PYTHONPATH", p),
        None => cmd.env_remove("PYTHONPATH"),
    };
    let started = Instant::now();
    let out = cmd
        .output()
        .with_context(|| format!("run {}", spawn.program.display()))?;
    let took = started.elapsed();
    if !out.status.success() {
        bail!(
            "{} -c {:?} failed: {}",
            spawn.program.display(),
            spawn.code,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(took)
}

/// Times `count` fresh processes of each of `spawns`, interleaved (one of
/// each per round) so that the machine's drift hits them alike.
fn spawn_times(spawns: &[Spawn], count: usize) -> Result<Vec<Histogram<u64>>> {
    let mut hists = spawns
        .iter()
        .map(|_| histogram())
        .collect::<Result<Vec<_>>>()?;
    for _ in 0..count {
        for (spawn, hist) in spawns.iter().zip(&mut hists) {
            hist.record(ns_of(spawn_once(spawn)?))?;
        }
    }
    Ok(hists)
}

/// The memory of one idle instance (or of a Python template), from its
/// cgroups and its processes.
#[derive(Default)]
struct Instance {
    usage: u64,
    anon: u64,
    file: u64,
    rss_kib: u64,
    pss_kib: u64,
    pids: Vec<u32>,
    frozen: bool,
    /// A Python template (fork server): its processes are ancestors of
    /// another cgroup's.
    template: bool,
}

impl Instance {
    /// Sums of `group`, with `count` as the number of processes.
    fn sum<'a>(group: impl Iterator<Item = &'a Instance>) -> Instance {
        let mut total = Instance::default();
        for i in group {
            total.usage += i.usage;
            total.anon += i.anon;
            total.file += i.file;
            total.rss_kib += i.rss_kib;
            total.pss_kib += i.pss_kib;
            total.pids.extend(&i.pids);
            total.frozen |= i.frozen;
        }
        total
    }
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

/// The `key:` line of `/proc/<pid>/<file>`, in kB.
fn proc_kib(pid: u32, file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The parent of process `pid`.
fn parent(pid: u32) -> Option<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Whether process `pid` runs function `name` (by its environment).
fn runs_function(pid: u32, name: &str) -> bool {
    let needle = format!("AWS_LAMBDA_FUNCTION_NAME={name}");
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|env| env.split(|&b| b == 0).any(|v| v == needle.as_bytes()))
        .unwrap_or(false)
}

/// The cgroups of function `name` in the server's cgroups: its instances
/// and its Python template, if any (marked).
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
            .filter_map(|&p| proc_kib(p, "status", "VmRSS:"))
            .sum::<u64>();
        let pss_kib = pids
            .iter()
            .filter_map(|&p| proc_kib(p, "smaps_rollup", "Pss:"))
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
            anon: keyed(&dir.join("memory.stat"), stat.0).unwrap_or(0),
            file: keyed(&dir.join("memory.stat"), stat.1).unwrap_or(0),
            rss_kib,
            pss_kib,
            pids,
            frozen,
            template: false,
        });
    }
    // A template's processes are ancestors of its instances' (the forks).
    let owner: HashMap<u32, usize> = found
        .iter()
        .enumerate()
        .flat_map(|(i, g)| g.pids.iter().map(move |&p| (p, i)))
        .collect();
    let mut templates = Vec::new();
    for (i, group) in found.iter().enumerate() {
        for &pid in &group.pids {
            let mut at = pid;
            for _ in 0..64 {
                match parent(at) {
                    Some(up) if up > 1 => at = up,
                    _ => break,
                }
                if let Some(&j) = owner.get(&at)
                    && j != i
                {
                    templates.push(j);
                }
            }
        }
    }
    for j in templates {
        found[j].template = true;
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
    let mut server_args = vec![
        OsStr::new("--runtimes-dir"),
        runtimes.as_os_str(),
        OsStr::new("--keep-alive"),
        OsStr::new("600"),
    ];
    if args.no_python_templates {
        server_args.push(OsStr::new("--no-python-templates"));
    }
    let s = start_server(args, dir, &server_args)?;
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
        Pace {
            warm_up: 0,
            calls: 1,
            gap: Duration::ZERO,
        },
        |_| true,
    )
    .context("first call of pyecho (installs the Python environment if needed)")?;
    let first_call = installing.elapsed();

    // 1. Warm invokes.
    let pace = Pace {
        warm_up: args.warm_up,
        calls: args.calls,
        gap: Duration::from_micros(args.gap_us),
    };
    let event = Bytes::from_static(br#"{"hello": "world", "n": 1}"#);
    let hyper = sequential(
        baseline_addr,
        &invoke_path("pyecho"),
        &event,
        &s.token,
        pace,
        |body| body == "hello, world",
    )?;
    let pyecho = sequential(
        api,
        &invoke_path("pyecho"),
        &event,
        &s.token,
        pace,
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
        pace,
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
    let mut boto_first = Duration::ZERO;
    let mut cold = histogram()?;
    let mut cold_ids = Vec::new();
    runtime()?.block_on(async {
        let mut client = Client::connect(api).await?;
        let path = invoke_path("pyboto");
        let empty = Bytes::from_static(b"{}");
        // One unmeasured call first: the function's first instance (and
        // its Python template, if the server uses one).
        let started = Instant::now();
        let answer = client.post(&path, &empty, &s.token).await?;
        if answer.status != 200 {
            bail!("pyboto answered {}: {}", answer.status, answer.text());
        }
        boto_first = started.elapsed();
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
    let spawns = [
        Spawn {
            program: &python,
            code: "import boto3",
            pythonpath: Some(&pythonpath),
        },
        Spawn {
            program: &python,
            code: "import awslambdaric, boto3",
            pythonpath: Some(&pythonpath),
        },
        Spawn {
            program: &python,
            code: "pass",
            pythonpath: None,
        },
        Spawn {
            program: Path::new("python3"),
            code: "pass",
            pythonpath: None,
        },
    ];
    let mut times = spawn_times(&spawns, k)?.into_iter();
    let mut next = || times.next().context("a baseline's times");
    let (import_boto3, import_both, pass, shim_pass) = (next()?, next()?, next()?, next()?);

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
        "Machine: {} cores; {}; Python {} ({}), boto3 {}; managed environments in {}; Python templates {}.",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        version(&args.stratus),
        python_version,
        python.display(),
        boto3_version,
        runtimes.display(),
        if args.no_python_templates {
            "off (--no-python-templates)"
        } else {
            "on (the server's default)"
        }
    );
    println!(
        "First pyecho call (starts its first instance, and its Python template when the server uses one; installs the managed environment if it was missing): {} ms.",
        ms(ns_of(first_call))
    );
    println!();
    println!(
        "### Warm invoke: {} sequential calls on one keep-alive connection (after {} warm-up){}",
        args.calls,
        args.warm_up,
        if args.gap_us > 0 {
            format!(", {} µs apart", args.gap_us)
        } else {
            ", back to back".into()
        }
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
        "Baselines run {} directly (what the server runs; `python3` resolves to it) with `PYTHONDONTWRITEBYTECODE=1` as the server sets, and `PYTHONPATH={}` for the imports, interleaved (one of each per round). Each measured invoke follows an eviction and 200 ms for the retired instance's teardown; {} of {} REPORT lines carry `Init Duration`. The function's very first invoke (unmeasured above; it also starts the function's Python template when the server uses one) took {} ms.",
        python.display(),
        pythonpath.display(),
        init.len(),
        cold_ids.len(),
        ms(ns_of(boto_first))
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
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    let per_gib = |per_mib: f64| {
        if per_mib > 0.0 {
            format!("{:.0}", 1024.0 / per_mib)
        } else {
            "n/a".into()
        }
    };
    let n = instances.iter().filter(|i| !i.template).count();
    let frozen = instances.iter().filter(|i| !i.template && i.frozen).count();
    let all = Instance::sum(instances.iter().filter(|i| !i.template));
    let template = Instance::sum(instances.iter().filter(|i| i.template));
    let templates = instances.iter().filter(|i| i.template).count();
    let per = |total: f64| total / n.max(1) as f64;
    let per_usage = per(mib(all.usage));
    let per_pss = per(all.pss_kib as f64 / 1024.0);
    let per_rss = per(all.rss_kib as f64 / 1024.0);
    println!("| measure | per instance | sum | instances per GiB |");
    println!("|---|---:|---:|---:|");
    println!(
        "| memory cgroup usage | {per_usage:.1} MiB | {:.1} MiB | {} |",
        mib(all.usage),
        per_gib(per_usage)
    );
    println!(
        "| of which anon / page cache | {:.1} / {:.1} MiB | {:.1} / {:.1} MiB | |",
        per(mib(all.anon)),
        per(mib(all.file)),
        mib(all.anon),
        mib(all.file)
    );
    println!(
        "| PSS of the instance's processes | {per_pss:.1} MiB | {:.1} MiB | {} |",
        all.pss_kib as f64 / 1024.0,
        per_gib(per_pss)
    );
    println!(
        "| VmRSS of the instance's processes | {per_rss:.1} MiB | {:.1} MiB | {} |",
        all.rss_kib as f64 / 1024.0,
        per_gib(per_rss)
    );
    if templates > 0 {
        let with_template = per(mib(all.usage + template.usage));
        println!(
            "| Python template (fork server, shared by the function's instances): cgroup / PSS / RSS | | {:.1} / {:.1} / {:.1} MiB | |",
            mib(template.usage),
            template.pss_kib as f64 / 1024.0,
            template.rss_kib as f64 / 1024.0
        );
        println!(
            "| cgroup usage with the template spread over these {n} instances | {with_template:.1} MiB | {:.1} MiB | {} |",
            mib(all.usage + template.usage),
            per_gib(with_template)
        );
    }
    println!();
    println!(
        "{n} instances found ({frozen} frozen, {} processes){}. The cgroup charges each page once, to the cgroup that first touched it (pages an instance shares copy-on-write with its template stay charged to the template); PSS splits shared pages among the processes mapping them; RSS counts them in full in every process.",
        all.pids.len(),
        if templates > 0 {
            format!(
                ", plus {templates} Python template ({} processes)",
                template.pids.len()
            )
        } else {
            String::new()
        }
    );
    println!();

    println!("### Targets");
    println!();
    let py_over = overhead(&pyecho);
    let rs_over = overhead(&rsecho);
    let cold_p50 = cold.value_at_quantile(0.5);
    let boto_p50 = import_boto3.value_at_quantile(0.5);
    // The overhead includes the runtime client's own work per event
    // (awslambdaric parsing and posting in Python; `lambda_runtime` in Rust),
    // which no handler time shows; each runtime is judged on its own.
    println!(
        "- warm overhead above the hyper round trip, p50 (target <= 200 µs above handler time; it includes the runtime client's own work): rsecho {rs_over:.1} µs: {}; pyecho {py_over:.1} µs: {}",
        met(rs_over <= 200.0),
        met(py_over <= 200.0)
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
        "- idle frozen instance: {per_usage:.1} MiB (cgroup), {per_pss:.1} MiB (PSS), {per_rss:.1} MiB (RSS); {} / {} / {} per GiB",
        per_gib(per_usage),
        per_gib(per_pss),
        per_gib(per_rss)
    );
    Ok(())
}

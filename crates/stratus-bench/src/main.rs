//! `stratus-bench`: measures Stratus against baselines run side by side in the
//! same run, on the same machine:
//!
//! - cold start: the first request after the function's instances were
//!   evicted (end to end through the gateway, and the engine's init time);
//! - warm throughput and p50/p99 latency at a fixed number of keep-alive
//!   connections, against a plain hyper hello-world server (the limit) and
//!   `wasmtime serve -S cli` running the same component (the peer).
//!
//! With `--lambda` it measures the Lambda process runtime instead (see
//! [`lambda`]): warm invoke latency through the Runtime API against the same
//! client's round trip to the hyper server, Python cold starts that import
//! boto3 against a bare `python3 -c "import boto3"`, and the memory of idle
//! (frozen) instances.
//!
//! Run it with `scripts/bench.sh` (or `scripts/bench.sh --lambda`), which
//! builds what it needs.

mod lambda;
mod queue;
mod schedule;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Parser;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    mode: Option<Mode>,
    /// The stratus binary.
    #[arg(long, default_value = "target/release/stratus")]
    stratus: PathBuf,
    /// The wasmtime CLI (48.x).
    #[arg(long, default_value = "wasmtime")]
    wasmtime: PathBuf,
    /// Leave out `wasmtime serve` (to compare two Stratus builds against
    /// the hyper baseline where wasmtime-cli is not installed).
    #[arg(long)]
    no_wasmtime: bool,
    /// The component to serve.
    #[arg(
        long,
        default_value = "examples/hello/target/wasm32-wasip2/release/hello.wasm"
    )]
    component: PathBuf,
    /// Concurrent keep-alive connections of the load generator.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seconds of measured load per target (after 1 s of warm-up).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Cold starts to measure.
    #[arg(long, default_value_t = 300)]
    cold_starts: usize,
    /// Rounds: each round runs every target once, in turn; the report keeps
    /// every round so the spread is visible.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Functions deployed (and each loaded once) to measure idle memory.
    #[arg(long, default_value_t = 200)]
    idle_functions: usize,
    /// Measure the Lambda process runtime instead of the wasm path.
    #[arg(long)]
    lambda: bool,
    /// (--lambda) Where the server installs the managed runtime environments
    /// (default: target/stratus-test-runtimes if it exists, else a folder in
    /// the bench's temporary directory, installed afresh).
    #[arg(long)]
    runtimes_dir: Option<PathBuf>,
    /// (--lambda) Measured sequential warm invokes per target.
    #[arg(long, default_value_t = 2000)]
    calls: usize,
    /// (--lambda) Unmeasured warm-up invokes per target.
    #[arg(long, default_value_t = 100)]
    warm_up: usize,
    /// (--lambda) Python cold starts (evict, then invoke) to measure, and
    /// fresh `python3` processes of each baseline.
    #[arg(long, default_value_t = 20)]
    lambda_cold_starts: usize,
    /// (--lambda) Instances started at once to measure idle memory.
    #[arg(long, default_value_t = 10)]
    instances: usize,
    /// (--lambda) Pause between measured warm invokes, in µs (0: back to
    /// back). A pause lets each instance's freeze settle before the next call.
    #[arg(long, default_value_t = 0)]
    gap_us: u64,
    /// (--lambda) Pass `--no-python-templates` to the server: every Python
    /// instance starts a fresh interpreter instead of forking a template.
    #[arg(long)]
    no_python_templates: bool,
    /// (--lambda) The Lambda fixtures (python, python-boto3, rust).
    #[arg(long, default_value = "fixtures/lambda")]
    fixtures: PathBuf,
    /// Measure schedule firing jitter instead (see [`schedule`]).
    #[arg(long)]
    schedules: bool,
    /// (--schedules) Functions, each on `rate(1 second)`.
    #[arg(long, default_value_t = 200)]
    schedule_functions: usize,
    /// Measure queue → function and async invoke throughput instead (see
    /// [`queue`]).
    #[arg(long)]
    queues: bool,
    /// (--queues) Messages sent through the queue (a fifth of this for the
    /// Python consumer and for async invokes).
    #[arg(long, default_value_t = 50_000)]
    queue_messages: usize,
    /// (--queues) Producer connections.
    #[arg(long, default_value_t = 16)]
    queue_connections: usize,
    /// (--queues) The trigger's `maximumConcurrency`.
    #[arg(long, default_value_t = 8)]
    queue_pollers: usize,
    /// (--queues) The consumer component.
    #[arg(
        long,
        default_value = "fixtures/target/wasm32-wasip2/release/testbed.wasm"
    )]
    queue_component: PathBuf,
    /// (--schedules) Seconds the schedules fire for.
    #[arg(long, default_value_t = 15.0)]
    schedule_seconds: f64,
}

#[derive(clap::Subcommand)]
enum Mode {
    /// Serve a plain hyper hello world (the baseline process).
    Baseline {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
}

fn main() -> Result<()> {
    let mut args = Args::parse();
    if args.stratus.exists() {
        args.stratus = args.stratus.canonicalize()?;
    }
    match args.mode {
        Some(Mode::Baseline { listen }) => baseline(listen),
        None if args.lambda => lambda::run(&args),
        None if args.schedules => schedule::run(&args),
        None if args.queues => queue::run(&args),
        None => run(&args),
    }
}

/// A plain hyper HTTP/1 hello world on a multi-threaded runtime: the fastest
/// a server can answer this request on this machine.
fn baseline(listen: SocketAddr) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        println!("listening {}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                        Bytes::from_static(b"hello, world"),
                    )))
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

struct Proc {
    child: Child,
    name: &'static str,
}

impl Drop for Proc {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("{} did not stop on SIGTERM; killing", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn wait_ready(addr: &str, path: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok((200, _)) = get_blocking(addr, path, None) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{addr}{path} did not become ready")
}

/// One HTTP/1.1 request on a fresh connection (setup only; not timed).
fn get_blocking(addr: &str, path: &str, token: Option<&str>) -> Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    Ok((status, body))
}

struct Load {
    requests: u64,
    errors: u64,
    elapsed: Duration,
    latency: Histogram<u64>,
}

impl Load {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    fn p(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }
}

/// Drives `connections` keep-alive HTTP/1.1 connections in a closed loop
/// for `seconds` after a warm-up, recording per-request latency in µs.
fn load(addr: SocketAddr, path: &str, connections: usize, seconds: f64) -> Result<Load> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let warm_until = Instant::now() + Duration::from_secs(1);
        let end = warm_until + Duration::from_secs_f64(seconds);
        let mut tasks = Vec::new();
        for _ in 0..connections {
            let path = path.to_string();
            tasks.push(tokio::spawn(async move {
                let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
                let (mut ok, mut errors) = (0u64, 0u64);
                let stream = tokio::net::TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
                let driver = tokio::spawn(conn);
                loop {
                    let now = Instant::now();
                    if now >= end {
                        break;
                    }
                    let req = hyper::Request::get(path.as_str())
                        .header("host", addr.to_string())
                        .body(Empty::<Bytes>::new())?;
                    let started = Instant::now();
                    let response = sender.send_request(req).await?;
                    let status = response.status();
                    let _ = response.into_body().collect().await?;
                    let took = started.elapsed();
                    if started >= warm_until {
                        if status.is_success() {
                            ok += 1;
                            hist.record(took.as_micros().max(1) as u64)?;
                        } else {
                            errors += 1;
                        }
                    }
                }
                drop(sender);
                let _ = driver.await;
                anyhow::Ok((hist, ok, errors))
            }));
        }
        let mut total = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        let (mut requests, mut errors) = (0, 0);
        for task in tasks {
            let (hist, ok, err) = task.await??;
            total.add(hist)?;
            requests += ok;
            errors += err;
        }
        Ok(Load {
            requests,
            errors,
            elapsed: Duration::from_secs_f64(seconds),
            latency: total,
        })
    })
}

struct Stratus {
    proc: Proc,
    app: PathBuf,
    gateway: SocketAddr,
    api: String,
    token: String,
    _dir: TempDir,
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The bench's temporary directory (removed on drop).
fn bench_dir() -> Result<TempDir> {
    let dir = std::env::temp_dir().join(format!("stratus-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(TempDir(dir))
}

fn start_stratus(args: &Args) -> Result<Stratus> {
    let component = args
        .component
        .canonicalize()
        .context("find the component")?;
    let s = start_server(args, bench_dir()?, &[])?;
    s.deploy(
        args,
        "app",
        &format!(
            "service: bench\nfunctions:\n  hello:\n    handler: {}\n    memorySize: 128\n    events:\n      - httpApi: GET /hello/{{name}}\n",
            component.display()
        ),
    )?;
    Ok(s)
}

/// Starts `stratus serve` on a fresh data dir in `dir`, with `extra` args.
fn start_server(args: &Args, dir: TempDir, extra: &[&std::ffi::OsStr]) -> Result<Stratus> {
    let data = dir.0.join("data");
    let gateway_port = free_port()?;
    let api_port = free_port()?;
    let child = Command::new(&args.stratus)
        .arg("serve")
        .arg("--data-dir")
        .arg(&data)
        .args(["--listen", &format!("127.0.0.1:{gateway_port}")])
        .args(["--api-listen", &format!("127.0.0.1:{api_port}")])
        .args(extra)
        .env("HOME", &dir.0)
        .env("STRATUS_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("start {}", args.stratus.display()))?;
    let proc = Proc {
        child,
        name: "stratus",
    };
    let api = format!("127.0.0.1:{api_port}");
    wait_ready(&api, "/v1/health")?;
    let token = std::fs::read_to_string(data.join("token"))?
        .trim()
        .to_string();
    Ok(Stratus {
        proc,
        app: dir.0.join("app"),
        gateway: format!("127.0.0.1:{gateway_port}").parse()?,
        api,
        token,
        _dir: dir,
    })
}

impl Stratus {
    /// Deploys `manifest` from the folder `<app>/<sub>`.
    fn deploy(&self, args: &Args, sub: &str, manifest: &str) -> Result<()> {
        let dir = self.app.join(sub);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("stratus.yaml"), manifest)?;
        let status = Command::new(&args.stratus)
            .arg("deploy")
            .current_dir(&dir)
            .env("STRATUS_ENDPOINT", format!("http://{}", self.api))
            .env("STRATUS_TOKEN", &self.token)
            .stdout(Stdio::null())
            .status()
            .with_context(|| format!("run {} deploy", args.stratus.display()))?;
        if !status.success() {
            bail!("deploy of {sub} failed");
        }
        Ok(())
    }
}

fn post_blocking(addr: &str, path: &str, token: &str) -> Result<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr)?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0))
}

struct Cold {
    cold: Histogram<u64>,
    warm: Histogram<u64>,
    init: Histogram<u64>,
}

/// Evicts the function, then times the first request (cold) and a second one
/// (warm) on one keep-alive connection.
fn cold_starts(s: &Stratus, count: usize) -> Result<Cold> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut cold = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut warm = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let gateway = s.gateway;
    rt.block_on(async {
        let stream = tokio::net::TcpStream::connect(gateway).await?;
        stream.set_nodelay(true)?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let driver = tokio::spawn(conn);
        for _ in 0..count {
            let status = post_blocking(&s.api, "/v1/functions/hello/evict", &s.token)?;
            if status != 200 {
                bail!("evict answered {status}");
            }
            for hist in [&mut cold, &mut warm] {
                let req = hyper::Request::get("/hello/world")
                    .header("host", gateway.to_string())
                    .body(Empty::<Bytes>::new())?;
                let started = Instant::now();
                let response = sender.send_request(req).await?;
                if !response.status().is_success() {
                    bail!("cold-start request answered {}", response.status());
                }
                let _ = response.into_body().collect().await?;
                hist.record(started.elapsed().as_micros().max(1) as u64)?;
            }
        }
        drop(sender);
        let _ = driver.await;
        anyhow::Ok(())
    })?;
    // The engine's own measure: Init Duration on each REPORT line.
    let mut init = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for r in logs(s, "hello")? {
        let message = r["message"].as_str().unwrap_or("");
        if let Some(ms) = message
            .split("Init Duration: ")
            .nth(1)
            .and_then(|t| t.trim_end_matches(" ms").parse::<f64>().ok())
        {
            init.record(((ms * 1000.0) as u64).max(1))?;
        }
    }
    Ok(Cold { cold, warm, init })
}

/// Every log record of function `name`, oldest first.
fn logs(s: &Stratus, name: &str) -> Result<Vec<serde_json::Value>> {
    let mut all = Vec::new();
    let mut after = 0i64;
    loop {
        let (status, body) = get_blocking(
            &s.api,
            &format!("/v1/functions/{name}/logs?after={after}&limit=10000"),
            Some(&s.token),
        )?;
        if status != 200 {
            bail!("logs of {name} answered {status}: {body}");
        }
        let page: serde_json::Value =
            serde_json::from_str(&body).with_context(|| format!("logs of {name}: {body}"))?;
        let records = page["records"].as_array().cloned().unwrap_or_default();
        if records.is_empty() {
            return Ok(all);
        }
        after = page["next"].as_i64().unwrap_or(after);
        all.extend(records);
    }
}

fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/<pid>/status")
}

/// Deploys `count` more functions on the same component, calls each once so
/// each has a loaded (pre-instantiated) instance, and reports the server's
/// resident memory growth per idle loaded function.
fn idle_memory(s: &Stratus, args: &Args) -> Result<(u64, f64)> {
    let pid = s.proc.child.id();
    let component = args.component.canonicalize()?;
    let mut manifest = String::from("service: idle\nfunctions:\n");
    for i in 0..args.idle_functions {
        manifest.push_str(&format!(
            "  idle{i}:\n    handler: {}\n",
            component.display()
        ));
    }
    s.deploy(args, "idle", &manifest)?;
    let call = |i: usize| -> Result<()> {
        let code = post_blocking(&s.api, &format!("/v1/functions/idle{i}/invoke"), &s.token)?;
        if code != 200 {
            bail!("invoke idle{i} answered {code}");
        }
        Ok(())
    };
    // one call first so that shared, one-time costs are not counted
    call(0)?;
    let before = rss_kib(pid)?;
    for i in 1..args.idle_functions {
        call(i)?;
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_kib(pid)?;
    let per = after.saturating_sub(before) as f64 / (args.idle_functions - 1).max(1) as f64;
    Ok((after, per))
}

fn start_wasmtime(args: &Args) -> Result<(Proc, SocketAddr)> {
    let port = free_port()?;
    let child = Command::new(&args.wasmtime)
        .args(["serve", "-S", "cli", "--addr", &format!("127.0.0.1:{port}")])
        .arg(&args.component)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| {
            format!(
                "start {} (install: cargo install wasmtime-cli@48.0.8 --locked)",
                args.wasmtime.display()
            )
        })?;
    let proc = Proc {
        child,
        name: "wasmtime serve",
    };
    let addr = format!("127.0.0.1:{port}");
    wait_ready(&addr, "/hello/world")?;
    Ok((proc, addr.parse()?))
}

fn start_baseline() -> Result<(Proc, SocketAddr)> {
    let me = std::env::current_exe()?;
    let mut child = Command::new(me)
        .arg("baseline")
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().context("baseline stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening ")
        .context("baseline did not report its address")?
        .parse()?;
    Ok((
        Proc {
            child,
            name: "hyper baseline",
        },
        addr,
    ))
}

fn version(program: &Path) -> String {
    Command::new(program)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}

fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

fn run(args: &Args) -> Result<()> {
    let stratus = start_stratus(args)?;
    wait_ready(&stratus.gateway.to_string(), "/hello/world")?;
    let wasmtime = if args.no_wasmtime {
        None
    } else {
        Some(start_wasmtime(args)?)
    };
    let (_baseline, baseline_addr) = start_baseline()?;

    println!("## Run of {}", chrono_like_now());
    println!();
    println!(
        "Machine: {} cores; {}; {}; component {} ({} bytes).",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        version(&args.stratus),
        if args.no_wasmtime {
            "no wasmtime serve".to_string()
        } else {
            version(&args.wasmtime)
        },
        args.component.display(),
        std::fs::metadata(&args.component)
            .map(|m| m.len())
            .unwrap_or(0)
    );
    println!();

    let cold = cold_starts(&stratus, args.cold_starts)?;
    println!("### Cold start ({} evictions)", args.cold_starts);
    println!();
    println!("| measure | p50 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|");
    for (name, h) in [
        ("first request after eviction (end to end)", &cold.cold),
        ("second request, warm (end to end)", &cold.warm),
        ("engine Init Duration (load + pre-instantiate)", &cold.init),
    ] {
        println!(
            "| {name} | {} | {} | {} |",
            ms(h.value_at_quantile(0.5)),
            ms(h.value_at_quantile(0.99)),
            ms(h.max())
        );
    }
    println!();

    println!(
        "### Warm load: {} connections, {} s per target, {} rounds",
        args.connections, args.seconds, args.rounds
    );
    println!();
    println!("| round | target | req/s | p50 ms | p99 ms | errors |");
    println!("|---:|---|---:|---:|---:|---:|");
    let targets: [(&str, Option<SocketAddr>); 3] = [
        ("hyper hello world", Some(baseline_addr)),
        (
            "wasmtime serve -S cli",
            wasmtime.as_ref().map(|(_, addr)| *addr),
        ),
        ("stratus", Some(stratus.gateway)),
    ];
    let mut sums = [(0.0f64, 0.0f64, 0.0f64); 3];
    for round in 1..=args.rounds {
        for (i, (name, addr)) in targets.iter().enumerate() {
            let Some(addr) = addr else {
                continue;
            };
            let result = load(*addr, "/hello/world", args.connections, args.seconds)?;
            println!(
                "| {round} | {name} | {:.0} | {:.3} | {:.3} | {} |",
                result.rps(),
                result.p(0.5),
                result.p(0.99),
                result.errors
            );
            sums[i].0 += result.rps();
            sums[i].1 += result.p(0.5);
            sums[i].2 += result.p(0.99);
        }
    }
    let (rss, per_idle) = idle_memory(&stratus, args)?;
    println!();
    println!(
        "### Idle memory ({} functions deployed, each called once)",
        args.idle_functions
    );
    println!();
    println!("| measure | value |");
    println!("|---|---:|");
    println!("| server RSS afterwards | {:.1} MiB |", rss as f64 / 1024.0);
    println!("| RSS growth per idle loaded function | {per_idle:.0} KiB |");
    println!(
        "| idle loaded functions per GiB | {:.0} |",
        if per_idle > 0.0 {
            1024.0 * 1024.0 / per_idle
        } else {
            f64::INFINITY
        }
    );
    let n = args.rounds as f64;
    let mean = |i: usize| (sums[i].0 / n, sums[i].1 / n, sums[i].2 / n);
    let (b_rps, _, _) = mean(0);
    let (w_rps, _, w_p99) = mean(1);
    let (s_rps, s_p50, s_p99) = mean(2);
    println!();
    println!("Means over rounds: stratus {s_rps:.0} req/s (p50 {s_p50:.3} ms, p99 {s_p99:.3} ms).");
    if wasmtime.is_some() {
        println!(
            "- stratus / wasmtime serve throughput: **{:.2}x** (target >= 1.5x); p99 ratio {:.2} (target <= 1.0)",
            s_rps / w_rps,
            s_p99 / w_p99
        );
    }
    println!(
        "- stratus / hyper hello world throughput: **{:.2}x**",
        s_rps / b_rps
    );
    println!(
        "- cold start p50 {} ms end to end, engine init p50 {} ms (target <= 1 ms)",
        ms(cold.cold.value_at_quantile(0.5)),
        ms(cold.init.value_at_quantile(0.5))
    );
    Ok(())
}

fn chrono_like_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

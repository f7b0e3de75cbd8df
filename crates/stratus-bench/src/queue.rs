//! `stratus-bench --queues`: durable queue → function throughput, and
//! asynchronous `Event` invocation throughput.
//!
//! - **Queue → function.** A consumer function with `events: - sqs:
//!   {batchSize: 10}` is deployed; `--queue-connections` producers send
//!   `--queue-messages` messages with `SendMessageBatch` (10 per call,
//!   SigV4-signed with the admin key, as boto3 would) while the trigger
//!   receives, invokes and deletes. The figure is messages per second from
//!   the first send until the queue is empty (every message processed and
//!   deleted). Every send, receive and delete is a SQLite commit with
//!   `synchronous=FULL`. Run for a wasm consumer (the testbed fixture) and a
//!   Python one (`fixtures/lambda/python`, `app.sqs_batch`).
//! - **Async invoke.** `--queue-messages` `Event` invocations through the
//!   Lambda Invoke API, then until the asynchronous queue is empty.
//! - **Baseline**, side by side: the same producers posting the same
//!   requests to a plain hyper server (which answers without storing), i.e.
//!   the HTTP ceiling of the load generator on this machine.

use super::{Args, Proc, Stratus, bench_dir, free_port, start_server, version};
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use stratus_aws::sigv4::{Credentials, Signer};

/// Builds request `i`: extra headers, path and body.
type MakeRequest = Arc<dyn Fn(usize) -> (Vec<(String, String)>, String, Vec<u8>) + Send + Sync>;

struct Target {
    addr: String,
    signer: Option<Signer>,
}

/// One producer: a keep-alive HTTP/1.1 connection sending requests built
/// by `make(i)` for the indexes it takes from `next`.
async fn producer(
    target: Arc<Target>,
    next: Arc<AtomicUsize>,
    total: usize,
    make: MakeRequest,
) -> Result<usize> {
    let stream = tokio::net::TcpStream::connect(&target.addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut done = 0;
    loop {
        let i = next.fetch_add(1, Ordering::AcqRel);
        if i >= total {
            return Ok(done);
        }
        let (extra, path, body) = make(i);
        let uri: http::Uri = format!("http://{}{}", target.addr, path).parse()?;
        let mut headers = http::HeaderMap::new();
        for (k, v) in &extra {
            headers.insert(
                http::HeaderName::from_bytes(k.as_bytes())?,
                http::HeaderValue::from_str(v)?,
            );
        }
        if let Some(signer) = &target.signer {
            signer.sign("POST", &uri, &mut headers, &body, chrono::Utc::now())?;
        } else {
            headers.insert(
                http::header::HOST,
                http::HeaderValue::from_str(&target.addr)?,
            );
        }
        let mut request = http::Request::builder()
            .method("POST")
            .uri(uri.path())
            .body(Full::new(Bytes::from(body)))?;
        *request.headers_mut() = headers;
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            bail!(
                "request {i} answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        done += 1;
    }
}

/// Runs `connections` producers for `total` requests; returns the elapsed
/// time.
fn produce(
    rt: &tokio::runtime::Runtime,
    target: Target,
    connections: usize,
    total: usize,
    make: MakeRequest,
) -> Result<Duration> {
    let target = Arc::new(target);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..connections {
            tasks.push(tokio::spawn(producer(
                target.clone(),
                next.clone(),
                total,
                make.clone(),
            )));
        }
        for task in tasks {
            task.await.context("producer task")??;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(started.elapsed())
}

fn admin_signer(stratus: &Stratus, service: &str) -> Result<Signer> {
    let text = std::fs::read_to_string(stratus._dir.0.join("data").join("credentials"))
        .context("read the admin key")?;
    let mut key_id = None;
    let mut secret = None;
    for line in text.lines() {
        let line = line.trim().trim_start_matches("export ");
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().trim_matches('"').trim_matches('\'').to_string();
            match k.trim() {
                "aws_access_key_id" | "AWS_ACCESS_KEY_ID" => key_id = Some(v),
                "aws_secret_access_key" | "AWS_SECRET_ACCESS_KEY" => secret = Some(v),
                _ => {}
            }
        }
    }
    Ok(Signer {
        credentials: Credentials {
            key_id: key_id.context("no access key id in <data>/credentials")?,
            secret: secret.context("no secret in <data>/credentials")?,
            session_token: None,
        },
        region: "us-east-1".into(),
        service: service.into(),
    })
}

fn sqs_call(
    stratus: &Stratus,
    signer: &Signer,
    op: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let target = Target {
        addr: stratus.api.clone(),
        signer: Some(signer.clone()),
    };
    let out = Arc::new(std::sync::Mutex::new(serde_json::Value::Null));
    let result = out.clone();
    let op = op.to_string();
    rt.block_on(async move {
        let stream = tokio::net::TcpStream::connect(&target.addr).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let bytes = serde_json::to_vec(&body)?;
        let uri: http::Uri = format!("http://{}/", target.addr).parse()?;
        let mut headers = http::HeaderMap::new();
        headers.insert("content-type", "application/x-amz-json-1.0".parse()?);
        headers.insert("x-amz-target", format!("AmazonSQS.{op}").parse()?);
        if let Some(signer) = &target.signer {
            signer.sign("POST", &uri, &mut headers, &bytes, chrono::Utc::now())?;
        }
        let mut request = http::Request::builder()
            .method("POST")
            .uri("/")
            .body(Full::new(Bytes::from(bytes)))?;
        *request.headers_mut() = headers;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            bail!("{op}: {status} {}", String::from_utf8_lossy(&body));
        }
        if let Ok(mut slot) = result.lock() {
            *slot = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        }
        Ok::<_, anyhow::Error>(())
    })?;
    let value = out.lock().map(|v| v.clone()).unwrap_or_default();
    Ok(value)
}

fn queue_left(stratus: &Stratus, signer: &Signer, queue: &str) -> Result<u64> {
    let url = format!("http://{}/000000000000/{queue}", stratus.api);
    let answer = sqs_call(
        stratus,
        signer,
        "GetQueueAttributes",
        serde_json::json!({"QueueUrl": url, "AttributeNames": ["All"]}),
    )?;
    let n = |k: &str| {
        answer["Attributes"][k]
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(n("ApproximateNumberOfMessages")
        + n("ApproximateNumberOfMessagesNotVisible")
        + n("ApproximateNumberOfMessagesDelayed"))
}

fn send_batch_maker(api: String, queue: &str) -> MakeRequest {
    let url = format!("http://{api}/000000000000/{queue}");
    Arc::new(move |i| {
        let entries: Vec<serde_json::Value> = (0..10)
            .map(|j| serde_json::json!({"Id": j.to_string(), "MessageBody": format!("message {i}-{j}")}))
            .collect();
        let body = serde_json::json!({"QueueUrl": url, "Entries": entries});
        (
            vec![
                ("content-type".into(), "application/x-amz-json-1.0".into()),
                ("x-amz-target".into(), "AmazonSQS.SendMessageBatch".into()),
            ],
            "/".into(),
            serde_json::to_vec(&body).unwrap_or_default(),
        )
    })
}

/// Queue → function for one consumer; returns (messages/s end to end,
/// messages/s of the sends alone).
fn queue_run(
    args: &Args,
    runtime: &str,
    manifest_function: &str,
    messages: usize,
) -> Result<(f64, f64)> {
    let runtimes = args
        .runtimes_dir
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from("target/stratus-test-runtimes"));
    let runtimes = std::path::absolute(runtimes)?;
    let stratus: Stratus = start_server(
        args,
        bench_dir()?,
        &[std::ffi::OsStr::new("--runtimes-dir"), runtimes.as_os_str()],
    )?;
    let signer = admin_signer(&stratus, "sqs")?;
    let queue = format!("bench-{runtime}");
    sqs_call(
        &stratus,
        &signer,
        "CreateQueue",
        serde_json::json!({"QueueName": queue, "Attributes": {"VisibilityTimeout": "60"}}),
    )?;
    stratus.deploy(
        args,
        runtime,
        &format!("service: qbench\nfunctions:\n{manifest_function}    events:\n      - sqs: {{arn: {queue}, batchSize: 10, maximumConcurrency: {}}}\n", args.queue_pollers),
    )?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let started = Instant::now();
    let send_time = produce(
        &rt,
        Target {
            addr: stratus.api.clone(),
            signer: Some(signer.clone()),
        },
        args.queue_connections,
        messages / 10,
        send_batch_maker(stratus.api.clone(), &queue),
    )?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if queue_left(&stratus, &signer, &queue)? == 0 {
            break;
        }
        if Instant::now() > deadline {
            bail!("queue {queue} did not drain in 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let total = started.elapsed();
    Ok((
        messages as f64 / total.as_secs_f64(),
        messages as f64 / send_time.as_secs_f64(),
    ))
}

fn baseline_rate(args: &Args, requests: usize, make: MakeRequest) -> Result<f64> {
    let port = free_port()?;
    let me = std::env::current_exe()?;
    let child = Command::new(me)
        .args(["baseline", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .spawn()?;
    let _proc = Proc {
        child,
        name: "baseline",
    };
    let addr = format!("127.0.0.1:{port}");
    super::wait_ready(&addr, "/")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let elapsed = produce(
        &rt,
        Target { addr, signer: None },
        args.queue_connections,
        requests,
        make,
    )?;
    Ok(requests as f64 / elapsed.as_secs_f64())
}

fn async_run(args: &Args, component: &std::path::Path, invocations: usize) -> Result<(f64, f64)> {
    let stratus: Stratus = start_server(args, bench_dir()?, &[])?;
    stratus.deploy(
        args,
        "async",
        &format!(
            "service: abench\nfunctions:\n  target:\n    handler: {}\n",
            component.display()
        ),
    )?;
    let signer = admin_signer(&stratus, "lambda")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let started = Instant::now();
    let make: MakeRequest = Arc::new(|i| {
        (
            vec![("x-amz-invocation-type".into(), "Event".into())],
            "/2015-03-31/functions/target/invocations".into(),
            format!("{{\"n\": {i}}}").into_bytes(),
        )
    });
    let accept = produce(
        &rt,
        Target {
            addr: stratus.api.clone(),
            signer: Some(signer),
        },
        args.queue_connections,
        invocations,
        make,
    )?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (status, body) = super::get_blocking(&stratus.api, "/v1/stats", Some(&stratus.token))?;
        if status != 200 {
            bail!("stats answered {status}");
        }
        let stats: serde_json::Value = serde_json::from_str(&body)?;
        if stats["asyncInvocations"]["pending"].as_u64() == Some(0) {
            break;
        }
        if Instant::now() > deadline {
            bail!("the asynchronous queue did not drain in 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let total = started.elapsed();
    Ok((
        invocations as f64 / total.as_secs_f64(),
        invocations as f64 / accept.as_secs_f64(),
    ))
}

pub(super) fn run(args: &Args) -> Result<()> {
    let testbed = args
        .queue_component
        .canonicalize()
        .context("find the testbed component (fixtures/build.sh builds it)")?;
    let python_dir = args
        .fixtures
        .join("python")
        .canonicalize()
        .context("find fixtures/lambda/python")?;
    let n = args.queue_messages;
    println!(
        "## Queues and asynchronous invocation ({})\n",
        version(&args.stratus)
    );
    println!(
        "`scripts/bench.sh --queues --queue-messages {n} --queue-connections {} --queue-pollers {}`; every commit durable (SQLite `synchronous=FULL`).\n",
        args.queue_connections, args.queue_pollers
    );
    let baseline = baseline_rate(
        args,
        n / 10,
        send_batch_maker("127.0.0.1:1".into(), "bench"),
    )?;
    let (wasm_e2e, wasm_send) = queue_run(
        args,
        "wasm",
        &format!(
            "  consumer:\n    handler: {}\n    timeout: 10\n",
            testbed.display()
        ),
        n,
    )?;
    let python_n = (n / 5).max(100);
    let (py_e2e, py_send) = queue_run(
        args,
        "python",
        &format!(
            "  consumer:\n    runtime: python3.11\n    handler: app.sqs_batch\n    package: {}\n    timeout: 10\n",
            python_dir.display()
        ),
        python_n,
    )?;
    let (async_e2e, async_accept) = async_run(args, &testbed, n / 5)?;
    println!(
        "| measurement | messages | msg/s end to end | msg/s of sends alone | baseline (hyper, same requests) | ratio of sends to baseline |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let base_msgs = baseline * 10.0;
    println!(
        "| queue → wasm function, batch 10 | {n} | {wasm_e2e:.0} | {wasm_send:.0} | {base_msgs:.0} | {:.2} |",
        wasm_send / base_msgs
    );
    println!(
        "| queue → Python function, batch 10 | {python_n} | {py_e2e:.0} | {py_send:.0} | {base_msgs:.0} | {:.2} |",
        py_send / base_msgs
    );
    println!(
        "| async `Event` invoke → wasm function | {} | {async_e2e:.0} | {async_accept:.0} (202s) | {baseline:.0} (requests/s) | {:.2} |",
        n / 5,
        async_accept / baseline
    );
    Ok(())
}

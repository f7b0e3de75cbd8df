//! The Runtime API listener and network isolation.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

use stratus_sandbox::Exit;

use crate::util::{collect, host, program};

/// Accepts one connection on `listener`, reads a line, answers "pong".
async fn serve_one(listener: TcpListener) -> String {
    tokio::task::spawn_blocking(move || {
        listener.set_nonblocking(false).expect("blocking");
        let (stream, _) = listener.accept().expect("accept");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut line = String::new();
        reader.read_line(&mut line).expect("read a line");
        (&stream).write_all(b"pong\n").expect("answer");
        line
    })
    .await
    .expect("accept thread")
}

const CLIENT: &str = "addr=$AWS_LAMBDA_RUNTIME_API; \
    exec 3<>/dev/tcp/${addr%:*}/${addr#*:} || exit 7; \
    echo \"hello $addr\" >&3; read -r reply <&3; echo \"got $reply\"";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_in_an_isolated_network() {
    let Some(host) = host() else { return };
    let mut spec = program("/bin/bash", &["-c", CLIENT]);
    spec.isolate_network = true;
    spec.listener_env = Some("AWS_LAMBDA_RUNTIME_API".into());
    let mut sandbox = host.spawn(spec).expect("spawn");
    let listener = sandbox.listener.take().expect("a listener");
    assert_eq!(
        listener.local_addr().expect("addr").to_string(),
        "127.0.0.1:9001"
    );
    let server = tokio::spawn(serve_one(listener));
    let out = collect(sandbox).await;
    assert_eq!(server.await.expect("server"), "hello 127.0.0.1:9001\n");
    assert_eq!(out.exit, Exit::Code(0), "{out:?}");
    assert_eq!(out.stdout, "got pong\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_on_the_host_network() {
    let Some(host) = host() else { return };
    let mut spec = program("/bin/bash", &["-c", CLIENT]);
    spec.isolate_network = false;
    spec.listener_env = Some("AWS_LAMBDA_RUNTIME_API".into());
    let mut sandbox = host.spawn(spec).expect("spawn");
    let listener = sandbox.listener.take().expect("a listener");
    let addr = listener.local_addr().expect("addr");
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    let server = tokio::spawn(serve_one(listener));
    let out = collect(sandbox).await;
    assert_eq!(server.await.expect("server"), format!("hello {addr}\n"));
    assert_eq!(out.stdout, "got pong\n", "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolated_network_cannot_reach_the_host() {
    let Some(host) = host() else { return };
    let outside = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = outside.local_addr().expect("addr").port();
    let script = format!(
        "if exec 3<>/dev/tcp/127.0.0.1/{port}; then echo connected; else echo refused; fi 2>/dev/null; \
         grep -c : /proc/net/dev"
    );
    let mut spec = program("/bin/bash", &["-c", &script]);
    spec.isolate_network = true;
    let out = collect(host.spawn(spec).expect("spawn")).await;
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"refused"), "{out:?}");
    assert_eq!(lines.get(1), Some(&"1"), "only lo exists: {out:?}");

    let mut spec = program("/bin/bash", &["-c", &script]);
    spec.isolate_network = false;
    let out = collect(host.spawn(spec).expect("spawn")).await;
    assert!(
        out.stdout.starts_with("connected\n"),
        "shared network reaches the host: {out:?}"
    );
}

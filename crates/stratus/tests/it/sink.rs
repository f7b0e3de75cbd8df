//! A tiny HTTP server on 127.0.0.1 that records the bodies POSTed to it
//! (what functions forward with the testbed's `SINK_URL`), answering 200.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running sink; stops with the test process.
pub struct Sink {
    pub url: String,
    pub host_port: String,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl Sink {
    pub fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind sink");
        let addr = listener.local_addr().expect("sink addr");
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let shared = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Sink {
            url: format!("http://{addr}/sink"),
            host_port: addr.to_string(),
            bodies,
        }
    }

    /// The bodies received so far.
    pub fn bodies(&self) -> Vec<String> {
        self.bodies.lock().map(|b| b.clone()).unwrap_or_default()
    }

    /// Waits until `done(bodies)` holds, or panics after `timeout`.
    pub fn wait_for(
        &self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let bodies = self.bodies();
            if done(&bodies) {
                return bodies;
            }
            assert!(
                Instant::now() < deadline,
                "sink: timed out waiting for {what}; got {} bodies: {:?}",
                bodies.len(),
                bodies.iter().take(5).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The SQS message bodies of every SQS event received.
    pub fn sqs_bodies(&self) -> Vec<String> {
        let mut out = Vec::new();
        for body in self.bodies() {
            let Ok(value) = serde_json::from_str::<serde_json::Value>(&body) else {
                continue;
            };
            for record in value["Records"].as_array().cloned().unwrap_or_default() {
                if let Some(text) = record["body"].as_str() {
                    out.push(text.to_string());
                }
            }
        }
        out
    }
}

fn serve(stream: TcpStream, bodies: &Mutex<Vec<String>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if let Ok(mut all) = bodies.lock() {
            all.push(String::from_utf8_lossy(&body).into_owned());
        }
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .is_err()
        {
            return;
        }
    }
}

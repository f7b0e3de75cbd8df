//! Guest stdout and stderr, captured per request as log lines.
//!
//! Both streams share one buffer so their lines keep their order. Output past
//! the cap is dropped (and noted), never turned into a trap: a chatty
//! function must not fail because of its logging.

use bytes::Bytes;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use stratus_engine::records::LogStream;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

#[derive(Default)]
struct Shared {
    /// Chunks in arrival order, tagged by stream.
    chunks: Vec<(LogStream, Vec<u8>)>,
    bytes: usize,
    dropped: usize,
}

/// One stream's writer into the shared buffer.
#[derive(Clone)]
pub struct LineCapture {
    shared: Arc<Mutex<Shared>>,
    stream: LogStream,
    cap: usize,
}

impl LineCapture {
    /// A stdout capture keeping at most `cap` bytes in all.
    pub fn new(cap: usize) -> LineCapture {
        LineCapture {
            shared: Arc::new(Mutex::new(Shared::default())),
            stream: LogStream::Stdout,
            cap,
        }
    }

    /// The stderr writer sharing this buffer.
    pub fn sibling(&self) -> LineCapture {
        LineCapture {
            shared: self.shared.clone(),
            stream: LogStream::Stderr,
            cap: self.cap,
        }
    }

    fn push(&self, data: &[u8]) {
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        let room = self.cap.saturating_sub(shared.bytes);
        let kept = data.len().min(room);
        shared.dropped += data.len() - kept;
        if kept == 0 {
            return;
        }
        shared.bytes += kept;
        let data = &data[..kept];
        match shared.chunks.last_mut() {
            Some((stream, buf)) if *stream == self.stream && buf.last() != Some(&b'\n') => {
                buf.extend_from_slice(data)
            }
            _ => shared.chunks.push((self.stream, data.to_vec())),
        }
    }

    /// Moves the captured output, split into lines, into `out`.
    pub fn drain_lines(&self, out: &mut Vec<(LogStream, String)>) {
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        for (stream, buf) in shared.chunks.drain(..) {
            let text = String::from_utf8_lossy(&buf);
            for line in text.split('\n') {
                let line = line.strip_suffix('\r').unwrap_or(line);
                if !line.is_empty() {
                    out.push((stream, line.to_string()));
                }
            }
        }
        if shared.dropped > 0 {
            out.push((
                LogStream::Platform,
                format!("log output truncated: {} bytes dropped", shared.dropped),
            ));
            shared.dropped = 0;
        }
    }
}

impl IsTerminal for LineCapture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LineCapture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for LineCapture {
    async fn ready(&mut self) {}
}

impl OutputStream for LineCapture {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for LineCapture {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaves_and_truncates() {
        let out = LineCapture::new(20);
        let err = out.sibling();
        out.push(b"one\ntw");
        err.push(b"E\n");
        out.push(b"o\nthree and more than fits\n");
        let mut lines = Vec::new();
        out.drain_lines(&mut lines);
        let texts: Vec<_> = lines.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(texts[0], "one");
        assert_eq!(texts[1], "tw");
        assert_eq!(lines[2], (LogStream::Stderr, "E".to_string()));
        assert_eq!(texts[3], "o");
        assert!(
            texts
                .last()
                .is_some_and(|l| l.starts_with("log output truncated"))
        );
    }
}

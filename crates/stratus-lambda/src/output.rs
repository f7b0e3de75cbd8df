//! An instance's stdout and stderr, split into log lines.
//!
//! Reader tasks collect lines as they arrive; at the end of an invocation the
//! engine takes them all, after reading whatever is still in the pipes, so a
//! line printed before the response is never attributed to the next call.

use std::io::ErrorKind;
use std::sync::{Arc, Mutex, MutexGuard};
use stratus_engine::records::LogStream;
use tokio::net::unix::pipe;

/// Longest kept line; longer lines are cut (CloudWatch's event limit is 256 KiB).
const MAX_LINE: usize = 256 * 1024;
/// Lines kept between two takes; more are counted and reported as dropped.
const MAX_LINES: usize = 10_000;

struct Stream {
    kind: LogStream,
    pipe: pipe::Receiver,
}

#[derive(Default)]
struct Buffer {
    lines: Vec<(LogStream, String)>,
    partial: [Vec<u8>; 2],
    dropped: usize,
}

/// The captured output of one instance.
pub struct Output {
    streams: Vec<Stream>,
    buffer: Mutex<Buffer>,
}

impl Output {
    /// Starts reading the given pipes; returns the shared output and the
    /// reader tasks (abort them when the instance goes away).
    pub fn start(
        pipes: Vec<(LogStream, std::fs::File)>,
    ) -> std::io::Result<(Arc<Output>, Vec<tokio::task::JoinHandle<()>>)> {
        let mut streams = Vec::new();
        for (kind, file) in pipes {
            streams.push(Stream {
                kind,
                pipe: pipe::Receiver::from_file(file)?,
            });
        }
        let output = Arc::new(Output {
            streams,
            buffer: Mutex::new(Buffer::default()),
        });
        let tasks = (0..output.streams.len())
            .map(|index| {
                let output = output.clone();
                tokio::spawn(async move { output.read_loop(index).await })
            })
            .collect();
        Ok((output, tasks))
    }

    fn lock(&self) -> MutexGuard<'_, Buffer> {
        self.buffer.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn read_loop(&self, index: usize) {
        loop {
            if self.streams[index].pipe.readable().await.is_err() {
                return;
            }
            if !self.pump(index) {
                let mut buffer = self.lock();
                flush_partial(&mut buffer, index, self.streams[index].kind);
                return;
            }
        }
    }

    /// Reads what is available on one pipe without waiting. Returns false at
    /// end of file.
    fn pump(&self, index: usize) -> bool {
        let stream = &self.streams[index];
        let mut chunk = [0u8; 16 * 1024];
        let mut buffer = self.lock();
        loop {
            match stream.pipe.try_read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => push_bytes(&mut buffer, index, stream.kind, &chunk[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
    }

    /// Takes every complete line so far, after draining the pipes.
    pub fn take(&self) -> Vec<(LogStream, String)> {
        for index in 0..self.streams.len() {
            self.pump(index);
        }
        let mut buffer = self.lock();
        let mut lines = std::mem::take(&mut buffer.lines);
        if buffer.dropped > 0 {
            lines.push((
                LogStream::Stderr,
                format!(
                    "[stratus] {} log lines dropped (over {MAX_LINES} per invocation)",
                    buffer.dropped
                ),
            ));
            buffer.dropped = 0;
        }
        lines
    }

    /// Takes everything, including an unterminated last line (the process is gone).
    pub fn take_all(&self) -> Vec<(LogStream, String)> {
        for index in 0..self.streams.len() {
            self.pump(index);
            let mut buffer = self.lock();
            flush_partial(&mut buffer, index, self.streams[index].kind);
        }
        self.take()
    }
}

fn push_line(buffer: &mut Buffer, kind: LogStream, mut line: &[u8]) {
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    if buffer.lines.len() >= MAX_LINES {
        buffer.dropped += 1;
        return;
    }
    let cut = &line[..line.len().min(MAX_LINE)];
    buffer
        .lines
        .push((kind, String::from_utf8_lossy(cut).into_owned()));
}

fn push_bytes(buffer: &mut Buffer, index: usize, kind: LogStream, mut bytes: &[u8]) {
    while let Some(newline) = bytes.iter().position(|&b| b == b'\n') {
        let (head, tail) = bytes.split_at(newline);
        if buffer.partial[index].is_empty() {
            push_line(buffer, kind, head);
        } else {
            let mut line = std::mem::take(&mut buffer.partial[index]);
            line.extend_from_slice(head);
            push_line(buffer, kind, &line);
        }
        bytes = &tail[1..];
    }
    let partial = &mut buffer.partial[index];
    let room = (MAX_LINE + 1).saturating_sub(partial.len());
    partial.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

fn flush_partial(buffer: &mut Buffer, index: usize, kind: LogStream) {
    if !buffer.partial[index].is_empty() {
        let line = std::mem::take(&mut buffer.partial[index]);
        push_line(buffer, kind, &line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_across_chunks() {
        let mut buffer = Buffer::default();
        push_bytes(&mut buffer, 0, LogStream::Stdout, b"one\ntw");
        push_bytes(&mut buffer, 0, LogStream::Stdout, b"o\r\nthree");
        flush_partial(&mut buffer, 0, LogStream::Stdout);
        let lines: Vec<_> = buffer.lines.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(lines, ["one", "two", "three"]);
    }

    #[test]
    fn long_lines_are_cut() {
        let mut buffer = Buffer::default();
        let long = vec![b'x'; MAX_LINE * 2];
        push_bytes(&mut buffer, 1, LogStream::Stderr, &long);
        push_bytes(&mut buffer, 1, LogStream::Stderr, b"\n");
        assert_eq!(buffer.lines.len(), 1);
        assert_eq!(buffer.lines[0].1.len(), MAX_LINE);
    }
}

//! Helpers shared by the tests: raw requests, times, bodies.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use chrono::{DateTime, NaiveDateTime, Utc};
use http::request::Parts;
use http_body::{Body, Frame};

pub use stratus_aws::sigv4::sha256_hex;

/// `20150830T123600Z` as a time.
pub fn at(amz_date: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .unwrap_or_else(|e| panic!("time `{amz_date}`: {e}"))
        .and_utc()
}

/// Expands `${repeat:<char>:<count>}` into `count` times the byte `char`.
pub fn expand(body: &[u8]) -> Vec<u8> {
    const OPEN: &[u8] = b"${repeat:";
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i..].starts_with(OPEN) {
            let rest = &body[i + OPEN.len()..];
            let close = rest
                .iter()
                .position(|&b| b == b'}')
                .expect("an unclosed ${repeat:...}");
            let spec = std::str::from_utf8(&rest[..close]).expect("macro is UTF-8");
            let (byte, count) = spec.split_once(':').expect("${repeat:<char>:<count>}");
            assert_eq!(byte.len(), 1, "one byte to repeat: `{spec}`");
            let count: usize = count.parse().expect("a count");
            out.extend(std::iter::repeat_n(byte.as_bytes()[0], count));
            i += OPEN.len() + close + 1;
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    out
}

/// Parses a raw HTTP/1.1 request: request line, `Name: value` headers (in
/// order, repeated names kept), an empty line, the body verbatim. With
/// `crlf_body`, the body's LFs become CRLFs (`aws-chunked` framing) before
/// `${repeat:...}` is expanded.
pub fn parse_raw_request(raw: &[u8], crlf_body: bool) -> (Parts, Vec<u8>) {
    let (head, body) = match raw.windows(2).position(|w| w == b"\n\n") {
        Some(p) => (&raw[..p], &raw[p + 2..]),
        None => {
            let p = raw
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .unwrap_or(raw.len());
            (&raw[..p], raw.get(p + 4..).unwrap_or_default())
        }
    };
    let head = std::str::from_utf8(head).expect("the request head is UTF-8");
    let mut lines = head.lines().map(|l| l.trim_end_matches('\r'));
    let request_line = lines.next().expect("a request line");
    let mut words = request_line.split(' ');
    let (Some(method), Some(target), Some(_version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        panic!("request line `{request_line}`");
    };
    let mut builder = http::Request::builder().method(method).uri(target);
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("header line `{line}`"));
        builder = builder.header(name.trim(), value.trim());
    }
    let body = if crlf_body {
        let mut crlf = Vec::with_capacity(body.len());
        for &b in body {
            if b == b'\n' {
                crlf.push(b'\r');
            }
            crlf.push(b);
        }
        crlf
    } else {
        body.to_vec()
    };
    let (parts, ()) = builder.body(()).expect("a valid request").into_parts();
    (parts, expand(&body))
}

/// A body that yields the given pieces, then ends (or fails).
pub struct Pieces {
    pieces: VecDeque<Bytes>,
    fail_at_end: bool,
}

impl Pieces {
    pub fn new(data: &[u8], piece: usize) -> Pieces {
        Pieces {
            pieces: data
                .chunks(piece.max(1))
                .map(Bytes::copy_from_slice)
                .collect(),
            fail_at_end: false,
        }
    }

    pub fn failing(mut self) -> Pieces {
        self.fail_at_end = true;
        self
    }
}

impl Body for Pieces {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match this.pieces.pop_front() {
            Some(piece) => Poll::Ready(Some(Ok(Frame::data(piece)))),
            None if this.fail_at_end => {
                this.fail_at_end = false;
                Poll::Ready(Some(Err(std::io::Error::other("connection reset"))))
            }
            None => Poll::Ready(None),
        }
    }
}

/// Polls an always-ready body to its end: its data frames, its trailers
/// frame, or its first error (with the data before it).
pub struct Drained<E> {
    pub data: Vec<u8>,
    pub frames: usize,
    pub trailers: Option<http::HeaderMap>,
    pub error: Option<E>,
}

pub fn drain<B: Body<Data = Bytes> + Unpin>(body: &mut B) -> Drained<B::Error> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut drained = Drained {
        data: Vec::new(),
        frames: 0,
        trailers: None,
        error: None,
    };
    loop {
        match Pin::new(&mut *body).poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => {
                    drained.frames += 1;
                    drained.data.extend_from_slice(&data);
                }
                Err(frame) => drained.trailers = frame.into_trailers().ok(),
            },
            Poll::Ready(Some(Err(error))) => {
                drained.error = Some(error);
                return drained;
            }
            Poll::Ready(None) => return drained,
            Poll::Pending => panic!("an always-ready body was pending"),
        }
    }
}

/// The variant name of an error's `Debug` (`Mismatch`, `Expired`, ...).
pub fn variant<E: std::fmt::Debug>(error: &E) -> String {
    let debug = format!("{error:?}");
    debug
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or_default()
        .to_string()
}

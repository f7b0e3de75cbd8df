//! `aws-chunked` bodies: each chunk is `size;chunk-signature=sig\r\n`, the
//! data, `\r\n` (or `size\r\n data \r\n` unsigned), ending with a chunk of
//! size 0, then trailers (`x-amz-checksum-crc32:...`) and, when signed,
//! `x-amz-trailer-signature:...`, then an empty line.
//!
//! Chunk `n`'s signature signs, with the request's signing key,
//! `AWS4-HMAC-SHA256-PAYLOAD`, the request time, the scope, chunk `n-1`'s
//! signature (the request's own, the seed, for the first), the hash of
//! nothing and the chunk's hash; the trailers' signature signs
//! `AWS4-HMAC-SHA256-TRAILER`, the time, the scope, the final (empty)
//! chunk's signature and the hash of the trailers as `name:value\n` lines.
//!
//! [`ChunkDecoder`] decodes such a body incrementally, sans IO, in bounded
//! memory; [`ChunkSigner`] builds one (tests, clients).

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{EMPTY_SHA256, SigV4Error, check_signature, constant_time_eq, hmac, sha256_hex};
use crate::checksum::{Checksum, ChecksumAlgorithm};

/// The longest chunk-header or trailer line accepted, CRLF included. A
/// signed chunk header is about 100 bytes, a checksum trailer under 80.
pub const MAX_CHUNK_LINE: usize = 1024;
/// The most trailers accepted (the trailer signature aside).
pub const MAX_TRAILERS: usize = 16;

/// How an `aws-chunked` body is signed: the value of
/// `x-amz-content-sha256`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamingMode {
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: every chunk signed, no trailers.
    SignedPayload,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: every chunk and the
    /// trailers signed.
    SignedPayloadTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: nothing signed in the body,
    /// trailers (a checksum) follow.
    UnsignedPayloadTrailer,
}

impl StreamingMode {
    /// The mode `x-amz-content-sha256: value` declares, if it is one.
    pub fn from_content_sha256(value: &str) -> Option<StreamingMode> {
        match value {
            super::STREAMING_PAYLOAD => Some(StreamingMode::SignedPayload),
            super::STREAMING_PAYLOAD_TRAILER => Some(StreamingMode::SignedPayloadTrailer),
            super::STREAMING_UNSIGNED_PAYLOAD_TRAILER => {
                Some(StreamingMode::UnsignedPayloadTrailer)
            }
            _ => None,
        }
    }

    /// The `x-amz-content-sha256` value.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamingMode::SignedPayload => super::STREAMING_PAYLOAD,
            StreamingMode::SignedPayloadTrailer => super::STREAMING_PAYLOAD_TRAILER,
            StreamingMode::UnsignedPayloadTrailer => super::STREAMING_UNSIGNED_PAYLOAD_TRAILER,
        }
    }

    /// Whether chunks carry signatures.
    pub fn is_signed(self) -> bool {
        !matches!(self, StreamingMode::UnsignedPayloadTrailer)
    }

    /// Whether trailers may follow the final chunk.
    pub fn has_trailer(self) -> bool {
        !matches!(self, StreamingMode::SignedPayload)
    }
}

/// The chain of chunk signatures of one request: signs (or, for the
/// decoder, recomputes) each chunk's and the trailers' signature from the
/// previous one.
#[derive(Clone)]
pub struct ChunkSigner {
    key: [u8; 32],
    amz_date: String,
    scope: String,
    previous: String,
}

impl std::fmt::Debug for ChunkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkSigner")
            .field("amz_date", &self.amz_date)
            .field("scope", &self.scope)
            .field("previous", &self.previous)
            .finish_non_exhaustive()
    }
}

/// The trailers as the trailer signature hashes them: `name:value\n` each.
fn canonical_trailers<'a>(trailers: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (name, value) in trailers {
        out.push_str(&name.trim().to_ascii_lowercase());
        out.push(':');
        out.push_str(value.trim());
        out.push('\n');
    }
    out
}

impl ChunkSigner {
    /// The chain of a request signed at `amz_date` (`20130524T000000Z`) in
    /// `scope` (`20130524/us-east-1/s3/aws4_request`) with the signing key
    /// `signing_key` ([`super::signing_key`]) and the signature
    /// `seed_signature`.
    pub fn new(
        signing_key: [u8; 32],
        amz_date: &str,
        scope: &str,
        seed_signature: &str,
    ) -> ChunkSigner {
        ChunkSigner {
            key: signing_key,
            amz_date: amz_date.to_string(),
            scope: scope.to_string(),
            previous: seed_signature.to_ascii_lowercase(),
        }
    }

    /// The last signature of the chain.
    pub fn previous_signature(&self) -> &str {
        &self.previous
    }

    fn sign(&mut self, kind: &str, hash_lines: &str) -> String {
        let to_sign = format!(
            "{kind}\n{}\n{}\n{}\n{hash_lines}",
            self.amz_date, self.scope, self.previous
        );
        let signature = hex::encode(hmac(&self.key, to_sign.as_bytes()));
        self.previous.clone_from(&signature);
        signature
    }

    /// The signature of the next chunk, given its data's SHA-256 (hex);
    /// advances the chain.
    pub fn sign_chunk_hash(&mut self, chunk_sha256: &str) -> String {
        self.sign(
            "AWS4-HMAC-SHA256-PAYLOAD",
            &format!("{EMPTY_SHA256}\n{chunk_sha256}"),
        )
    }

    /// The signature of the next chunk, `data` (empty for the final
    /// chunk); advances the chain.
    pub fn sign_chunk(&mut self, data: &[u8]) -> String {
        self.sign_chunk_hash(&sha256_hex(data))
    }

    /// The signature of the trailers (names and values as sent, without
    /// the trailer signature); advances the chain.
    pub fn sign_trailers(&mut self, trailers: &[(&str, &str)]) -> String {
        let canonical = canonical_trailers(trailers.iter().copied());
        self.sign(
            "AWS4-HMAC-SHA256-TRAILER",
            &sha256_hex(canonical.as_bytes()),
        )
    }

    /// `data` as one signed chunk: `size;chunk-signature=sig\r\n data \r\n`.
    pub fn chunk(&mut self, data: &[u8]) -> Vec<u8> {
        let signature = self.sign_chunk(data);
        let mut out = format!("{:x};chunk-signature={signature}\r\n", data.len()).into_bytes();
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
        out
    }

    /// The signed final chunk, then `trailers` (each `name:value\r\n`) and
    /// their signature if there are any, then the closing empty line.
    pub fn final_chunk(&mut self, trailers: &[(&str, &str)]) -> Vec<u8> {
        let signature = self.sign_chunk(b"");
        let mut out = format!("0;chunk-signature={signature}\r\n").into_bytes();
        if !trailers.is_empty() {
            for (name, value) in trailers {
                out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
            }
            let signature = self.sign_trailers(trailers);
            out.extend_from_slice(format!("x-amz-trailer-signature:{signature}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// `data` as one unsigned chunk (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`):
/// `size\r\n data \r\n`.
pub fn unsigned_chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// The unsigned final chunk, `trailers` and the closing empty line.
pub fn unsigned_final_chunk(trailers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = b"0\r\n".to_vec();
    for (name, value) in trailers {
        out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// What follows the data of an `aws-chunked` body, once all of it was
/// decoded and checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Trailers {
    /// The trailers, names lower case, values trimmed, in order (the
    /// trailer signature left out).
    pub fields: Vec<(String, String)>,
    /// The checksum `x-amz-trailer` named, verified against the data:
    /// its algorithm and base64 value.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
    /// The length of the decoded data.
    pub decoded_length: u64,
}

impl Trailers {
    /// The value of the trailer `name` (lower case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Where the decoder is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a chunk-header line.
    Header,
    /// Passing `remaining` bytes of a chunk's data through.
    Data { remaining: u64 },
    /// Expecting the CRLF after a chunk's data (`cr`: the CR was seen).
    DataEnd { cr: bool },
    /// After the final chunk's header: trailer lines, then an empty line.
    Trailer { blank_seen: bool },
    /// After the closing empty line: only stray CR/LF are tolerated.
    Done,
}

struct Inner {
    mode: StreamingMode,
    signer: Option<ChunkSigner>,
    state: State,
    line: Vec<u8>,
    chunk_hash: Sha256,
    chunk_signature: String,
    checksum: Option<Checksum>,
    decoded: u64,
    expected_length: Option<u64>,
    trailers: Vec<(String, String)>,
    trailer_signature: Option<String>,
    failed: Option<SigV4Error>,
}

/// A sans-IO, incremental decoder of an `aws-chunked` body: feed it the
/// body as it arrives ([`ChunkDecoder::push`]), it returns the decoded data
/// so far; at the body's end, [`ChunkDecoder::finish`] checks what only the
/// end can tell and returns the [`Trailers`].
///
/// It checks the framing, each chunk's signature (signed modes), the
/// trailers' signature (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`), the
/// decoded length against `x-amz-decoded-content-length` and the trailing
/// checksum `x-amz-trailer` named. Its memory is bounded: one line of at
/// most [`MAX_CHUNK_LINE`] bytes, at most [`MAX_TRAILERS`] trailers; data passes
/// through, hashed incrementally.
///
/// **Data is handed over before it is verified**: a chunk's signature is
/// checked when the chunk's last byte arrives, the checksum and length at
/// the end. A consumer must commit nothing (store no object, run no
/// action) until `finish` returned `Ok`. After an error, the decoder
/// returns that error again.
pub struct ChunkDecoder {
    inner: Box<Inner>,
}

impl std::fmt::Debug for ChunkDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = &self.inner;
        f.debug_struct("ChunkDecoder")
            .field("mode", &inner.mode)
            .field("state", &inner.state)
            .field("decoded", &inner.decoded)
            .field("expected_length", &inner.expected_length)
            .field(
                "checksum",
                &inner.checksum.as_ref().map(Checksum::algorithm),
            )
            .field("failed", &inner.failed)
            .finish_non_exhaustive()
    }
}

fn malformed(message: impl Into<String>) -> SigV4Error {
    SigV4Error::MalformedBody(message.into())
}

impl ChunkDecoder {
    fn with_mode(mode: StreamingMode, signer: Option<ChunkSigner>) -> ChunkDecoder {
        ChunkDecoder {
            inner: Box::new(Inner {
                mode,
                signer,
                state: State::Header,
                line: Vec::new(),
                chunk_hash: Sha256::new(),
                chunk_signature: String::new(),
                checksum: None,
                decoded: 0,
                expected_length: None,
                trailers: Vec::new(),
                trailer_signature: None,
                failed: None,
            }),
        }
    }

    /// A decoder of signed chunks chained from `signer`'s seed
    /// (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, or `...-TRAILER` when
    /// `with_trailer`).
    pub fn signed(signer: ChunkSigner, with_trailer: bool) -> ChunkDecoder {
        let mode = if with_trailer {
            StreamingMode::SignedPayloadTrailer
        } else {
            StreamingMode::SignedPayload
        };
        ChunkDecoder::with_mode(mode, Some(signer))
    }

    /// A decoder of unsigned chunks (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`).
    pub fn unsigned() -> ChunkDecoder {
        ChunkDecoder::with_mode(StreamingMode::UnsignedPayloadTrailer, None)
    }

    /// Expects `length` bytes of decoded data
    /// (`x-amz-decoded-content-length`).
    pub fn with_decoded_length(mut self, length: u64) -> ChunkDecoder {
        self.inner.expected_length = Some(length);
        self
    }

    /// Computes `algorithm` over the data and requires the trailer
    /// `x-amz-checksum-<algorithm>` to match (what `x-amz-trailer` named).
    pub fn with_trailing_checksum(mut self, algorithm: ChecksumAlgorithm) -> ChunkDecoder {
        self.inner.checksum = Some(Checksum::new(algorithm));
        self
    }

    /// The body's signing mode.
    pub fn mode(&self) -> StreamingMode {
        self.inner.mode
    }

    /// The declared decoded length, if any.
    pub fn expected_length(&self) -> Option<u64> {
        self.inner.expected_length
    }

    /// The bytes of data decoded so far.
    pub fn decoded_length(&self) -> u64 {
        self.inner.decoded
    }

    /// Feeds the next bytes of the body; returns the data they completed
    /// (copied), possibly nothing.
    pub fn push(&mut self, input: &[u8]) -> Result<Vec<Bytes>, SigV4Error> {
        let mut out = Vec::new();
        self.feed(input, |start, end| {
            out.push(Bytes::copy_from_slice(&input[start..end]))
        })?;
        Ok(out)
    }

    /// Like [`ChunkDecoder::push`], without copying: the data returned are
    /// slices of `input`.
    pub fn push_bytes(&mut self, input: Bytes) -> Result<Vec<Bytes>, SigV4Error> {
        let mut out = Vec::new();
        self.feed(&input, |start, end| out.push(input.slice(start..end)))?;
        Ok(out)
    }

    fn feed(&mut self, input: &[u8], mut emit: impl FnMut(usize, usize)) -> Result<(), SigV4Error> {
        if let Some(error) = &self.inner.failed {
            return Err(error.clone());
        }
        let result = self.inner.feed(input, &mut emit);
        if let Err(error) = &result {
            self.inner.failed = Some(error.clone());
        }
        result
    }

    /// Ends the body: checks it ended where an `aws-chunked` body may end,
    /// then the trailers' signature, the decoded length and the trailing
    /// checksum, and returns the trailers.
    pub fn finish(self) -> Result<Trailers, SigV4Error> {
        self.inner.finish()
    }
}

impl Inner {
    fn feed(&mut self, input: &[u8], emit: &mut dyn FnMut(usize, usize)) -> Result<(), SigV4Error> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::Header | State::Trailer { .. } => {
                    let rest = &input[i..];
                    let (piece, complete) = match rest.iter().position(|&b| b == b'\n') {
                        Some(p) => (&rest[..p], true),
                        None => (rest, false),
                    };
                    if self.line.len() + piece.len() + usize::from(complete) > MAX_CHUNK_LINE {
                        return Err(malformed(format!(
                            "An aws-chunked chunk header or trailer is longer than {MAX_CHUNK_LINE} bytes"
                        )));
                    }
                    self.line.extend_from_slice(piece);
                    i += piece.len() + usize::from(complete);
                    if complete {
                        let mut line = std::mem::take(&mut self.line);
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                        self.on_line(&line)?;
                    }
                }
                State::Data { remaining } => {
                    let available = (input.len() - i) as u64;
                    let n = remaining.min(available) as usize;
                    let data = &input[i..i + n];
                    self.decoded += n as u64;
                    if let Some(expected) = self.expected_length
                        && self.decoded > expected
                    {
                        return Err(SigV4Error::IncompleteBody(format!(
                            "The aws-chunked body carries more data than its x-amz-decoded-content-length of {expected} bytes"
                        )));
                    }
                    if self.signer.is_some() {
                        self.chunk_hash.update(data);
                    }
                    if let Some(checksum) = &mut self.checksum {
                        checksum.update(data);
                    }
                    emit(i, i + n);
                    i += n;
                    let remaining = remaining - n as u64;
                    if remaining == 0 {
                        self.end_chunk_data()?;
                        self.state = State::DataEnd { cr: false };
                    } else {
                        self.state = State::Data { remaining };
                    }
                }
                State::DataEnd { cr } => {
                    let byte = input[i];
                    i += 1;
                    self.state = match (cr, byte) {
                        (false, b'\r') => State::DataEnd { cr: true },
                        (true, b'\n') => State::Header,
                        _ => {
                            return Err(malformed(
                                "An aws-chunked chunk's data is not followed by CRLF",
                            ));
                        }
                    };
                }
                State::Done => {
                    if !matches!(input[i], b'\r' | b'\n') {
                        return Err(malformed("Data follows the end of the aws-chunked body"));
                    }
                    i += 1;
                }
            }
        }
        Ok(())
    }

    /// Checks the signature of the chunk whose data just ended.
    fn end_chunk_data(&mut self) -> Result<(), SigV4Error> {
        let Some(signer) = &mut self.signer else {
            return Ok(());
        };
        let hash = hex::encode(std::mem::take(&mut self.chunk_hash).finalize());
        let expected = signer.sign_chunk_hash(&hash);
        if constant_time_eq(expected.as_bytes(), self.chunk_signature.as_bytes()) {
            Ok(())
        } else {
            Err(SigV4Error::Mismatch)
        }
    }

    fn on_line(&mut self, line: &[u8]) -> Result<(), SigV4Error> {
        let line = std::str::from_utf8(line)
            .map_err(|_| malformed("An aws-chunked chunk header or trailer is not UTF-8"))?;
        match self.state {
            State::Header => self.on_chunk_header(line),
            State::Trailer { blank_seen } => self.on_trailer(line, blank_seen),
            _ => Ok(()),
        }
    }

    fn on_chunk_header(&mut self, line: &str) -> Result<(), SigV4Error> {
        let (size, extensions) = line.split_once(';').unwrap_or((line, ""));
        let size = size.trim();
        if size.is_empty() || size.len() > 16 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malformed(format!(
                "An aws-chunked chunk header does not start with a hexadecimal size: `{}`",
                line.chars().take(40).collect::<String>()
            )));
        }
        let size = u64::from_str_radix(size, 16)
            .map_err(|_| malformed("An aws-chunked chunk size is out of range"))?;
        if self.signer.is_some() {
            let signature = extensions
                .split(';')
                .find_map(|ext| ext.trim().strip_prefix("chunk-signature="))
                .ok_or_else(|| malformed("An aws-chunked chunk header has no chunk-signature"))?;
            check_signature(signature)?;
            self.chunk_signature = signature.to_ascii_lowercase();
        }
        if size == 0 {
            // The final chunk: its (empty) data is signed too.
            self.end_chunk_data()?;
            self.state = State::Trailer { blank_seen: false };
        } else {
            self.chunk_hash = Sha256::new();
            self.state = State::Data { remaining: size };
        }
        Ok(())
    }

    fn on_trailer(&mut self, line: &str, blank_seen: bool) -> Result<(), SigV4Error> {
        if line.is_empty() {
            // Some clients send an empty line between the final chunk and
            // the trailers; the empty line after them ends the body.
            let before_trailers = self.trailers.is_empty() && self.trailer_signature.is_none();
            self.state = if self.mode.has_trailer() && before_trailers && !blank_seen {
                State::Trailer { blank_seen: true }
            } else {
                State::Done
            };
            return Ok(());
        }
        if !self.mode.has_trailer() {
            return Err(malformed(
                "The final aws-chunked chunk is not followed by an empty line",
            ));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| malformed("An aws-chunked trailer is not of the form name:value"))?;
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        if http::HeaderName::from_bytes(name.as_bytes()).is_err()
            || http::HeaderValue::from_str(value).is_err()
        {
            return Err(malformed(format!(
                "An aws-chunked trailer is not a valid header: `{name}`"
            )));
        }
        if name == "x-amz-trailer-signature" {
            if !self.mode.is_signed() || self.trailer_signature.is_some() {
                return Err(malformed("Unexpected x-amz-trailer-signature"));
            }
            check_signature(value)?;
            self.trailer_signature = Some(value.to_ascii_lowercase());
            return Ok(());
        }
        if self.trailer_signature.is_some() {
            return Err(malformed(
                "An aws-chunked trailer follows x-amz-trailer-signature",
            ));
        }
        if self.trailers.len() >= MAX_TRAILERS {
            return Err(malformed(format!(
                "An aws-chunked body has more than {MAX_TRAILERS} trailers"
            )));
        }
        self.trailers.push((name, value.to_string()));
        Ok(())
    }

    fn finish(mut self) -> Result<Trailers, SigV4Error> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        match self.state {
            State::Done => {}
            // With trailers, the body may end after the last trailer line.
            State::Trailer { .. } if self.line.is_empty() && self.mode.has_trailer() => {}
            _ => {
                return Err(SigV4Error::IncompleteBody(
                    "The aws-chunked body ended before its final chunk and trailers were complete."
                        .into(),
                ));
            }
        }
        if self.mode == StreamingMode::SignedPayloadTrailer {
            let signature = self
                .trailer_signature
                .take()
                .ok_or_else(|| malformed("The aws-chunked body has no x-amz-trailer-signature"))?;
            let Some(signer) = &mut self.signer else {
                return Err(SigV4Error::Mismatch);
            };
            let canonical =
                canonical_trailers(self.trailers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            let expected = signer.sign(
                "AWS4-HMAC-SHA256-TRAILER",
                &sha256_hex(canonical.as_bytes()),
            );
            if !constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
                return Err(SigV4Error::Mismatch);
            }
        }
        if let Some(expected) = self.expected_length
            && self.decoded != expected
        {
            return Err(SigV4Error::IncompleteBody(format!(
                "The aws-chunked body decodes to {} bytes, not the {expected} of x-amz-decoded-content-length",
                self.decoded
            )));
        }
        let mut verified = None;
        if let Some(checksum) = self.checksum {
            let algorithm = checksum.algorithm();
            let declared = self
                .trailers
                .iter()
                .find(|(n, _)| n == algorithm.header_name())
                .map(|(_, v)| v.as_str())
                .ok_or_else(|| {
                    malformed(format!(
                        "The x-amz-trailer header names {} but the body has no such trailer",
                        algorithm.header_name()
                    ))
                })?;
            let computed = checksum.finalize_base64();
            if declared != computed {
                return Err(SigV4Error::BadDigest(format!(
                    "The {} you specified did not match the calculated checksum.",
                    algorithm.name()
                )));
            }
            verified = Some((algorithm, computed));
        }
        Ok(Trailers {
            fields: self.trailers,
            checksum: verified,
            decoded_length: self.decoded,
        })
    }
}

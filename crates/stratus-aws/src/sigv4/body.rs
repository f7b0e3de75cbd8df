//! An [`http_body::Body`] that decodes an `aws-chunked` body as it streams.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame};

use super::SigV4Error;
use super::chunked::{ChunkDecoder, Trailers};

/// The error of an [`AwsChunkedBody`]: the wrapped body's, or the
/// decoder's.
#[derive(Debug, thiserror::Error)]
pub enum AwsChunkedError {
    /// Reading the wrapped body failed.
    #[error("reading the request body failed: {0}")]
    Body(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The body is not a valid `aws-chunked` body for its request: a
    /// signature, the framing, the length or the checksum.
    #[error(transparent)]
    Decode(#[from] SigV4Error),
}

impl AwsChunkedError {
    /// The decoder's error, if it is one.
    pub fn sigv4(&self) -> Option<&SigV4Error> {
        match self {
            AwsChunkedError::Decode(error) => Some(error),
            AwsChunkedError::Body(_) => None,
        }
    }
}

/// Wraps a body (with `Data = Bytes`, e.g. hyper's `Incoming`) that is
/// `aws-chunked` and yields its decoded data as data frames, then, if the
/// body had trailers, one trailers frame with them.
///
/// Decoded data is yielded **before** it is verified (a chunk's signature
/// when its last byte arrives, the length and the checksum at the end): a
/// consumer must commit nothing until the body ended (`None`) without an
/// error. [`AwsChunkedBody::trailers`] then returns what
/// [`ChunkDecoder::finish`] returned.
pub struct AwsChunkedBody<B> {
    inner: B,
    decoder: Option<ChunkDecoder>,
    ready: VecDeque<Bytes>,
    trailers: Option<Trailers>,
    ended: bool,
}

impl<B> std::fmt::Debug for AwsChunkedBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsChunkedBody")
            .field("decoder", &self.decoder)
            .field("ready", &self.ready.len())
            .field("trailers", &self.trailers)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl<B> AwsChunkedBody<B> {
    /// Decodes `inner` with `decoder` (from
    /// [`super::PayloadCheck::Chunked`]).
    pub fn new(inner: B, decoder: ChunkDecoder) -> AwsChunkedBody<B> {
        AwsChunkedBody {
            inner,
            decoder: Some(decoder),
            ready: VecDeque::new(),
            trailers: None,
            ended: false,
        }
    }

    /// The trailers, once the body ended without error.
    pub fn trailers(&self) -> Option<&Trailers> {
        self.trailers.as_ref()
    }

    fn fail(
        &mut self,
        error: AwsChunkedError,
    ) -> Poll<Option<Result<Frame<Bytes>, AwsChunkedError>>> {
        self.ended = true;
        self.decoder = None;
        self.ready.clear();
        Poll::Ready(Some(Err(error)))
    }
}

impl<B> Body for AwsChunkedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = AwsChunkedError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        loop {
            if let Some(data) = this.ready.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            if this.ended {
                return Poll::Ready(None);
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    // Transport trailers (HTTP/1.1 chunked, HTTP/2) are not
                    // the aws-chunked trailers; they are dropped.
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    let Some(decoder) = this.decoder.as_mut() else {
                        return Poll::Ready(None);
                    };
                    match decoder.push_bytes(data) {
                        Ok(pieces) => this
                            .ready
                            .extend(pieces.into_iter().filter(|p| !p.is_empty())),
                        Err(error) => return this.fail(error.into()),
                    }
                }
                Some(Err(error)) => return this.fail(AwsChunkedError::Body(error.into())),
                None => {
                    this.ended = true;
                    let Some(decoder) = this.decoder.take() else {
                        return Poll::Ready(None);
                    };
                    match decoder.finish() {
                        Ok(trailers) => {
                            let mut map = http::HeaderMap::new();
                            for (name, value) in &trailers.fields {
                                if let (Ok(name), Ok(value)) = (
                                    http::HeaderName::from_bytes(name.as_bytes()),
                                    http::HeaderValue::from_str(value),
                                ) {
                                    map.append(name, value);
                                }
                            }
                            this.trailers = Some(trailers);
                            if !map.is_empty() {
                                return Poll::Ready(Some(Ok(Frame::trailers(map))));
                            }
                            return Poll::Ready(None);
                        }
                        Err(error) => return this.fail(error.into()),
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended && self.ready.is_empty()
    }
}

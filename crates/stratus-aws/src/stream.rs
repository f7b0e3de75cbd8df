//! Request bodies a service reads as they arrive ([`Service::streams_body`]
//! (crate::Service::streams_body)), checked as they stream: an
//! `aws-chunked` body decoded and its chunk signatures, length and
//! trailing checksum verified ([`AwsChunkedBody`]); a body whose SHA-256
//! the signature declares hashed and compared at its end
//! ([`HashedBody`]); every body bounded by the service's limit. Nothing
//! holds a whole body.
//!
//! A check that fails makes the stream end with an error, the service's
//! [`AwsError`], which the service answers: a consumer must commit
//! nothing until the stream ended without one.

use crate::AwsError;
use crate::sigv4::{AwsChunkedBody, AwsChunkedError, ChunkDecoder, SigV4Error};
use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use sha2::{Digest, Sha256};
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, ready};

/// A streamed request body: data frames, then at most one trailers frame;
/// an error ends it.
pub type StreamedBody = UnsyncBoxBody<Bytes, AwsError>;

/// The body of a streamed request, for the service to take once
/// ([`crate::AwsRequest::take_stream`]).
pub struct BodyStream(Mutex<Option<StreamedBody>>);

impl BodyStream {
    pub(crate) fn new(body: StreamedBody) -> BodyStream {
        BodyStream(Mutex::new(Some(body)))
    }

    /// The body; `None` once taken.
    pub fn take(&self) -> Option<StreamedBody> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl std::fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BodyStream")
    }
}

/// How the errors of a streamed body are worded: the service's protocol
/// and its limit.
#[derive(Clone)]
pub(crate) struct Wording {
    /// A signature, framing, length or checksum failure.
    pub(crate) refused: fn(crate::Protocol, &SigV4Error) -> AwsError,
    pub(crate) protocol: crate::Protocol,
    /// The service's error for a body over its limit.
    pub(crate) too_large: AwsError,
}

impl Wording {
    /// A read error of the incoming body: over the limit, or cut.
    fn read_error(&self, error: &(dyn std::error::Error + 'static)) -> AwsError {
        if error.is::<http_body_util::LengthLimitError>() {
            return self.too_large.clone();
        }
        tracing::debug!(%error, "reading a streamed AWS request body failed");
        AwsError::sender(
            "IncompleteBody",
            "The request body could not be read to its end.",
        )
    }
}

/// The incoming body, bounded by `limit`, as a stream with the service's
/// errors, checked as [`crate::sigv4::PayloadCheck`] says.
pub(crate) fn checked<B>(body: B, limit: usize, check: Check, wording: Wording) -> StreamedBody
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limited = http_body_util::Limited::new(body, limit);
    match check {
        Check::None => {
            let wording = wording.clone();
            limited
                .map_err(move |e| wording.read_error(&*e))
                .boxed_unsync()
        }
        Check::Sha256(declared) => {
            let read = wording.clone();
            let inner = limited
                .map_err(move |e| read.read_error(&*e))
                .boxed_unsync();
            HashedBody {
                inner,
                hasher: Some(Sha256::new()),
                declared: declared.to_ascii_lowercase(),
                wording,
            }
            .boxed_unsync()
        }
        Check::Chunked(decoder) => AwsChunkedBody::new(Box::pin(limited), decoder)
            .map_err(move |e| match e {
                AwsChunkedError::Decode(error) => (wording.refused)(wording.protocol, &error),
                AwsChunkedError::Body(error) => wording.read_error(&*error),
            })
            .boxed_unsync(),
    }
}

/// What is left to check of a streamed body once its headers' signature
/// held.
pub(crate) enum Check {
    /// Nothing (`UNSIGNED-PAYLOAD`, the bearer token, an unsigned request).
    None,
    /// Its SHA-256 must be the declared one (hex).
    Sha256(String),
    /// It is `aws-chunked`.
    Chunked(ChunkDecoder),
}

/// A body hashed as it streams, whose end is an error if the hash is not
/// the declared one (`x-amz-content-sha256`).
pub struct HashedBody {
    inner: StreamedBody,
    hasher: Option<Sha256>,
    declared: String,
    wording: Wording,
}

impl Body for HashedBody {
    type Data = Bytes;
    type Error = AwsError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, AwsError>>> {
        let this = &mut *self;
        match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let (Some(data), Some(hasher)) = (frame.data_ref(), this.hasher.as_mut()) {
                    hasher.update(data);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(error)) => Poll::Ready(Some(Err(error))),
            None => {
                let matched = this
                    .hasher
                    .take()
                    .is_none_or(|hasher| hex::encode(hasher.finalize()) == this.declared);
                if matched {
                    Poll::Ready(None)
                } else {
                    Poll::Ready(Some(Err((this.wording.refused)(
                        this.wording.protocol,
                        &SigV4Error::ContentSha256Mismatch,
                    ))))
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.hasher.is_none()
    }
}

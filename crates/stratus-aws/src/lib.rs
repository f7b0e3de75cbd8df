//! The AWS protocol layer of Stratus's AWS-compatible endpoint: one router
//! in front of every service (`router.rs`), the protocols' codecs and error
//! renderers (`protocol.rs`, `error.rs`), SigV4 with presigned URLs and
//! `aws-chunked` bodies (`sigv4/`), checksums (`checksum.rs`), typed
//! requests out of JSON bodies (`decode.rs`) and out of query-protocol
//! forms (`query.rs`), and the authentication and
//! authorization hook (`auth.rs`).
//!
//! A service crate implements [`Service`] and registers itself; it never
//! writes an error body or checks a signature itself.

pub mod auth;
pub mod checksum;
pub mod decode;
pub mod error;
pub mod protocol;
pub mod query;
pub mod router;
pub mod sigv4;
pub mod stream;

pub use auth::{AccessKey, Authenticator, Authorizer, Caller, KeyStore};
pub use error::{AwsError, Fault};
pub use protocol::Protocol;
pub use router::{AwsRequest, AwsRouter, Context, Operation, Service};

//! Integration tests of `stratus-aws`.
//!
//! `cases` runs the data-driven SigV4 cases under `tests/cases/sigv4/`
//! (AWS's published examples, and refusals); the other modules test the
//! `aws-chunked` decoder, the body adapter, presigning and the checksums
//! directly.

mod cases;
mod checksum;
mod chunked;
mod presign;
mod router;
mod support;

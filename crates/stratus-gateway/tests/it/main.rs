//! Wire tests of the AWS endpoint: data-driven cases run against the
//! protocol layer's router in process, without sockets.
//!
//! Each `tests/cases/aws/<service>/<Operation>/<case>.txt` is a script of
//! exchanges, run in order against a fresh server state:
//!
//! ```text
//! >>> POST /
//! x-amz-target: AmazonSQS.CreateQueue
//! content-type: application/x-amz-json-1.0
//!
//! {"QueueName": "jobs"}
//! <<< 200
//! content-type: application/x-amz-json-1.0
//!
//! {"QueueUrl":"http://127.0.0.1:9070/000000000000/jobs"}
//! ```
//!
//! A request without an `authorization` header gets the bearer token (write
//! `authorization: none` to send none). The expected answer lists the
//! status, the headers to compare, and the body; UUIDs, receipt handles
//! and timestamps are replaced by placeholders (`<uuid>`, `<handle>`,
//! `<ms>`) before comparing. `STRATUS_BLESS=1` rewrites the expectations
//! from what the server answers.

mod wire;

//! End-to-end tests of the `stratus` binary: a real server on ephemeral
//! ports, driven through real HTTP and the real CLI.

mod harness;

mod auth;
mod deploy;
mod eventbridge;
mod events_async;
mod faults;
mod lambda_api;
mod lambda_runtime;
mod lifecycle;
mod limits;
mod queue_trigger;
mod scaling;
mod schedules;
mod sigv4;
mod sink;
mod sns;
mod sqs;

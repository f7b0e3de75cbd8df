//! Integration tests of `stratus-core`: one binary, one module per feature.
//!
//! Data-driven cases live under `tests/cases/`. Set `STRATUS_BLESS=1` to
//! rewrite the expected output of manifest cases from the current behaviour
//! (then review the diff).

mod apigw;
mod arns;
mod cases;
mod events;
mod manifest;
mod names;
mod patterns;
mod pricing;
mod route;
mod schedules;

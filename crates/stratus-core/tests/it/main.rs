//! Integration tests of `stratus-core`: one binary, one module per feature.
//!
//! Data-driven cases live under `tests/cases/`. Set `STRATUS_BLESS=1` to
//! rewrite the expected output of manifest cases from the current behaviour
//! (then review the diff).

mod apigw;
mod cases;
mod manifest;
mod patterns;
mod pricing;
mod route;
mod schedules;

#!/usr/bin/env bash
# One command: build Stratus and run it with the example app deployed, on the
# embedded store. Ctrl-C stops it.
#   ./run.sh                 # functions on :8080, control API on :9070, data in ./data
#   ./run.sh --keep-alive 60 # any `stratus dev` option
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
# The same profile as ./test.sh (dependencies optimised, Stratus's own
# crates not), so the two commands share one build of the dependencies.
# `cargo build --release` makes the binary for production and benchmarks.
cargo build --locked -p stratus
exec target/debug/stratus dev examples/hello --data-dir ./data "$@"

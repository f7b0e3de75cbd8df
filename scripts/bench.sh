#!/usr/bin/env bash
# Runs the benchmarks of BENCHMARKS.md: builds Stratus and the example
# component in release, installs `wasmtime serve` (the peer) when missing, and
# prints a Markdown report. Extra args go to stratus-bench (see --help);
# `scripts/bench.sh --lambda` measures the Lambda process runtime instead,
# `scripts/bench.sh --schedules` schedule firing jitter, `scripts/bench.sh
# --queues` queue → function and async invoke throughput.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash fixtures/build.sh >/dev/null
cargo build --release --locked -p stratus -p stratus-bench
# `--lambda` (the Lambda process runtime) and `--schedules` need no wasmtime.
for arg in "$@"; do
  if [ "$arg" = --lambda ] || [ "$arg" = --schedules ] || [ "$arg" = --queues ]; then
    exec target/release/stratus-bench "$@"
  fi
done
if ! command -v wasmtime >/dev/null 2>&1 || ! wasmtime --version | grep -q '^wasmtime 48\.'; then
  echo "bench: installing wasmtime-cli 48.0.8 (the peer baseline); this takes a while" >&2
  cargo install wasmtime-cli@48.0.8 --locked >&2
fi
exec target/release/stratus-bench --wasmtime "$(command -v wasmtime)" "$@"

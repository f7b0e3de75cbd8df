#!/usr/bin/env bash
# One command: every test of the workspace, against real servers on ephemeral
# loopback ports. Set STRATUS_SOAK=1 to also run the slow soak tests.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
bash fixtures/build.sh >/dev/null
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast "$@"
else
  cargo test --workspace --locked --no-fail-fast "$@"
fi

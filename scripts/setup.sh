#!/usr/bin/env bash
# Installs what building Stratus and its guests needs, on a fresh machine.
# Idempotent; sourced by run.sh and test.sh.
set -euo pipefail
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is required (https://rustup.rs)" >&2
  exit 1
fi
if command -v rustup >/dev/null 2>&1; then
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    echo "setup: adding the wasm32-wasip2 target" >&2
    rustup target add wasm32-wasip2 >&2
  fi
fi

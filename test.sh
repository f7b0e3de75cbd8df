#!/usr/bin/env bash
# One command: every test of the workspace, against real servers on ephemeral
# loopback ports. Set STRATUS_SOAK=1 to also run the slow soak tests.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
bash fixtures/build.sh >/dev/null
# Real AWS clients for the tests, in a venv of their own.
venv=.venv-test
if ! "$venv/bin/python" -c 'import boto3' >/dev/null 2>&1; then
  echo "test.sh: installing boto3 into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check boto3 >&2
fi
export STRATUS_TEST_PYTHON="$PWD/$venv/bin/python"
# A throwaway PostgreSQL server (installed from apt when missing) for the
# PostgreSQL backend's tests, stopped when the tests end.
if [ -z "${STRATUS_TEST_POSTGRES:-}" ]; then
  eval "$(bash scripts/postgres.sh start)"
  trap 'bash scripts/postgres.sh stop "$STRATUS_TEST_POSTGRES_DIR"' EXIT
fi
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast "$@"
else
  cargo test --workspace --locked --no-fail-fast "$@"
fi

#!/usr/bin/env bash
# Set up (venv with the bench extras, which carry everything bench/ imports; PostgreSQL
# running) and run the benchmark suite.
# Arguments go to `python -m bench`: --quick, --json, --write-results.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh bench
./scripts/ensure_postgres.sh
exec .venv/bin/python -m bench "$@"

#!/usr/bin/env bash
# Set up and run every check: ruff, mypy, import contracts, then the whole pytest suite
# on SQLite and PostgreSQL (unit, integration, end to end, browser, reliability).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh test
./scripts/ensure_postgres.sh
if [ -x scripts/setup_browser.sh ]; then ./scripts/setup_browser.sh; fi
./scripts/setup_print.sh
echo "== ruff"; .venv/bin/ruff check .
echo "== mypy"; .venv/bin/mypy
echo "== import contracts"; .venv/bin/lint-imports
echo "== pytest"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"

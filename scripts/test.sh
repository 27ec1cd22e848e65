#!/usr/bin/env bash
# Set up and run every check: ruff, mypy, import contracts, the pages' node unit tests,
# then the whole pytest suite
# on SQLite and PostgreSQL (unit, integration, end to end, browser, reliability).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh test
./scripts/ensure_postgres.sh
if [ -x scripts/setup_browser.sh ]; then ./scripts/setup_browser.sh; fi
echo "== ruff"; .venv/bin/ruff check .
echo "== mypy"; .venv/bin/mypy
echo "== import contracts"; .venv/bin/lint-imports
echo "== node (the pages' pure modules against the shared vectors)"
if ! command -v node >/dev/null 2>&1; then
  echo "node (18+) is required: apt-get install -y nodejs npm" >&2
  exit 1
fi
node --test tests/js/
echo "== pytest"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"

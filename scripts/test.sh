#!/usr/bin/env bash
# Set up and run every check: ruff, mypy, import contracts, the pages' node unit tests,
# then the whole pytest suite on SQLite and PostgreSQL (unit, integration, end to end,
# browser, reliability), the dependency audit and the bench smoke.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh "test,bench"
./scripts/ensure_postgres.sh
./scripts/ensure_redis.sh
if [ -x scripts/setup_browser.sh ]; then ./scripts/setup_browser.sh; fi
./scripts/setup_print.sh
echo "== ruff"; .venv/bin/ruff check .
echo "== mypy"; .venv/bin/mypy
echo "== import contracts"; .venv/bin/lint-imports
echo "== node (the pages' pure modules against the shared vectors)"
command -v node >/dev/null 2>&1 || ./scripts/setup_frontend.sh
node --test tests/js/
echo "== pytest"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
# Known advisories in the pinned dependencies (skips, saying so, when offline).
echo "== dependency audit"; .venv/bin/python scripts/audit.py
# Every benchmark once at a tiny size, so a broken benchmark fails here.
echo "== bench smoke"; .venv/bin/python -m bench.smoke

#!/usr/bin/env bash
# Set up and run the service on the embedded SQLite default with demo data.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
if [ -x scripts/setup_frontend.sh ]; then ./scripts/setup_frontend.sh; fi
.venv/bin/cardservice demo || true
exec .venv/bin/cardservice serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"

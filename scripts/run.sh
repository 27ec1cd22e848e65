#!/usr/bin/env bash
# Set up and run the service on the embedded SQLite default with demo data.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/setup_print.sh
if [ -x scripts/setup_frontend.sh ]; then ./scripts/setup_frontend.sh; fi
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
.venv/bin/cardservice demo --base-url "http://$HOST:$PORT"
exec .venv/bin/cardservice serve --host "$HOST" --port "$PORT"

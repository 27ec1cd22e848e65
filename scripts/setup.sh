#!/usr/bin/env bash
# Create .venv and install the project (with test tools when asked) at the versions pinned
# in constraints.txt. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
# constraints.txt pins every package exactly (scripts/freeze_constraints.sh regenerates it).
if [ -n "$extras" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[$extras]"
else
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e .
fi

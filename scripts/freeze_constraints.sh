#!/usr/bin/env bash
# Regenerate constraints.txt: install the project with every extra into a fresh venv, without
# the old constraints, and freeze what got installed (the project itself excluded).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"${PYTHON:-python3}" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
"$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check ".[test,bench]"
{
  echo "# Exact versions of every package the project installs (runtime, test and bench extras)."
  echo "# scripts/setup.sh installs with -c constraints.txt; scripts/audit.py audits these pins."
  echo "# Regenerate from a fresh venv: ./scripts/freeze_constraints.sh"
  "$tmp/venv/bin/python" -m pip freeze --exclude cardservice
} > constraints.txt
rm -rf build cardservice.egg-info
echo "constraints.txt: $(grep -vc '^#' constraints.txt) packages"

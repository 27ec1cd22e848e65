#!/usr/bin/env bash
# Make the browser tests runnable: Debian's Chromium and Playwright for Python in .venv.
# Playwright drives /usr/bin/chromium; it never downloads a browser of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null
fi
if [ -x .venv/bin/python ] && ! .venv/bin/python -c "import playwright" 2>/dev/null; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "playwright>=1.45,<2"
fi
# The pages' scripts (and axe-core for the accessibility checks) come from npm.
./scripts/setup_frontend.sh

#!/usr/bin/env bash
# The printed card's parts: a CJK font for fpdf2 (fonts-wqy-microhei) and, for its tests,
# poppler-utils (pdftoppm renders the page so zxing can decode the QR). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] && command -v pdftoppm >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends fonts-wqy-microhei poppler-utils >/dev/null

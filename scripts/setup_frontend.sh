#!/usr/bin/env bash
# Install the pages' browser dependencies from the npm registry (package-lock.json, npm ci)
# and copy the files the pages load into cardservice/web/static/vendor/ (gitignored).
# No bundler, no build step: the copies are the packages' own ES modules and WebAssembly.
set -euo pipefail
cd "$(dirname "$0")/.."
VENDOR=cardservice/web/static/vendor
STAMP="$VENDOR/.installed-from"
want="$(sha256sum package-lock.json package.json | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -f node_modules/axe-core/axe.min.js ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  # Debian's node and npm (the pages' packages and node's own test runner need them).
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
rm -rf "$VENDOR"
mkdir -p "$VENDOR/qrcode-generator" "$VENDOR/zxing-wasm"
# CBOR is the project's own strict decoder (static/js/cbor.js): the server's rules exactly.
# qrcode-generator: QR encoder with explicit alphanumeric mode and error-correction level.
cp node_modules/qrcode-generator/dist/qrcode.mjs node_modules/qrcode-generator/package.json \
  "$VENDOR/qrcode-generator/"
# zxing-wasm: ZXing-C++ QR reader compiled to WebAssembly (served locally, never a CDN).
cp -r node_modules/zxing-wasm/dist/es "$VENDOR/zxing-wasm/es"
rm -rf "$VENDOR/zxing-wasm/es/full" "$VENDOR/zxing-wasm/es/writer"
find "$VENDOR/zxing-wasm/es" -name '*.d.ts' -delete
cp node_modules/zxing-wasm/dist/reader/zxing_reader.wasm node_modules/zxing-wasm/LICENSE \
  "$VENDOR/zxing-wasm/"
# Chart.js: the admin dashboard's charts, its self-contained UMD build (a classic script).
mkdir -p "$VENDOR/chart.js"
cp node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/LICENSE.md "$VENDOR/chart.js/"
echo "$want" > "$STAMP"

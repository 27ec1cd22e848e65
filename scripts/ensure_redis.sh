#!/usr/bin/env bash
# Make sure Redis answers on 127.0.0.1:6379 (the shared rate-limit tests use it, and some
# tests start their own redis-server): install redis-server with apt-get if it is missing,
# start it if it does not answer. Under CI (CI=true) an unreachable Redis is a failure;
# elsewhere its tests are skipped with a reason.
set -uo pipefail
ready() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]
  else
    python3 - <<'PY' 2>/dev/null
import socket
s = socket.create_connection(("127.0.0.1", 6379), 2)
s.sendall(b"PING\r\n")
assert s.recv(16).startswith(b"+PONG")
PY
  fi
}
if ready; then exit 0; fi
if ! command -v redis-server >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
  $SUDO apt-get install -y -qq redis-server >/dev/null 2>&1 || \
    { $SUDO apt-get update -qq >/dev/null 2>&1 && \
      $SUDO apt-get install -y -qq redis-server >/dev/null 2>&1; } || true
fi
if command -v redis-server >/dev/null 2>&1; then
  # No persistence: the only state is rate-limit buckets that expire within seconds.
  redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --daemonize yes \
    --dir "${TMPDIR:-/tmp}" >/dev/null 2>&1 || true
  for _ in $(seq 1 30); do ready && exit 0; sleep 0.2; done
fi
if [ "${CI:-}" = "true" ]; then
  echo "Redis is not reachable on 127.0.0.1:6379 (required under CI)" >&2
  exit 1
fi
echo "warning: Redis is not reachable; its tests will be skipped" >&2
exit 0

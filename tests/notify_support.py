"""A real local HTTP receiver standing in for the messaging gateway (127.0.0.1, a thread).

`behaviour(n, body, key)` decides each answer from the request number `n` (1-based), so a
test can refuse the first requests, or half of them, and still read every request kept.
Besides real HTTP statuses it may answer LOST (acted on, then the answer is lost: a 502),
SLOW (acted on, answered only after `slow_seconds`: beyond the sender's timeout) or DROP
(the connection is closed without any answer, nothing acted on).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Behaviour = Callable[[int, dict[str, Any], str], int]
LOST = 599
SLOW = 597
DROP = 596


def always_ok(n: int, body: dict[str, Any], key: str) -> int:
    return 200


@dataclass
class Receiver:
    behaviour: Behaviour = always_ok
    requests: list[tuple[str, dict[str, Any], int]] = field(default_factory=list)
    """(Idempotency-Key, body, status answered) of every request, in arrival order."""
    processed: list[str] = field(default_factory=list)
    """Keys of the requests the gateway acted on (2xx, or a lost answer: 599)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    slow_seconds: float = 1.0

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/notify"

    def start(self, port: int = 0) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                key = self.headers.get("Idempotency-Key", "")
                with receiver.lock:
                    n = len(receiver.requests) + 1
                    status = receiver.behaviour(n, body, key)
                    receiver.requests.append((key, body, status))
                    if 200 <= status < 300 or status in (LOST, SLOW):
                        receiver.processed.append(key)
                if status == DROP:  # no answer: the server closes the connection
                    self.close_connection = True
                    return
                if status == SLOW:
                    time.sleep(receiver.slow_seconds)
                    status = 200
                if status == LOST:  # acted on, then the answer was lost
                    status = 502
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the sender gave up waiting (SLOW)
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def delivered_keys(self) -> list[str]:
        with self.lock:
            return [k for k, _, s in self.requests if 200 <= s < 300]

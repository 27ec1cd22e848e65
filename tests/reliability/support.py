"""Real servers and real sockets for the reliability suite: uvicorn in a thread, a TCP proxy
that can drop a reply, and `--long` sizes.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(app: Any) -> Iterator[str]:
    """Serve an ASGI app over real HTTP on 127.0.0.1 (its lifespan runs); yields its URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the server thread died"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def _read_response(upstream: socket.socket) -> bytes:
    """One whole HTTP/1.1 response with a Content-Length (what our JSON endpoints send)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = upstream.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = upstream.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class DroppingProxy:
    """A TCP proxy in front of a server. `drop(n)` makes the next n exchanges lose their
    reply: the request reaches the server, the server commits and answers, the proxy reads
    the whole answer and then resets the client's connection instead of passing it on.

    One request per connection (the proxy closes after each reply), so each exchange is
    unambiguous; clients reconnect, as they would through a real load balancer.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self._to_drop = 0
        self.dropped: list[bytes] = []
        self.passed = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def drop(self, count: int = 1) -> None:
        with self._lock:
            self._to_drop += count

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._exchange, args=(client,), daemon=True).start()

    def _exchange(self, client: socket.socket) -> None:
        with client, socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
            client.settimeout(30)
            upstream.settimeout(60)
            request = _read_request(client)
            if not request:
                return
            upstream.sendall(request)
            response = _read_response(upstream)
            with self._lock:
                drop = self._to_drop > 0
                if drop:
                    self._to_drop -= 1
            if drop:
                self.dropped.append(response)
                # RST instead of FIN: the client sees a reset connection and no reply at all.
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            head, sep, body = response.partition(b"\r\n\r\n")
            client.sendall(head + b"\r\nConnection: close" + sep + body)
            self.passed += 1

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(5)


def _read_request(client: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    lines = []
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        if name.strip().lower() not in (b"connection", b"keep-alive"):
            lines.append(line)
    while len(body) < length:
        chunk = client.recv(65536)
        if not chunk:
            break
        body += chunk
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body

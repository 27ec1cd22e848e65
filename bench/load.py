"""A small load generator in its own process: keep-alive HTTP/1.1 over raw asyncio sockets.

Much cheaper per request than an HTTP client library, so on a small machine the server,
not the load generator, is what saturates. Prints one JSON line with the counts.

    python -m bench.load HOST PORT PATH BODIES.json HEADER_JSON CONCURRENCY SECONDS
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any


async def one_connection(
    host: str,
    port: int,
    requests: list[bytes],
    offset: int,
    deadline: float,
    stats: dict[str, Any],
    latencies: list[float],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = offset
    try:
        while time.perf_counter() < deadline:
            request = requests[i % len(requests)]
            i += 1
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length) if length else b""
            latencies.append(time.perf_counter() - started)
            stats["requests"] += 1
            stats["statuses"][status] = stats["statuses"].get(status, 0) + 1
            if b'"status":"valid"' in body:
                stats["valid"] += 1
    finally:
        writer.close()


async def run(
    host: str,
    port: int,
    path: str,
    bodies: list[str],
    headers: dict[str, str],
    concurrency: int,
    seconds: float,
) -> dict[str, Any]:
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    requests = []
    for body in bodies:
        data = body.encode()
        requests.append(
            (
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\n{extra}\r\n"
            ).encode()
            + data
        )
    stats: dict[str, Any] = {"requests": 0, "valid": 0, "statuses": {}}
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(
            one_connection(host, port, requests, n * 7, deadline, stats, latencies)
            for n in range(concurrency)
        )
    )
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else 0.0

    return {
        **stats,
        "seconds": elapsed,
        "rps": stats["requests"] / elapsed,
        "p50_ms": pct(0.50) * 1000,
        "p99_ms": pct(0.99) * 1000,
    }


def main() -> None:
    host, port, path, bodies_file, headers_json, concurrency, seconds = sys.argv[1:8]
    with open(bodies_file, encoding="utf-8") as fh:
        bodies = json.load(fh)
    result = asyncio.run(
        run(
            host,
            int(port),
            path,
            bodies,
            json.loads(headers_json),
            int(concurrency),
            float(seconds),
        )
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()

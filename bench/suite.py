"""`python -m bench`: every benchmark, each ratio measured side by side in one run.

    python -m bench [--quick] [--json] [--write-results]

--quick     a reduced suite (100k cards instead of 1M; shorter rounds): under 10 minutes
--json      end the output with one JSON object: the headline ratios and the figures
--write-results  write bench/RESULTS.md, bench/results.json and the latency plot

Load always comes from a separate process (`bench.load`) against servers this run starts,
with the same settings for both sides of a ratio; ratios are taken over alternating rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import inprocess, issuance, scale
from bench import verify as verify_http

HERE = Path(__file__).resolve().parent
GOALS = {
    "verify_http_vs_noop": (">=", 0.8),
    "verify_vs_ed25519": (">=", 1.0),
    "issue_vs_raw_eventsourcing": (">=", 0.7),
    "projection_events_per_s": (">=", 5000),
    "verify_p50_large_vs_small": ("<=", 1.3),
    "revocation_visible_p99_ms": ("<=", 1000),
}


def log(text: str) -> None:
    print(text, flush=True)


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        with open("/proc/cpuinfo") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
        info["cpu"] = names[0] if names else platform.processor()
        with open("/proc/meminfo") as fh:
            info["memory_gib"] = round(int(fh.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        import psycopg

        from bench.cluster import PG_URL

        with psycopg.connect(PG_URL) as conn:
            info["postgres"] = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
            info["postgres_shared_buffers"] = str(
                conn.execute("SHOW shared_buffers").fetchone()[0]  # type: ignore[index]
            )
    except Exception as exc:
        info["postgres"] = f"unreachable: {exc}"
    return info


def run(quick: bool) -> dict[str, Any]:
    started = time.monotonic()
    figures: dict[str, Any] = {
        "mode": "quick" if quick else "full",
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }

    log("== QR versions (error correction M)")
    figures["qr"] = inprocess.qr_versions()
    for kind, q in figures["qr"].items():
        log(f"  {kind:<11} version {q['max_version']} ({q['max_chars']} characters at most)")

    log("== in-process verify vs raw Ed25519 verify (signature memo off)")
    figures["inprocess"] = inprocess.run(cards=500, seconds=1.5 if quick else 3, rounds=3)
    for backend, r in figures["inprocess"].items():
        log(
            f"  {backend:<9} verify {r['verify_per_s']:,.0f}/s ({r['verify_us']:.0f} µs), "
            f"Ed25519 {r['ed25519_per_s']:,.0f}/s ({r['ed25519_us']:.0f} µs): "
            f"{r['verify_vs_ed25519']:.2f}; PTP1 {r['ptp1_verify_per_s']:,.0f}/s "
            f"({r['ptp1_verify_us']:.0f} µs), P-256 {r['p256_verify_per_s']:,.0f}/s: "
            f"{r['ptp1_vs_p256']:.2f}"
        )

    log("== bulk issuance vs raw eventsourcing (PostgreSQL, alternating rounds)")
    figures["issuance"] = {}
    for batch in (100,) if quick else (100, 1000):
        r = issuance.measure(
            "postgres", 1000 if quick else 3000, batch=batch, rounds=4 if quick else 6
        )
        figures["issuance"][f"batch{batch}"] = r
        log(
            f"  batch {batch}: ours {r['bulk_cards_per_s']:,.0f} cards/s, raw "
            f"{r['raw_eventsourcing_per_s']:,.0f}/s: {r['issue_vs_raw_eventsourcing']:.2f}; "
            f"one at a time {r['single_cards_per_s']:,.0f}/s"
        )

    log("== POST /v1/verify vs a no-op FastAPI POST (PostgreSQL, separate load process)")
    opts = verify_http.Options(
        seconds=6 if quick else 10, rounds=2 if quick else 3, backends=("postgres",)
    )
    (http,) = verify_http.run(opts)
    figures["verify_http"] = http
    log(
        f"  no-op {http['noop_rps']:,.0f} req/s; verify {http['cold_rps']:,.0f} req/s every "
        f"signature checked ({http['cold_ratio']:.2f}), {http['verify_rps']:,.0f} req/s with "
        f"the repeat-scan memo ({http['ratio']:.2f}); {opts.concurrency} connections"
    )

    log("== national scale (PostgreSQL): bulk load, projections, latency, memory, revocation")
    sizes = (10_000, 30_000, 100_000) if quick else (10_000, 30_000, 100_000, 300_000, 1_000_000)
    scale_opts = scale.ScaleOptions(
        sizes=sizes,
        samples=2000,
        latency_seconds=4 if quick else 8,
        rounds=3 if quick else 4,
        revocations=60 if quick else 200,
        scaling_seconds=5 if quick else 10,
        log=log,
    )
    figures["scale"] = scale.run(scale_opts)
    figures["seconds"] = round(time.monotonic() - started)
    figures["summary"] = summary(figures)
    return figures


def summary(f: dict[str, Any]) -> dict[str, Any]:
    s = f["scale"]
    http = f["verify_http"]
    issue = f["issuance"]["batch100"]
    return {
        "verify_http_vs_noop": round(http["cold_ratio"], 3),
        "verify_http_rps": round(http["cold_rps"]),
        "noop_rps": round(http["noop_rps"]),
        "verify_http_vs_noop_repeat_scans": round(http["ratio"], 3),
        "verify_http_rps_repeat_scans": round(http["verify_rps"]),
        "verify_vs_ed25519": round(f["inprocess"]["postgres"]["verify_vs_ed25519"], 3),
        "verify_vs_ed25519_sqlite": round(f["inprocess"]["sqlite"]["verify_vs_ed25519"], 3),
        "ptp1_vs_p256": round(f["inprocess"]["postgres"]["ptp1_vs_p256"], 3),
        "ptp1_vs_p256_sqlite": round(f["inprocess"]["sqlite"]["ptp1_vs_p256"], 3),
        "verify_inprocess_per_s": round(f["inprocess"]["postgres"]["verify_per_s"]),
        "ed25519_verify_per_s": round(f["inprocess"]["postgres"]["ed25519_per_s"]),
        "issue_vs_raw_eventsourcing": issue["issue_vs_raw_eventsourcing"],
        "issue_cards_per_s": issue["bulk_cards_per_s"],
        "raw_eventsourcing_per_s": issue["raw_eventsourcing_per_s"],
        "issue_single_cards_per_s": issue["single_cards_per_s"],
        "bulk_load_cards_per_s": round(s["bulk_issue_cards_per_s"]),
        "projection_events_per_s": round(s["projection_events_per_s"]),
        "projection_events": s["projection_events"],
        "verify_p50_large_vs_small": round(s["verify_p50_large_vs_small"], 3),
        "verify_p50_large_ms": round(s["verify_p50_large_ms"], 2),
        "verify_p50_small_ms": round(s["verify_p50_small_ms"], 2),
        "verify_p99_large_ms": round(s["verify_p99_large_ms"], 2),
        "large_cards": s["cards"],
        "small_cards": scale.SMALL,
        "revocation_visible_p99_ms": round(s["revocation"]["p99_ms"], 1),
        "revocation_visible_p50_ms": round(s["revocation"]["p50_ms"], 1),
        "merchant_api_rss_mib": s["merchant_api_memory"]["rss_mib"],
        "merchant_api_peak_rss_mib": s["merchant_api_memory"]["peak_rss_mib"],
        "merchant_api_1_process_rps": round(s["scaling"]["one_process_rps"]),
        "merchant_api_2_processes_rps": round(s["scaling"]["two_processes_rps"]),
        "merchant_api_2_vs_1": round(s["scaling"]["speedup"], 2),
        "qr_version_ptc1": f["qr"]["ptc1"]["max_version"],
        "qr_version_ptc1_device_bound": f["qr"]["ptc1_bound"]["max_version"],
        "qr_version_ptp1": f["qr"]["ptp1"]["max_version"],
    }


def verdicts(summary: dict[str, Any]) -> list[tuple[str, Any, str, bool]]:
    rows = []
    for key, (op, goal) in GOALS.items():
        value = summary[key]
        met = value >= goal if op == ">=" else value <= goal
        rows.append((key, value, f"{op} {goal}", met))
    return rows


def plot(points: list[dict[str, Any]], path: Path) -> Path:
    """Verify latency (p50, p99) against the number of cards: PNG, else a plain SVG."""
    cards = [p["cards"] for p in points]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
        ax.plot(cards, [p["p50_ms"] for p in points], "o-", label="p50")
        ax.plot(cards, [p["p99_ms"] for p in points], "s--", label="p99")
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set_xlabel("cards in the store (log scale)")
        ax.set_ylabel("POST /v1/verify latency (ms)")
        ax.set_title("Verify latency vs number of cards (PostgreSQL, 4 connections)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        png = path.with_suffix(".png")
        fig.savefig(png)
        plt.close(fig)
        return png
    except ImportError:
        return _svg_plot(points, path.with_suffix(".svg"))


def _svg_plot(points: list[dict[str, Any]], path: Path) -> Path:
    import math

    width, height, pad = 640, 360, 50
    xs = [math.log10(p["cards"]) for p in points]
    top = max(p["p99_ms"] for p in points) * 1.1
    lo, hi = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1

    def x(v: float) -> float:
        return pad + (v - lo) / (hi - lo) * (width - 2 * pad)

    def y(v: float) -> float:
        return height - pad - v / top * (height - 2 * pad)

    lines = []
    for key, color in (("p50_ms", "#1f77b4"), ("p99_ms", "#d62728")):
        pts = " ".join(f"{x(a):.1f},{y(p[key]):.1f}" for a, p in zip(xs, points, strict=True))
        lines.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>')
        lines.append(
            f'<text x="{width - pad}" y="{y(points[-1][key]) - 6:.1f}" '
            f'fill="{color}" text-anchor="end">{key[:3]}</text>'
        )
    labels = "".join(
        f'<text x="{x(a):.1f}" y="{height - pad + 18}" text-anchor="middle">{p["cards"]:,}</text>'
        for a, p in zip(xs, points, strict=True)
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12"><rect width="100%" height="100%" '
        f'fill="white"/><line x1="{pad}" y1="{height - pad}" x2="{width - pad}" '
        f'y2="{height - pad}" stroke="black"/><line x1="{pad}" y1="{pad}" x2="{pad}" '
        f'y2="{height - pad}" stroke="black"/><text x="{pad}" y="{pad - 10}">verify latency '
        f"(ms, max {top:.1f}) vs cards</text>{''.join(lines)}{labels}</svg>"
    )
    path.write_text(svg)
    return path


def write_results(figures: dict[str, Any], command: str) -> None:
    (HERE / "results.json").write_text(json.dumps(figures, indent=2, default=str) + "\n")
    image = plot(figures["scale"]["points"], HERE / "verify_latency")
    s, m = figures["summary"], figures["machine"]
    rows = "\n".join(
        f"| `{key}` | {value:,} | {goal} | {'met' if met else '**missed**'} |"
        for key, value, goal, met in verdicts(s)
    )
    points = "\n".join(
        f"| {p['cards']:,} | {p['p50_ms']:.2f} | {p['p99_ms']:.2f} | {p['rps']:,.0f} |"
        for p in figures["scale"]["points"]
    )
    text = RESULTS_TEMPLATE.format(
        date=figures["date"],
        command=command,
        seconds=figures["seconds"],
        rows=rows,
        points=points,
        image=image.name,
        machine=json.dumps(m, ensure_ascii=False),
        details=json.dumps(s, indent=2, ensure_ascii=False),
    )
    (HERE / "RESULTS.md").write_text(text)


RESULTS_TEMPLATE = """# Benchmark results

Latest run: {date}, `{command}` ({seconds} s). Machine: `{machine}`.
The machine is shared with other test runs, so absolute figures move from run to run;
each ratio is measured side by side in one run (alternating rounds), which is what the
goals are about. How each figure is measured: `bench/suite.py` and the modules it calls.

| key | value | goal | |
|---|---|---|---|
{rows}

## Verify latency against the number of cards

PostgreSQL, one merchant_api process, 4 keep-alive connections from a separate load
process, QR codes of 2,000 cards drawn uniformly from the whole store.

| cards | p50 ms | p99 ms | req/s |
|---|---|---|---|
{points}

![verify latency against the number of cards]({image})

## Every figure

```json
{details}
```
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="reduced suite (100k cards)")
    parser.add_argument("--json", action="store_true", help="end with one JSON object")
    parser.add_argument(
        "--write-results",
        action="store_true",
        help="write bench/RESULTS.md, results.json and the plot",
    )
    args = parser.parse_args(argv)
    figures = run(args.quick)
    log("== summary")
    for key, value, goal, met in verdicts(figures["summary"]):
        log(f"  {key:<28} {value:>12,} goal {goal:<8} {'met' if met else 'MISSED'}")
    log(
        f"  merchant_api RSS at {figures['summary']['large_cards']:,} cards: "
        f"{figures['summary']['merchant_api_rss_mib']} MiB; 1→2 processes: "
        f"x{figures['summary']['merchant_api_2_vs_1']}; {figures['seconds']} s in all"
    )
    if args.write_results:
        write_results(figures, "python -m bench " + " ".join(sys.argv[1:]))
        log(f"  wrote {HERE / 'RESULTS.md'}")
    if args.json:
        print(json.dumps({**figures["summary"], "figures": figures}, default=str))

"""Bulk import benchmark: `cardservice import FILE.csv` of N rows, SQLite and PostgreSQL.

The command runs as its own process exactly as an operator would start it (fresh database,
progress bar on stderr). The file holds N good rows and one bad row in every thousand (an
unknown region, a wrong ID check digit, a missing field), so validation and the rejects
file are part of what is timed. The same file then runs a second time: it must issue
nothing, and its time is the cost of finding every card already there.

    python -m bench.importer --rows 100000
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.issuance import Engine, id_number
from bench.verify import environment

CATEGORIES = ("veteran", "martyr_family", "duty_death_family", "disabled_veteran", "active_family")
REGIONS = ("500112", "500103", "110105", "440305", "510107")
NAMES = ("张三明", "李秀英", "王建国", "欧阳震华", "阿卜杜热合曼·买买提")


def write_csv(path: Path, rows: int) -> int:
    """N good rows plus one bad row per thousand; returns the number of bad rows."""
    bad = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["name", "id_number", "category", "region", "phone"])
        for n in range(rows):
            out.writerow(
                [NAMES[n % 5], id_number(n), CATEGORIES[n % 5], REGIONS[n % 5], f"139{n:08d}"]
            )
            if n % 1000 == 999:
                bad += 1
                broken = id_number(10_000_000 + n)
                kind = bad % 3
                if kind == 0:
                    out.writerow([NAMES[0], broken, "veteran", "999999", ""])
                elif kind == 1:
                    wrong = broken[:-1] + ("0" if broken[-1] != "0" else "1")
                    out.writerow([NAMES[0], wrong, "veteran", "500112", ""])
                else:
                    out.writerow([NAMES[0], broken, "veteran"])
    return bad


def run_import(engine: Engine, path: Path) -> dict[str, Any]:
    env = environment(engine.settings())
    started = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "cardservice"), "import", str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    counts: dict[str, int] = {}
    for line in done.stdout.splitlines():
        for label in ("imported", "already imported (skipped)", "rejected"):
            if line.startswith(label + ":"):
                counts[label] = int(line.split(":")[1].split()[0])
    if done.returncode not in (0, 1):
        raise RuntimeError(f"import failed ({done.returncode}): {done.stderr[-2000:]}")
    return {"seconds": round(seconds, 1), "exit": done.returncode, **counts}


def measure(engine_name: str, rows: int, workdir: Path) -> dict[str, Any]:
    path = workdir / f"holders-{rows}.csv"
    bad = write_csv(path, rows) if not path.exists() else rows // 1000
    engine = Engine(engine_name)
    try:
        first = run_import(engine, path)
        second = run_import(engine, path)
    finally:
        engine.drop()
    if first.get("imported") != rows or first.get("rejected", 0) != bad:
        raise RuntimeError(f"{engine_name}: first run {first}, expected {rows} and {bad} rejects")
    if second.get("imported") != 0 or second.get("already imported (skipped)") != rows:
        raise RuntimeError(f"{engine_name}: second run issued again: {second}")
    return {
        "rows": rows,
        "bad_rows": bad,
        "first_run": first,
        "rows_per_s": round(rows / first["seconds"]),
        "rerun": second,
        "rerun_rows_per_s": round(rows / second["seconds"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    import tempfile

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        for name in args.engines.split(","):
            results[name] = r = measure(name, args.rows, Path(tmp))
            print(
                f"{name:<9} {r['rows']:,} rows ({r['bad_rows']} bad): "
                f"{r['first_run']['seconds']} s, "
                f"{r['rows_per_s']:,} rows/s; re-run issues nothing in "
                f"{r['rerun']['seconds']} s ({r['rerun_rows_per_s']:,} rows/s)",
                flush=True,
            )
    print(json.dumps(results))


if __name__ == "__main__":
    main()

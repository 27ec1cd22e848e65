"""Audit the pinned dependencies (constraints.txt) for known vulnerabilities with pip-audit.

Exit 0 when no pin has a known advisory, 1 when one has (each is printed), 2 when the audit
could not run at all (pip-audit missing, unreadable constraints). When the advisory database
cannot be reached (offline, a proxy refusing, every package unknown to the service), the
audit is SKIPPED with a clear message and exits 0: it must never block an offline build,
and it must never claim "no known vulnerabilities" for packages it could not look up.

    python scripts/audit.py [CONSTRAINTS] [--service pypi|osv] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NETWORK_ERRORS = (
    "ConnectionError",
    "NameResolutionError",
    "Max retries exceeded",
    "ProxyError",
    "ConnectTimeout",
    "ReadTimeout",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "SSLError",
)


def verdict(report: dict[str, Any]) -> tuple[int, str]:
    """The exit code and message for a pip-audit JSON report."""
    deps = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if d.get("skip_reason")]
    audited = len(deps) - len(skipped)
    if vulnerable:
        lines = [
            f"  {d['name']} {d.get('version', '?')}: "
            + ", ".join(
                f"{v.get('id')} (fixed in {', '.join(v.get('fix_versions') or []) or 'no release'})"
                for v in d["vulns"]
            )
            for d in vulnerable
        ]
        return 1, "pip-audit: known vulnerabilities in pinned packages:\n" + "\n".join(lines)
    if deps and audited == 0:
        return 0, (
            "pip-audit: SKIPPED: the advisory database could not be reached "
            f"(none of the {len(deps)} pinned packages could be looked up; "
            f"first reason: {skipped[0]['skip_reason']})"
        )
    if skipped:
        names = ", ".join(d["name"] for d in skipped)
        return 0, (
            f"pip-audit: no known vulnerabilities in {audited} packages; "
            f"NOT audited ({len(skipped)}): {names}"
        )
    return 0, f"pip-audit: no known vulnerabilities in {audited} pinned packages"


def run(constraints: Path, service: str, timeout: int) -> tuple[int, str]:
    if not constraints.is_file():
        return 2, f"pip-audit: no constraints file at {constraints}"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        cmd = [
            sys.executable, "-m", "pip_audit",
            "--requirement", str(constraints),
            "--no-deps", "--disable-pip",  # every package is pinned: no resolver, no venv
            "--vulnerability-service", service,
            "--timeout", str(timeout),
            "--progress-spinner", "off",
            "--format", "json", "--output", str(out),
        ]  # fmt: skip
        try:
            done = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout * 20, check=False
            )
        except subprocess.TimeoutExpired:
            return 0, "pip-audit: SKIPPED: the advisory database did not answer in time"
        if out.is_file() and out.stat().st_size:
            return verdict(json.loads(out.read_text()))
        errors = done.stderr.strip()
        if "No module named pip_audit" in errors:
            return 2, "pip-audit is not installed: ./scripts/setup.sh test"
        if any(marker in errors for marker in NETWORK_ERRORS):
            last = errors.splitlines()[-1] if errors else ""
            return 0, f"pip-audit: SKIPPED: the advisory database could not be reached ({last})"
        return 2, f"pip-audit failed (exit {done.returncode}):\n{errors}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("constraints", nargs="?", type=Path, default=ROOT / "constraints.txt")
    parser.add_argument("--service", choices=("pypi", "osv"), default="pypi")
    parser.add_argument("--timeout", type=int, default=15)
    args = parser.parse_args(argv)
    code, message = run(args.constraints, args.service, args.timeout)
    print(message, file=sys.stderr if code else sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main())

"""scripts/audit.py: pip-audit over constraints.txt, skipping (never passing silently) offline."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "audit.py"


def load_audit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


audit = load_audit()


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, **env},
    )  # fmt: skip


def test_a_vulnerable_pin_fails_with_its_advisory() -> None:
    code, message = audit.verdict(
        {
            "dependencies": [
                {"name": "jinja2", "version": "3.1.2", "vulns": [
                    {"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"]}]},
                {"name": "cbor2", "version": "6.3.0", "vulns": []},
            ]
        }
    )  # fmt: skip
    assert code == 1
    assert "jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in 3.1.3)" in message


def test_nothing_looked_up_is_a_skip_not_a_pass() -> None:
    reason = "Dependency not found on PyPI and could not be audited: cbor2 (6.3.0)"
    code, message = audit.verdict({"dependencies": [{"name": "cbor2", "skip_reason": reason}]})
    assert code == 0
    assert message.startswith("pip-audit: SKIPPED: the advisory database could not be reached")
    assert "no known vulnerabilities" not in message


def test_partly_looked_up_names_what_was_not_audited() -> None:
    code, message = audit.verdict(
        {
            "dependencies": [
                {"name": "cbor2", "version": "6.3.0", "vulns": []},
                {"name": "private-pkg", "skip_reason": "not on PyPI"},
            ]
        }
    )
    assert code == 0
    assert "no known vulnerabilities in 1 packages" in message
    assert "NOT audited (1): private-pkg" in message


def test_clean_report_passes() -> None:
    code, message = audit.verdict({"dependencies": [{"name": "cbor2", "vulns": []}]})
    assert (code, message) == (0, "pip-audit: no known vulnerabilities in 1 pinned packages")


@pytest.mark.parametrize("service", ["pypi", "osv"])
def test_unreachable_advisory_database_skips_with_a_clear_message(service: str) -> None:
    """A proxy that refuses every connection stands for a machine without network."""
    done = run("--service", service, "--timeout", "3",
               HTTPS_PROXY="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "pip-audit: SKIPPED: the advisory database could not be reached" in done.stdout


def test_missing_constraints_file_is_an_error(tmp_path: Path) -> None:
    done = run(str(tmp_path / "absent.txt"))
    assert done.returncode == 2
    assert "no constraints file" in done.stderr


def test_constraints_pin_every_package_exactly() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines and all("==" in line and ";" not in line for line in lines)
    names = {line.split("==")[0].lower().replace("_", "-") for line in lines}
    assert {"qrcode", "pypng", "cbor2", "cryptography", "jinja2", "pip-audit", "httpx"} <= names
    assert "segno" not in names and "cardservice" not in names


def test_a_known_vulnerable_pin_is_caught_when_the_database_answers(tmp_path: Path) -> None:
    pins = tmp_path / "constraints.txt"
    pins.write_text("jinja2==3.1.2\n")
    done = run(str(pins), "--timeout", "10")
    if "SKIPPED" in done.stdout:
        pytest.skip("advisory database unreachable from this machine: " + done.stdout.strip())
    assert done.returncode == 1
    assert "jinja2 3.1.2" in done.stderr

"""`python -m cardservice` is the same command line as the `cardservice` console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("cardservice")


def run(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "100", "CARDSERVICE_DATA_DIR": str(tmp_path / "var")}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path, check=False
    )


@pytest.mark.skipif(not SCRIPT.exists(), reason="console script not installed in this venv")
@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["serve", "--help"],
        ["verify", "--help"],
        ["no-such-command"],
        ["verify", "--bundle", "missing.cose", "--trust", "missing.json", "PTC1:X"],
    ],
    ids=["help", "serve-help", "verify-help", "unknown-command", "verify-missing-files"],
)
def test_module_and_script_answer_alike(args: list[str], tmp_path: Path) -> None:
    module = run([sys.executable, "-m", "cardservice", *args], tmp_path)
    script = run([str(SCRIPT), *args], tmp_path)
    assert (module.returncode, module.stdout, module.stderr) == (
        script.returncode,
        script.stdout,
        script.stderr,
    )
    if args[0] == "--help":
        assert module.returncode == 0
        assert "Usage: cardservice" in module.stdout
        assert "serve" in module.stdout and "worker" in module.stdout
    else:
        assert args[-1] == "--help" or module.returncode != 0

"""The credential decoder under fuzzing: 0 crashes and 0 acceptances.

atheris (coverage-guided, libFuzzer) in a subprocess where it installs; hypothesis always,
with the same harness and oracle. CI runs bounded counts; `--long` runs 200,000 atheris
inputs (the goal: at least 100,000) and more hypothesis examples.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardservice import credentials
from tests.reliability import fuzz_decoder as harness

CI_RUNS, LONG_RUNS = 20_000, 200_000


def test_the_oracle_tells_genuine_from_forged() -> None:
    """Genuine credentials pass the harness; one signed by the issuer key but not made by
    the harness counts as an acceptance, so the fuzzer would report it."""
    for text in harness.TEXTS:
        prefix = harness.MODES.index(text[:5])
        harness.one_input(bytes([prefix]) + credentials.b45decode(text[5:]))
        harness.one_input(b"\x00" + text.encode())
    forged = credentials.issue_ptc1(harness.claims(9, None), harness.ISSUER)
    with pytest.raises(harness.Accepted):
        harness.one_input(b"\x00" + forged.encode())


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed")
def test_atheris(tmp_path: Path, long_mode: bool) -> None:
    runs = LONG_RUNS if long_mode else CI_RUNS
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.reliability.fuzz_decoder",
            f"-runs={runs}",
            "-seed=7",
            "-max_len=1400",
            f"--corpus={tmp_path / 'corpus'}",
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=Path(__file__).resolve().parents[2],
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    found = re.search(r"Done (\d+) runs", output)
    assert found is not None and int(found.group(1)) >= runs, output[-2000:]
    print(f"\natheris: {found.group(0)}, 0 crashes, 0 acceptances")


def _as_inputs(prefix: int, body: bytes) -> bytes:
    return bytes([prefix]) + body


def genuine_mutations() -> st.SearchStrategy[bytes]:
    """A genuine credential's bytes with a few bytes replaced, inserted or removed."""

    @st.composite
    def mutated(draw: st.DrawFn) -> bytes:
        text = draw(st.sampled_from(harness.TEXTS))
        raw = bytearray(credentials.b45decode(text[5:]))
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(raw) - 1))
            action = draw(st.sampled_from(["replace", "insert", "delete"]))
            if action == "replace":
                raw[at] = draw(st.integers(0, 255))
            elif action == "insert":
                raw.insert(at, draw(st.integers(0, 255)))
            elif len(raw) > 1:
                del raw[at]
        return _as_inputs(harness.MODES.index(text[:5]), bytes(raw))

    return mutated()


@settings(
    max_examples=3000, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
@given(data=st.one_of(st.binary(max_size=1400), genuine_mutations()))
def test_hypothesis(data: bytes) -> None:
    harness.one_input(data)

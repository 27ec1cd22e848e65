"""Polling for what another thread or process makes true (a view catching up, a notice
delivered): the value once truthy, or a failure naming what never came."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait(
    predicate: Callable[[], Any], what: str, deadline: float = 15.0, step: float = 0.02
) -> Any:
    end = time.monotonic() + deadline
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(step)

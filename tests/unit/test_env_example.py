"""`.env.example` lists every setting, under its real variable name, with its real default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cardservice.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
LINE = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


def variable(name: str) -> str:
    alias = Settings.model_fields[name].validation_alias
    return alias if isinstance(alias, str) else "CARDSERVICE_" + name.upper()


def documented() -> dict[str, tuple[bool, str]]:
    found: dict[str, tuple[bool, str]] = {}
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = LINE.match(line.strip())
        if match:
            assert match.group(2) not in found, f"{match.group(2)} listed twice"
            found[match.group(2)] = (match.group(1) is None, match.group(3))
    return found


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_env_example_with_its_default(name: str) -> None:
    entries = documented()
    env = variable(name)
    assert env in entries, f"{env} missing from .env.example"
    active, value = entries[env]
    default = Settings.model_fields[name].default
    if default is None:
        assert not active, f"{env} has no default: show it commented out"
    else:
        assert active, f"{env} has a default: show it set"
        assert value == str(default), f"{env}: .env.example says {value!r}, default {default!r}"


def test_env_example_names_nothing_that_is_not_a_setting() -> None:
    known = {variable(name) for name in Settings.model_fields}
    assert set(documented()) <= known


def test_the_example_loads_as_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for env, (active, value) in documented().items():
        monkeypatch.delenv(env, raising=False)
        if active:
            monkeypatch.setenv(env, value)
    assert Settings() == Settings.model_construct(
        **{n: f.default for n, f in Settings.model_fields.items()}
    )

"""How far each source application's event log reaches, for the lag probes.

The write side asks its own Applications. The read side has none (it holds no key to decode
an event), so it asks each event store through the library's own recorder, built from the
persistence settings alone: the newest notification id decodes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory
from eventsourcing.utils import Environment

from cardservice.settings import Settings

Heads = Callable[[], Mapping[str, int]]
"""{source application name: its newest notification id}."""


def head_of(recorder: ApplicationRecorder) -> int:
    return int(recorder.max_notification_id() or 0)


def application_heads(apps: Iterable[Application[Any]]) -> Heads:
    """The write side's heads: its Applications' own recorders."""
    recorders = {app.name: app.recorder for app in apps}
    return lambda: {name: head_of(r) for name, r in recorders.items()}


class EventStoreHeads:
    """The read side's heads: one keyless recorder per source, opened on first use (the
    event store may not exist yet when a replica starts before the write side)."""

    def __init__(self, settings: Settings, sources: Iterable[str]) -> None:
        self._settings = settings
        self._sources = sorted(set(sources))
        self._factories: dict[str, InfrastructureFactory[Any]] = {}
        self._recorders: dict[str, ApplicationRecorder] = {}

    def __call__(self) -> dict[str, int]:
        return {name: head_of(self._recorder(name)) for name in self._sources}

    def _recorder(self, name: str) -> ApplicationRecorder:
        recorder = self._recorders.get(name)
        if recorder is None:
            env = {**self._settings.persistence_env(name), "CREATE_TABLE": "n"}
            factory = InfrastructureFactory.construct(Environment(name=name, env=env))
            self._factories[name] = factory
            recorder = self._recorders[name] = factory.application_recorder()
        return recorder

    def close(self) -> None:
        for factory in self._factories.values():
            factory.close()
        self._factories.clear()
        self._recorders.clear()

"""What every application shares: the injected clock, the side database and the settings,
the transcodings, the one retry helper and the region and scope checks."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding

from cardservice.clock import SHANGHAI, Clock, today_in_shanghai
from cardservice.domain import regions as region_table
from cardservice.domain.access import PERMISSIONS
from cardservice.domain.actors import Actor
from cardservice.domain.commands import CommandRecord
from cardservice.domain.errors import Conflict, Forbidden, InvalidInput
from cardservice.settings import Settings
from cardservice.storage import Database

T = TypeVar("T")
COMMAND_NAMESPACE = uuid.UUID("3c9a1e52-8b47-4f0e-a7d6-2e5f9c1b0d83")
MAX_ISSUE_ATTEMPTS = 8
MAX_RETRIES = MAX_ISSUE_ATTEMPTS * 4
BUSY = "too many concurrent changes; try again"


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class IdempotencyMismatch(InvalidInput):
    """The same Idempotency-Key was used with a different request body."""

    code = "idempotency_mismatch"


def command_uuid(actor: Actor, command_id: str, kind: str) -> UUID:
    """A command's target id derived from who sent it and its idempotency key."""
    return uuid.uuid5(COMMAND_NAMESPACE, f"{kind}:{actor.id}:{command_id}")


def end_of_day(day: date) -> int:
    return int(datetime.combine(day, time(23, 59, 59), tzinfo=SHANGHAI).timestamp())


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def retrying(command: Callable[[], T], *, attempts: int = MAX_RETRIES, busy: str = BUSY) -> T:
    """Run a load-decide-save command again when a concurrent writer got there first.

    The event store refuses the second writer of an aggregate version; re-reading and
    deciding again yields one linear history (and a 409 where the new state forbids it).
    After `attempts` lost races the caller is told to try again (409, `busy`).
    """
    for _ in range(attempts):
        try:
            return command()
        except IntegrityError:
            continue
    raise Conflict(busy)


def require_region(code: str) -> None:
    """A well-formed region code missing from the table is invalid input (422)."""
    if not region_table.is_well_formed(code):
        raise InvalidInput(f"region must be a 6-digit administrative division code: {code!r}")
    if not region_table.regions().exists(code):
        raise InvalidInput(f"unknown region code {code}")


def require_scope(actor: Actor, region: str, permission: str) -> None:
    """Roles act only inside their own region subtree (403 otherwise)."""
    if permission not in PERMISSIONS.get(actor.role, frozenset()):
        raise Forbidden(f"role {actor.role} may not do this")
    if not region_table.regions().is_within(region, actor.region):
        raise Forbidden(f"region {region} is outside the caller's region {actor.region}")


class ServiceApplication(Application[UUID]):
    """Shared wiring: the injected clock, the side database and the settings."""

    is_snapshotting_enabled = False

    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        clock: Clock,
        env: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        super().__init__(env=env)
        self._prepare()

    def _prepare(self) -> None:
        """Derive a use-case family's keys and set up its caches, once the store is open.

        Each family that needs state overrides this and calls `super()._prepare()`, so the
        composed applications keep this one typed constructor and fail at start-up (not
        at first use) when a secret is missing.
        """

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return today_in_shanghai(self.clock)

    def _get_or_none(self, aggregate_id: UUID, version: int | None = None) -> Any:
        try:
            return self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            return None

    def _replayed(self, actor: Actor, command_id: str | None, digest: str) -> Any:
        """The aggregate as a keyed command first answered with it (None: a new command);
        the same key with another body is refused (422). Nothing is written."""
        if not command_id:
            return None
        record = self._get_or_none(command_uuid(actor, command_id, "command"))
        if not isinstance(record, CommandRecord) or not record.live(self.now()):
            return None
        if record.digest != digest:
            raise IdempotencyMismatch("Idempotency-Key reused with a different request body")
        return self._get_or_none(record.target, version=record.target_version)

    def _answered(
        self, actor: Actor, command_id: str | None, digest: str, answer: Any
    ) -> list[CommandRecord]:
        """The record to save with a keyed command's change (none without a key)."""
        if not command_id:
            return []
        record_id = command_uuid(actor, command_id, "command")
        record = self._get_or_none(record_id)
        if isinstance(record, CommandRecord):
            record.answer_again(digest, answer.id, answer.version, self.now())
            return [record]
        return [CommandRecord(record_id, digest, answer.id, answer.version, self.now())]

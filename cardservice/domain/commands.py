"""What an idempotent command did, kept under its key so that a replay answers it again.

A command with an `Idempotency-Key` whose aggregate records no key of its own (tokens,
merchant edits, deactivation, key rotation) saves one of these beside its change, in the
same transaction: the body's digest and the aggregate and version it answered with. A
replay reads that version back and writes nothing; another body under the key is refused.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from cardservice.domain.activation import REPLAY_WINDOW


class CommandRecord(Aggregate):
    @staticmethod
    def create_id(record_id: UUID) -> UUID:
        return record_id

    @event("Answered")
    def __init__(
        self, record_id: UUID, digest: str, target: UUID, version: int, at: datetime
    ) -> None:
        self.digest = digest
        self.target = target
        self.target_version = version
        self.answered_at = at

    def live(self, now: datetime) -> bool:
        """Still within the replay window of its last answer."""
        return now - self.answered_at < REPLAY_WINDOW

    def answer_again(self, digest: str, target: UUID, version: int, at: datetime) -> None:
        """The key reused after its window: a new command, answered afresh."""
        self._reanswered(digest=digest, target=target, version=version, at=at)

    @event("Reanswered")
    def _reanswered(self, digest: str, target: UUID, version: int, at: datetime) -> None:
        self.digest = digest
        self.target = target
        self.target_version = version
        self.answered_at = at

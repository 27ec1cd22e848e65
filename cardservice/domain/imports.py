"""An import of existing certificates sent over HTTP: its counts, rejects and outcome.

The rejected rows carry personal data as typed, so they are recorded sealed (the write
side's import key); counts and the outcome are plain.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from cardservice.domain.errors import InvalidTransition

RUNNING, DONE, FAILED = "running", "done", "failed"

STALLED_AFTER = timedelta(minutes=5)
"""A running import records progress at least every 30 s (and every 500 rows); one that
has recorded nothing for this long was stopped with its process (the file is not kept)."""
INTERRUPTED = (
    "the import was interrupted (its process stopped); send the file again to finish it:"
    " rows already issued count as skipped"
)


class Import(Aggregate):
    @staticmethod
    def create_id(import_id: UUID) -> UUID:
        return import_id

    @event("Started")
    def __init__(
        self,
        import_id: UUID,
        actor: dict[str, Any],
        at: datetime,
        total: int,
        header: list[str],
        file_digest: str,
        command_id: str,
    ) -> None:
        self.actor = actor
        self.region = str(actor.get("region", ""))
        self.started_at = at
        self.total = total
        self.header = header
        self.file_digest = file_digest
        self.command_id = command_id
        self.status = RUNNING
        self.imported = 0
        self.skipped = 0
        self.rejected = 0
        self.sealed_rejects: list[str] = []
        self.reason = ""
        self.last_at = at

    def state(self, now: datetime) -> tuple[str, str]:
        """(status, reason) as of `now`: a running import silent for `STALLED_AFTER` is
        reported failed (interrupted); its events stay as they are."""
        if self.status == RUNNING and now - self.last_at > STALLED_AFTER:
            return FAILED, INTERRUPTED
        return self.status, self.reason

    def progress(
        self, imported: int, skipped: int, rejected: int, sealed: str, at: datetime
    ) -> None:
        """Counts of one more batch and its rejects (sealed CSV rows, may be empty)."""
        if self.status != RUNNING:
            raise InvalidTransition("the import is over")
        self._progressed(
            imported=imported, skipped=skipped, rejected=rejected, sealed=sealed, at=at
        )

    def finish(self, at: datetime, reason: str = "") -> None:
        if self.status != RUNNING:
            raise InvalidTransition("the import is over")
        self._finished(status=FAILED if reason else DONE, reason=reason, at=at)

    @event("Progressed")
    def _progressed(
        self, imported: int, skipped: int, rejected: int, sealed: str, at: datetime
    ) -> None:
        self.imported += imported
        self.skipped += skipped
        self.rejected += rejected
        if sealed:
            self.sealed_rejects.append(sealed)
        self.last_at = at

    @event("Finished")
    def _finished(self, status: str, reason: str, at: datetime) -> None:
        self.status = status
        self.reason = reason

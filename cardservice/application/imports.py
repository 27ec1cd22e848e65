"""Imports sent over HTTP: accepted at once, run in the background, polled for progress.

The rows go through the same code as `cardservice import` (`cardservice.importer`, which
imports the applications, hence imported here when an import runs), so a
re-sent file finds its cards already issued (counted as `skipped`) and issues nothing
twice; an `Idempotency-Key` answers the first import's id. Rows outside the caller's
subtree are rejected one by one. The file itself is not kept: an import whose process
stops records nothing more, is reported `failed` (interrupted) once it has been silent for
`STALLED_AFTER`, and sending the file again (under a new key, or none) completes it
without issuing anything twice.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import logging
import threading
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, cast
from uuid import UUID

from cardservice.application.base import IdempotencyMismatch, command_uuid, require_scope
from cardservice.application.search import CardSearch
from cardservice.domain.actors import Actor
from cardservice.domain.errors import NotFound
from cardservice.domain.imports import Import
from cardservice.security import Sealer

if TYPE_CHECKING:
    from cardservice.application.facades import CardLedger

log = logging.getLogger("cardservice.imports")

PROGRESS_EVERY = 500
"""Rows between two recorded progress events."""
HEARTBEAT = timedelta(seconds=30)
"""At most this long between two progress events while rows move (well inside
`STALLED_AFTER`, so a slow import is never taken for an interrupted one)."""


class HttpImports(CardSearch):
    """Start, run and report imports of CSV uploads."""

    def _prepare(self) -> None:
        super()._prepare()
        self._import_key = self.settings.derived_key("import-rejects")
        self._import_threads: list[threading.Thread] = []

    def start_import(
        self, data: bytes, actor: Actor, *, command_id: str | None, wait: bool = False
    ) -> tuple[UUID, bool]:
        """(import id, replayed). Only issuers and admins import (403)."""
        require_scope(actor, actor.region, "cards")
        digest = hmac.new(self._import_key, data, hashlib.sha256).hexdigest()
        import_id = command_uuid(actor, command_id, "import") if command_id else uuid.uuid4()
        if command_id:
            first = self._get_or_none(import_id, version=1)
            if isinstance(first, Import):
                if first.file_digest != digest:
                    raise IdempotencyMismatch("Idempotency-Key reused with a different file")
                return import_id, True
        text, header, total, problem = self._read(data)
        job = Import(
            import_id=import_id,
            actor=actor.as_dict(),
            at=self.now(),
            total=total,
            header=header,
            file_digest=digest,
            command_id=command_id or "",
        )
        if problem:
            job.finish(self.now(), problem)
            self.save(job)
            return import_id, False
        self.save(job)
        thread = threading.Thread(
            target=self._run, args=(job, text, actor), name=f"import-{import_id}", daemon=True
        )
        self._import_threads = [t for t in self._import_threads if t.is_alive()] + [thread]
        thread.start()
        if wait:
            thread.join()
        return import_id, False

    @staticmethod
    def _read(data: bytes) -> tuple[str, list[str], int, str]:
        """(text, header, data rows, why the whole file cannot be read or '')."""
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return "", [], 0, "the file is not UTF-8"
        if "\x00" in text:
            return "", [], 0, "the file contains NUL characters"
        from cardservice.importer import read_rows

        try:
            total = sum(1 for _ in read_rows(io.StringIO(text, newline="")))
            header = next(csv.reader(io.StringIO(text, newline="")))
        except (ValueError, csv.Error, StopIteration) as exc:
            return "", [], 0, str(exc)
        return text, header, total, ""

    def _run(self, job: Import, text: str, actor: Actor) -> None:
        from cardservice.importer import ImportReport, import_csv

        report = ImportReport()
        seen = [0, 0, 0]  # imported, existing, rejected already recorded

        def record() -> None:
            now = (report.imported, report.existing, len(report.rejected))
            if now == tuple(seen):
                return
            rejects = report.rejected[seen[2] :]
            sealed = self._seal_rejects(job.id, rejects) if rejects else ""
            job.progress(now[0] - seen[0], now[1] - seen[1], now[2] - seen[2], sealed, self.now())
            self.save(job)
            seen[:] = now

        def progress(_: int) -> None:
            done = report.imported + report.existing + len(report.rejected)
            if done - sum(seen) >= PROGRESS_EVERY or self.now() - job.last_at >= HEARTBEAT:
                record()

        try:
            lines = io.StringIO(text, newline="")
            ledger = cast("CardLedger", self)  # this family is part of the ledger
            import_csv(ledger, lines, actor, progress=progress, report=report)
            record()
            job.finish(self.now())
        except Exception as exc:  # a worker thread: record the failure, never lose it
            log.exception("import %s failed", job.id)
            job.finish(self.now(), f"the import stopped: {type(exc).__name__}")
        self.save(job)

    def _seal_rejects(self, import_id: UUID, rejects: list[tuple[int, list[str], str]]) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for line, row, reason in rejects:
            writer.writerow([*row, line, reason])
        sealed = Sealer(self._import_key).seal(out.getvalue().encode(), import_id.bytes)
        return sealed.hex()

    def import_job(self, import_id: UUID, actor: Actor) -> Import:
        job = self._get_or_none(import_id)
        if not isinstance(job, Import):
            raise NotFound(f"no import {import_id}")
        require_scope(actor, job.region, "read")
        return job

    def rejects_csv(self, job: Import) -> str:
        """The input's header plus `line,reason`, then each rejected row."""
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow([*job.header, "line", "reason"])
        sealer = Sealer(self._import_key)
        saved = "".join(
            sealer.unseal(bytes.fromhex(sealed), job.id.bytes).decode()
            for sealed in job.sealed_rejects
        )
        # Saved in the order they were decided; shown in file order (line is next to last).
        rows = sorted(csv.reader(io.StringIO(saved, newline="")), key=lambda r: int(r[-2]))
        csv.writer(out, lineterminator="\n").writerows(rows)
        return out.getvalue()

    def close(self) -> None:
        for thread in self._import_threads:
            thread.join(5)
        super().close()

"""Bulk import of existing certificate holders from a CSV file (`cardservice import`).

The rows go through `cardservice.application.csvimport`, the same code as imports sent
over HTTP; this module adds the file: reading it, counting it, writing its rejects.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path

from cardservice.application.bulk import BulkIssuance
from cardservice.application.csvimport import (
    MAX_FIELD,
    REQUIRED,
    ImportReport,
    import_lines,
    read_header,
    read_lines,
)
from cardservice.domain.actors import Actor

__all__ = [
    "MAX_FIELD",
    "REQUIRED",
    "ImportReport",
    "count_rows",
    "import_csv",
    "import_lines",
    "read_header",
    "read_lines",
    "read_rows",
    "write_rejects",
]


def read_rows(path: Path) -> Iterator[tuple[int, list[str] | None, str]]:
    """(line number, fields or None, problem) for each data row; the header is line 1."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        yield from read_lines(fh)


def import_csv(
    ledger: BulkIssuance,
    path: Path,
    actor: Actor,
    *,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return import_lines(ledger, fh, actor, batch_size=batch_size, progress=progress)


def write_rejects(path: Path, report: ImportReport) -> Path:
    target = (
        path.with_suffix(".rejects.csv") if path.suffix == ".csv" else Path(f"{path}.rejects.csv")
    )
    with target.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["line", "reason", "row"])
        for line, row, reason in report.rejected:
            writer.writerow([line, reason, ",".join(row)])
    return target


def count_rows(path: Path) -> int:
    with path.open(encoding="utf-8-sig") as fh:
        return max(0, sum(1 for _ in fh) - 1)

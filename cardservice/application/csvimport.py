"""Bulk import of existing certificate holders from CSV text: one code path for the
`cardservice import` command and for imports sent over HTTP.

Rows are validated one by one and issued in batches; a bad row never stops the good ones,
and re-running the same file finds the cards already there instead of issuing twice.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from cardservice.application.bulk import BulkIssuance
from cardservice.application.issuance import IssueCardRequest
from cardservice.domain.actors import Actor

REQUIRED = ["name", "id_number", "category", "region"]
MAX_FIELD = 200


@dataclass
class ImportReport:
    imported: int = 0
    existing: int = 0
    rejected: list[tuple[int, list[str], str]] = field(default_factory=list)


def read_header(lines: Iterator[str]) -> list[str]:
    """The header's columns (a leading byte-order mark ignored); ValueError if not ours."""
    first = next(lines, None)
    if first is None:
        raise ValueError("the file is empty")
    header = next(csv.reader([first.removeprefix("\ufeff")]), [])
    columns = [h.strip() for h in header]
    if columns[:4] != REQUIRED or columns[4:] not in ([], ["phone"]):
        raise ValueError("header must be name,id_number,category,region[,phone]")
    return columns


def read_lines(lines: Iterable[str]) -> Iterator[tuple[int, list[str] | None, str]]:
    """As `read_rows`, from lines of text (a file, or an upload decoded in memory)."""
    stream = iter(lines)
    columns = read_header(stream)
    reader = csv.reader(stream)
    for row in reader:
        line = reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            yield line, row, f"expected {len(columns)} fields, found {len(row)}"
        elif any(len(cell) > MAX_FIELD for cell in row):
            yield line, row, f"a field is longer than {MAX_FIELD} characters"
        else:
            yield line, row, ""


def import_lines(
    ledger: BulkIssuance,
    lines: Iterable[str],
    actor: Actor,
    *,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
    report: ImportReport | None = None,
) -> ImportReport:
    """Validate row by row and issue in batches; `report` fills as it goes (the HTTP
    import reads it after each `progress` call)."""
    report = report if report is not None else ImportReport()
    batch: list[tuple[int, list[str], IssueCardRequest]] = []

    def flush() -> None:
        outcomes = ledger.issue_cards_bulk([b[2] for b in batch], actor)
        for (line, row, _), outcome in zip(batch, outcomes, strict=True):
            if outcome.result == "issued":
                report.imported += 1
            elif outcome.result == "exists":
                report.existing += 1
            else:
                report.rejected.append((line, row, outcome.reason))
        if progress:
            progress(len(batch))
        batch.clear()

    for line, row, problem in read_lines(lines):
        if row is None or problem:
            report.rejected.append((line, row or [], problem))
            if progress:
                progress(1)
            continue
        name, id_number, category, region = (cell.strip() for cell in row[:4])
        phone = row[4].strip() if len(row) > 4 and row[4].strip() else None
        request = IssueCardRequest(
            name=name, id_number=id_number.upper(), category=category, region=region, phone=phone
        )
        batch.append((line, row, request))
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return report

"""Bulk import of existing certificate holders from CSV.

Rows are validated one by one and issued in batches; a bad row never stops the good ones,
and re-running the same file finds the cards already there instead of issuing twice.
"""

from __future__ import annotations

import contextlib
import csv
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cardservice.application import CardLedger, IssueCardRequest
from cardservice.domain.actors import Actor
from cardservice.domain.identity import id_number_problem, normalize_id_number
from cardservice.domain.text import control_problem, holder_name_problem

REQUIRED = ["name", "id_number", "category", "region"]
MAX_FIELD = 200


@dataclass
class ImportReport:
    imported: int = 0
    existing: int = 0
    rejected: list[tuple[int, list[str], str]] = field(default_factory=list)


def opened(source: Path | Iterable[str]) -> contextlib.AbstractContextManager[Iterable[str]]:
    """A file by its path, or lines already in memory (an import sent over HTTP)."""
    if isinstance(source, Path):
        return source.open(encoding="utf-8-sig", newline="")
    return contextlib.nullcontext(source)


def read_rows(path: Path | Iterable[str]) -> Iterator[tuple[int, list[str] | None, str]]:
    """(line number, fields or None, problem) for each data row; the header is line 1."""
    with opened(path) as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise ValueError("the file is empty")
        columns = [h.strip() for h in header]
        if columns[:4] != REQUIRED or columns[4:] not in ([], ["phone"]):
            raise ValueError("header must be name,id_number,category,region[,phone]")
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(columns):
                yield line, row, f"expected {len(columns)} fields, found {len(row)}"
            elif any(len(cell) > MAX_FIELD for cell in row):
                yield line, row, f"a field is longer than {MAX_FIELD} characters"
            else:
                yield line, row, row_problem(columns, row)


def row_problem(columns: list[str], row: list[str]) -> str:
    """The first text-hygiene problem of a row (as the HTTP API would answer 422), or ""."""
    for column, cell in zip(columns, row, strict=True):
        problem = control_problem(cell)
        if problem:
            return f"{column}: {problem}"
    name, id_number = row[0], row[1].strip()
    problem = holder_name_problem(name) or ""
    if problem:
        return f"name: {problem}"
    id_problem = id_number_problem(id_number)
    return f"id_number: {id_problem}" if id_problem else ""


def import_csv(
    ledger: CardLedger,
    path: Path | Iterable[str],
    actor: Actor,
    *,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
    report: ImportReport | None = None,
) -> ImportReport:
    """The rows of a file (or of lines in memory), validated one by one and issued in
    batches. `report` fills as it goes, its rejects in the order they were decided (a bad
    row at once, a row its batch refuses when the batch is issued): imports over HTTP save
    what was appended since their last `progress`. The report returned lists the rejects
    in file order."""
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

    for line, row, problem in read_rows(path):
        if row is None or problem:
            report.rejected.append((line, row or [], problem))
            if progress:
                progress(1)
            continue
        name, id_number, category, region = (cell.strip() for cell in row[:4])
        phone = row[4].strip() if len(row) > 4 and row[4].strip() else None
        request = IssueCardRequest(
            name=unicodedata.normalize("NFC", name),
            id_number=normalize_id_number(id_number),
            category=category,
            region=region,
            phone=phone,
        )
        batch.append((line, row, request))
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    in_file_order = sorted(report.rejected, key=lambda rejected: rejected[0])
    return ImportReport(report.imported, report.existing, in_file_order)


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

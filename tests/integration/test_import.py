"""Bulk CSV import on both engines: good rows land, bad rows are reported, re-runs add nothing."""

from __future__ import annotations

from pathlib import Path

from cardservice.bootstrap.write import WriteSide
from cardservice.domain.actors import Actor
from cardservice.importer import import_csv, write_rejects
from tests.factories import id_number

ACTOR = Actor(kind="admin", id="cli", role="admin", region="000000")


def write_csv(
    path: Path, rows: list[str], header: str = "name,id_number,category,region,phone"
) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_import_reports_rejects_and_is_idempotent(services: WriteSide, tmp_path: Path) -> None:
    rows = [
        f"张三明,{id_number(1)},veteran,500112,13800138000",
        f"李四,{id_number(2)},martyr_family,110101,",
        "王五,110105194912310021,veteran,500112,",  # bad check character
        f"赵六,{id_number(3)},general,500112,",  # unknown category
        f"钱七,{id_number(4)},veteran,999999,",  # unknown region
        f"张三明,{id_number(1)},veteran,500112,",  # same person and category again
        f"孙八,{id_number(5)},veteran",  # missing fields
        f"张三明,{id_number(1)},disabled_veteran,500112,",  # same person, other category
    ]
    path = write_csv(tmp_path / "holders.csv", rows)
    report = import_csv(services.ledger, path, ACTOR, batch_size=3)
    assert report.imported == 3
    assert report.existing == 1  # the repeated row names the card already issued above
    assert [line for line, _, _ in report.rejected] == [4, 5, 6, 8]
    reasons = dict((line, reason) for line, _, reason in report.rejected)
    assert "check character" in reasons[4]
    assert "category" in reasons[5]
    assert "region" in reasons[6]
    assert "fields" in reasons[8]
    rejects = write_rejects(path, report)
    assert rejects.name == "holders.rejects.csv"
    assert len(rejects.read_text(encoding="utf-8").splitlines()) == 5

    before = services.ledger.recorder.max_notification_id()
    again = import_csv(services.ledger, path, ACTOR, batch_size=3)
    assert again.imported == 0 and again.existing == 4
    assert services.ledger.recorder.max_notification_id() == before


def test_bad_header_is_refused(services: WriteSide, tmp_path: Path) -> None:
    import pytest

    path = write_csv(tmp_path / "x.csv", ["a,b"], header="who,what")
    with pytest.raises(ValueError, match="header"):
        import_csv(services.ledger, path, ACTOR)


def test_import_applies_text_hygiene_and_ignores_a_bom(services: WriteSide, tmp_path: Path) -> None:
    arabic = id_number(13)[:17].translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    rows = [
        f"张三明,{id_number(11)},veteran,500112,",
        f"\u200b李四,{id_number(12)},veteran,500112,",  # zero-width space
        f"王\x00五,{id_number(13)},veteran,500112,",  # NUL
        f"赵六\u202e,{id_number(14)},veteran,500112,",  # right-to-left override
        f"钱七,{arabic}{id_number(13)[17]},veteran,500112,",  # Arabic-Indic digits
        f"孙八,{id_number(15)},veteran\u200d,500112,",  # joiner in another field
        f"周  九,{id_number(16)},veteran,500112,",  # two spaces in a name
    ]
    path = tmp_path / "bom.csv"
    text = "\n".join(["name,id_number,category,region,phone", *rows]) + "\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    before = services.ledger.recorder.max_notification_id() or 0
    report = import_csv(services.ledger, path, ACTOR)
    assert report.imported == 1
    assert [line for line, _, _ in report.rejected] == [3, 4, 5, 6, 7, 8]
    reasons = dict((line, reason) for line, _, reason in report.rejected)
    assert "U+200B" in reasons[3] and "U+0000" in reasons[4] and "U+202E" in reasons[5]
    assert reasons[6].startswith("id_number") and reasons[7].startswith("category")
    assert reasons[8].startswith("name")
    # Only the good row's events were written.
    after = services.ledger.recorder.max_notification_id() or 0
    assert after > before
    again = import_csv(services.ledger, path, ACTOR)
    assert again.imported == 0 and again.existing == 1

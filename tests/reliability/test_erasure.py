"""Erasure (crypto-shredding): after a holder is erased, their name, ID number and phone
cannot be read back from anything the service stores, and the history still replays.

SQLite: the bytes of every file in the data directory (event stores, side database, their
WAL and shared-memory files). PostgreSQL: the contents of every table in the schema. Both
searched for the personal data in several encodings and for the holder's data key, raw and
wrapped; before the erasure the same scan must find the key (so the scan can fail).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import psycopg

from cardservice.api import presenters
from cardservice.application import IssueCardRequest
from cardservice.bootstrap.write import WriteSide
from projections import all_views
from projections.service import rebuild
from tests.conftest import PG_URL
from tests.factories import id_number
from tests.integration.test_projections import NATIONAL, catch_up, issue_many, snapshots

NAME = "欧阳震华"
PHONE = "13912345678"
ID_NUMBER = id_number(777, region="500103", born="19580214")


def text_needles() -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for label, text in (("name", NAME), ("id_number", ID_NUMBER), ("phone", PHONE)):
        for encoding in ("utf-8", "utf-16-le", "utf-16-be", "gb18030"):
            found[f"{label}/{encoding}"] = text.encode(encoding)
    return found


def key_needles(data_key: bytes, wrapped: bytes) -> dict[str, bytes]:
    return {
        "data key": data_key,
        "data key/b64": base64.b64encode(data_key),
        "wrapped key": wrapped,
        "wrapped key/b64": base64.b64encode(wrapped),
    }


def sqlite_hits(data_dir: Path, needles: dict[str, bytes]) -> list[str]:
    hits = []
    files = sorted(p for p in data_dir.rglob("*") if p.is_file())
    assert any(p.name.endswith("-wal") for p in files) or files, files
    for path in files:
        data = path.read_bytes()
        hits += [f"{label} in {path.name}" for label, n in needles.items() if n in data]
    return hits


def postgres_hits(schema: str, needles: dict[str, bytes]) -> list[str]:
    """Every row of every table, as PostgreSQL renders it (bytea as hex, text as text)."""
    hits = []
    with psycopg.connect(PG_URL) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            )
        ]
        assert len(tables) >= 5, tables
        for table in tables:
            rows = conn.execute(f'SELECT t::text FROM "{schema}"."{table}" t').fetchall()
            blob = "\n".join(r[0] for r in rows)
            for label, needle in needles.items():
                as_text = needle.decode("utf-8", errors="ignore") if "utf-8" in label else ""
                if (as_text and as_text in blob) or needle.hex() in blob:
                    hits.append(f"{label} in {table}")
    return hits


def hits(services: WriteSide, needles: dict[str, bytes]) -> list[str]:
    settings = services.settings
    if settings.is_postgres:
        return postgres_hits(settings.postgres_schema, needles)
    return sqlite_hits(settings.data_dir, needles)


def test_erased_holder_leaves_no_readable_personal_data(services: WriteSide) -> None:
    ledger = services.ledger
    issue_many(services, 30)
    target = ledger.issue_card(
        IssueCardRequest(
            name=NAME, id_number=ID_NUMBER, category="veteran", region="500103", phone=PHONE
        ),
        NATIONAL,
    ).card
    second = ledger.issue_cards_bulk(
        [
            IssueCardRequest(
                name=NAME,
                id_number=ID_NUMBER,
                category="active_family",
                region="500103",
                phone=PHONE,
            )
        ],
        NATIONAL,
    )[0]
    assert second.result == "issued"
    catch_up(services)
    holder_id = target.holder_id
    assert ledger.holder_personal(holder_id) == {
        "name": NAME,
        "id_number": ID_NUMBER,
        "phone": PHONE,
    }
    data_key = ledger._holder_data_key(holder_id, create=False)
    assert data_key is not None
    with services.db.read() as tx:
        row = tx.one("SELECT wrapped_key FROM holder_keys WHERE holder_id = ?", (str(holder_id),))
    assert row is not None
    keys = key_needles(data_key, bytes(row[0]))
    # The scan sees the wrapped key while it exists (so it would see a leftover copy).
    assert any(h.startswith("wrapped key") for h in hits(services, keys)), "scan is blind"

    revoked = ledger.erase_holder(holder_id, "holder's request", NATIONAL)
    assert sorted(revoked) == sorted([target.id, second.card_id])
    catch_up(services)

    found = hits(services, {**text_needles(), **keys})
    assert found == [], found
    assert ledger.holder_personal(holder_id) is None

    # History replays; every view rebuilt from the events equals the live one.
    assert ledger.card(target.id).status == "revoked"
    assert [h["type"] for h in presenters.history(ledger, holder_id)][-1] == "Erased"
    before = snapshots(services)
    for view in all_views():
        rebuild(services.sources(), view)
    after = snapshots(services)
    assert after == before
    card_rows = {row[0]: row for row in after["cards"]}
    assert card_rows[str(target.id)][2] == "revoked"
    # The other holders are untouched and still readable.
    others = [r for r in after["cards"] if r[0] not in (str(target.id), str(second.card_id))]
    assert len(others) == 30 and {r[2] for r in others} == {"active"}
    assert hits(services, text_needles()) == []


def test_erasure_survives_a_restart(services: WriteSide, settings: Any, clock: Any) -> None:
    """A fresh process (new WriteSide on the same store) replays the erased holder too."""
    card = services.ledger.issue_card(
        IssueCardRequest(
            name=NAME, id_number=ID_NUMBER, category="veteran", region="500103", phone=PHONE
        ),
        NATIONAL,
    ).card
    services.ledger.erase_holder(card.holder_id, "request", NATIONAL)
    again = WriteSide.build(settings, clock)
    try:
        assert again.ledger.holder_personal(card.holder_id) is None
        assert again.ledger.card(card.id).status == "revoked"
        catch_up(again)
        assert {r[0]: r[2] for r in snapshots(again)["cards"]}[str(card.id)] == "revoked"
    finally:
        again.close()

"""A database written by earlier code still reads back (SQLite and PostgreSQL).

`tests/data/old_database.json` was made by `tests/data/make_old_database.py` with the code
as it stood before the application layer was split into modules: each application's
stored events exactly as recorded (topics name the domain classes' modules; states are
ciphered with keys derived from the fixture's secret) and the side tables. The test writes
them into a fresh store through the recorders and checks that cards, credentials, holders,
keys, catalogs, merchants and tokens read back as that code answered, and that new writes
continue the old sequences.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import resolve_topic

from cardservice.api import presenters
from cardservice.application import IssueCardRequest
from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from cardservice.domain.actors import Actor
from cardservice.domain.errors import InvalidTransition
from tests.conftest import make_settings
from tests.factories import id_number

FIXTURE = json.loads(
    (Path(__file__).parent.parent / "data" / "old_database.json").read_text(encoding="utf-8")
)
EXPECTED: dict[str, Any] = FIXTURE["expected"]
NATIONAL = Actor(kind="admin", id="bootstrap", role="admin", region="000000")


def _stored(log: list[dict[str, Any]]) -> list[StoredEvent]:
    return [
        StoredEvent(
            originator_id=UUID(item["originator_id"]),
            originator_version=item["originator_version"],
            topic=item["topic"],
            state=base64.b64decode(item["state"]),
        )
        for item in log
    ]


@pytest.fixture
def old(backend: str, tmp_path: Path) -> Iterator[WriteSide]:
    settings, schema = make_settings(backend, tmp_path, secret=FIXTURE["secret"])
    svc = WriteSide.build(settings, FrozenClock(datetime.fromisoformat(FIXTURE["now"])))
    try:
        svc.ledger.recorder.insert_events(_stored(FIXTURE["ledger_log"]))
        svc.catalog.recorder.insert_events(_stored(FIXTURE["catalog_log"]))
        with svc.db.transaction() as tx:
            tx.executemany(
                "INSERT INTO holder_keys (holder_id, wrapped_key) VALUES (?, ?)",
                [(h, base64.b64decode(w)) for h, w in FIXTURE["holder_keys"]],
            )
            tx.executemany(
                "INSERT INTO sequences (name, last_value) VALUES (?, ?)",
                [tuple(row) for row in FIXTURE["sequences"]],
            )
        yield svc
    finally:
        svc.close()
        if schema is not None:
            schema.drop()


def test_topics_name_the_domain_modules() -> None:
    topics = {e["topic"] for e in FIXTURE["ledger_log"] + FIXTURE["catalog_log"]}
    assert topics and all(t.startswith("cardservice.domain.") for t in topics)
    for topic in topics:  # every recorded class still lives where the store says it does
        assert resolve_topic(topic).__qualname__ == topic.split(":")[1]


def test_the_stores_are_where_the_old_code_wrote_them(old: WriteSide, backend: str) -> None:
    """The application names key the stores (PostgreSQL tables, environment prefixes): a
    renamed application would start from an empty store beside the old one."""
    assert (old.ledger.name, old.catalog.name) == ("CardLedger", "CatalogAdmin")
    tables = {
        app.recorder.events_table_name  # type: ignore[attr-defined]
        for app in (old.ledger, old.catalog)
    }
    expected = {"cardledger_events", "catalogadmin_events"}
    assert tables == (expected if backend == "postgres" else {"stored_events"})


def test_cards_holders_and_credentials_read_back(old: WriteSide) -> None:
    for card_id, expected in EXPECTED["cards"].items():
        card = old.ledger.card(UUID(card_id))
        assert presenters.card_view(card, old.ledger.now()) == expected["view"]
        assert old.ledger.credential_for(card) == expected["qr"]
        assert [h["type"] for h in presenters.history(old.ledger, card.id)] == expected["history"]
        assert old.ledger.holder_personal(card.holder_id) == expected["personal"]
    # Keys recorded before keys had a use read back as card keys.
    assert presenters.public_keys(old.ledger.keyring()) == [
        {**k, "use": "card"} for k in EXPECTED["keys"]
    ]


def test_old_keys_are_card_keys_and_a_bundle_key_is_added_beside_them(old: WriteSide) -> None:
    ring = old.ledger.keyring()
    card_kid = ring.active_kid
    assert card_kid is not None and ring.active_bundle_kid is None
    bundle_kid, _ = old.ledger.bundle_signing_key()
    ring = old.ledger.keyring()
    assert (ring.active_kid, ring.active_bundle_kid) == (card_kid, bundle_kid)
    uses = {k["kid"]: k["use"] for k in presenters.public_keys(ring)}
    assert uses[bundle_kid] == "bundle"
    assert [u for kid, u in uses.items() if kid != bundle_kid] == ["card"] * (len(uses) - 1)
    with pytest.raises(InvalidTransition):
        old.ledger._signing_key(card_kid, "bundle")


def test_catalogs_merchants_and_tokens_read_back(old: WriteSide) -> None:
    for region, numbers in EXPECTED["catalog_versions"].items():
        assert [v.number for v in old.catalog.catalog_history(region)] == numbers
    effective = old.catalog.effective_catalog("500112").benefits
    assert [[b.region, b.benefit.id, b.version] for b in effective] == EXPECTED["effective_500112"]
    for merchant_id, expected in EXPECTED["merchants"].items():
        merchant = old.catalog.merchant(UUID(merchant_id))
        assert (merchant.name, merchant.active) == (expected["name"], expected["active"])
    secret, token_id = EXPECTED["tokens"]["active"]
    actor = old.catalog.authenticate(secret)
    assert actor is not None and (actor.id, actor.role, actor.region) == (
        token_id,
        "issuer",
        "500100",
    )
    assert old.catalog.authenticate(EXPECTED["tokens"]["revoked"][0]) is None


def test_new_writes_continue_the_old_history(old: WriteSide) -> None:
    old_cards = [old.ledger.card(UUID(c)) for c in EXPECTED["cards"]]
    fresh = old.ledger.issue_card(
        IssueCardRequest("王五", id_number(3), "veteran", "500112"), NATIONAL
    ).card
    assert fresh.card_number not in {c.card_number for c in old_cards}
    assert fresh.status_index > max(c.status_index for c in old_cards)
    suspended = next(c for c in old_cards if c.status == "suspended")
    old.ledger.change_status(suspended.id, "reinstate", "found", NATIONAL)
    with pytest.raises(InvalidTransition):
        old.ledger.change_status(suspended.id, "reinstate", "again", NATIONAL)
    number = old.catalog.publish_catalog("500112", "2026-07-01", [], NATIONAL)
    assert number == EXPECTED["catalog_versions"]["500112"][-1] + 1

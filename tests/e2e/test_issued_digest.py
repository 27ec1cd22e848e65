"""Online verification accepts only the bytes the ledger issued (`not_issued`), on SQLite and
PostgreSQL, through HTTP: a card minted with a stolen issuer key, a presentation of one, and
cards issued before the ledger recorded digests (the write side's backfill).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cardservice import credentials
from cardservice.bootstrap.serve import backfill
from cardservice.clock import FrozenClock
from cardservice.digests import backfill_credential_digests
from cardservice.domain.cards import Card
from cardservice.domain.identity import card_number
from cardservice.security import b64u
from projections.cards import select_card
from tests.merchant_support import PHONE, MerchantEnv, build_env, ptp1


@pytest.fixture
def env(backend: str, tmp_path: Path, clock: FrozenClock) -> Iterator[MerchantEnv]:
    yield from build_env(backend, tmp_path, clock)


def minted(env: MerchantEnv, qr: str, **changes: Any) -> str:
    """What a thief holding the issuer's private key makes: the same card id and version,
    other claims, correctly signed under the real kid."""
    parsed = credentials.parse_credential(qr)
    stolen = env.svc.ledger._signing_key(b64u(parsed.kid))
    return credentials.issue_ptc1(dataclasses.replace(parsed.claims, **changes), stolen)


def view_digest(env: MerchantEnv, card_id: str) -> str:
    with env.svc.db.read() as tx:
        row = select_card(tx, uuid.UUID(card_id))
    assert row is not None
    return row.credential_digest


def test_a_card_minted_with_the_stolen_key_is_not_issued(env: MerchantEnv) -> None:
    key = env.merchant()
    card = env.issue()
    env.wait_status(card["qr"], key, "valid")
    assert view_digest(env, card["card_id"]) == credentials.credential_digest(
        credentials.parse_credential(card["qr"]).card_bytes
    )
    parsed = credentials.parse_credential(card["qr"])
    for changes in (
        {"masked_name": "王*五"},
        {"expires_at": parsed.claims.expires_at + 10 * 365 * 86400},
        {"category": "martyr_family"},
    ):
        forged = minted(env, card["qr"], **changes)
        verdict = env.verify(forged, key).json()
        assert verdict["status"] == "not_issued" and verdict["valid"] is False
        assert verdict["benefits"] == [] and verdict["card"] is not None
    # Still refused once the card is revoked (not_issued comes first), and the genuine one
    # says revoked.
    env.action(card, "revoke")
    env.wait_status(card["qr"], key, "revoked")
    assert env.verify(minted(env, card["qr"], masked_name="王*五"), key).json()["status"] == (
        "not_issued"
    )


def test_a_presentation_of_a_minted_card_is_not_issued(env: MerchantEnv) -> None:
    key = env.merchant()
    card = env.issue()
    bound = env.bind(card)
    env.wait_status(ptp1(bound, env.now()), key, "valid")
    assert view_digest(env, card["card_id"]) == credentials.credential_digest(
        credentials.parse_credential(bound).card_bytes
    )
    forged_card = minted(env, bound, masked_name="王*五")  # same cnf: the thief's own phone
    verdict = env.verify(ptp1(forged_card, env.now(), PHONE), key).json()
    assert verdict["status"] == "not_issued" and verdict["presentation"] == "device_bound"
    # The genuine presentation still verifies; the old version is superseded, not not_issued.
    assert env.verify(ptp1(bound, env.now()), key).json()["status"] == "valid"
    assert env.verify(card["qr"], key).json()["status"] == "superseded"


def _old_card(env: MerchantEnv) -> tuple[str, str]:
    """A card issued before the ledger recorded digests: its Issued event has no
    `credential_digest` at all, as events stored by the earlier version do."""
    ledger = env.svc.ledger
    card = Card(
        card_id=uuid.uuid4(),
        holder_id=uuid.uuid4(),
        card_number=card_number("500112", 2026, 9_000_001),
        category="veteran",
        region="500112",
        masked_name="赵*六",
        issued_at=env.clock.now(),
        expires_on="2036-06-01",
        status_index=ledger.db.allocate("status_index"),
        kid=ledger.active_kid(),
        actor={"kind": "system", "id": "t", "role": "system", "region": "000000"},
        command_id="",
        request_digest="",
    )
    (issued,) = card.pending_events
    object.__delattr__(issued, "credential_digest")  # the field did not exist back then
    ledger.save(card)
    stored = ledger.events.get(card.id)
    assert "credential_digest" not in next(iter(stored)).__dict__
    return str(card.id), ledger.credential_for(ledger.card(card.id))


def test_a_card_issued_before_digests_gets_one_from_the_backfill(env: MerchantEnv) -> None:
    key = env.merchant()
    card_id, qr = _old_card(env)
    # Until the backfill, the view has no digest: the card verifies by its signature.
    env.wait_status(qr, key, "valid")
    assert view_digest(env, card_id) == ""
    recorded = backfill_credential_digests(env.svc.ledger, env.svc.db)
    assert recorded == 1
    issued = credentials.credential_digest(credentials.parse_credential(qr).card_bytes)
    assert env.svc.ledger.card(uuid.UUID(card_id)).credential_digest == issued
    env.wait_status(minted(env, qr, masked_name="钱*七"), key, "not_issued")
    assert view_digest(env, card_id) == issued
    assert env.verify(qr, key).json()["status"] == "valid"
    # Idempotent, and a later start looks only at what is new.
    assert backfill_credential_digests(env.svc.ledger, env.svc.db) == 0
    history = [type(e).__name__ for e in env.svc.ledger.events.get(uuid.UUID(card_id))]
    assert history == ["Issued", "CredentialDigestRecorded"]


def test_the_write_side_runs_the_backfill_at_start(env: MerchantEnv) -> None:
    key = env.merchant()
    card_id, qr = _old_card(env)
    env.wait_status(qr, key, "valid")
    backfill(env.svc)  # what `serve` and `worker` run first at start
    assert env.svc.ledger.card(uuid.UUID(card_id)).credential_digest != ""
    env.wait_status(minted(env, qr, masked_name="钱*七"), key, "not_issued")


def test_a_view_made_before_the_digest_gains_its_column(backend: str, tmp_path: Path) -> None:
    from cardservice import migrations
    from cardservice.storage import Database
    from projections.cards import CardStatusView
    from projections.runner import create_tables
    from tests.conftest import make_settings

    settings, schema = make_settings(backend, tmp_path)
    db = Database(settings)
    try:
        old_ddl = (
            CardStatusView()
            .ddl(db.dialect)[0]
            .replace(",\n                credential_digest TEXT NOT NULL DEFAULT ''", "")
        )
        assert "credential_digest" not in old_ddl
        db.create_tables([old_ddl])  # as the code before the digest made it
        with db.transaction() as tx:
            tx.execute(
                "INSERT INTO view_cards (card_id, card_number, status, version, status_index, "
                "kid, region, category, masked_name, expires, device_key, issued_at) "
                "VALUES (?, ?, 'active', 1, 7, 'k', '500112', 'veteran', '张*明', "
                "'2036-06-01', NULL, '2026-06-01T00:00:00+00:00')",
                (str(uuid.UUID(int=5)), card_number("500112", 2026, 5)),
            )
        assert [m.version for m in migrations.migrate(db)] == [
            m.version for m in migrations.MIGRATIONS
        ]
        create_tables(db, [CardStatusView()])  # and again: idempotent
        with db.read() as tx:
            row = select_card(tx, uuid.UUID(int=5))
        assert row is not None and row.credential_digest == ""
    finally:
        db.close()
        if schema is not None:
            schema.drop()

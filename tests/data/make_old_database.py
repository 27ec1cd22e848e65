"""Writes `old_database.json`: the stored events of a small database made by the code of
the day, so that later code can prove it still reads them (tests/integration/
test_old_database.py). Run from the repository root: `python -m tests.data.make_old_database`.

The dump holds each application's notification log as recorded (topic and the ciphered,
compressed state), the side tables (wrapped holder keys, sequences) and what the code of
the day answered about that state, to compare with.
"""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from cardservice import credentials
from cardservice.api import presenters
from cardservice.application import IssueCardRequest
from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from cardservice.domain.actors import Actor
from cardservice.security import b64u
from cardservice.settings import Settings
from tests.conftest import ADMIN_TOKEN, START
from tests.factories import id_number

OUT = Path(__file__).with_name("old_database.json")
SECRET = "old-database-master-secret"
NATIONAL = Actor(kind="admin", id="bootstrap", role="admin", region="000000")
# A fixed P-256 device key (test seed), as a phone would export it.
DEVICE = ec.derive_private_key(0x5EED, ec.SECP256R1())
DEVICE_JWK = {
    "kty": "EC",
    "crv": "P-256",
    "x": b64u(DEVICE.public_key().public_numbers().x.to_bytes(32, "big")),
    "y": b64u(DEVICE.public_key().public_numbers().y.to_bytes(32, "big")),
}
BENEFITS = [
    {
        "id": "bus",
        "title": "公交免费",
        "partner": "重庆公交",
        "category": "transport",
        "discount": "免费",
        "holder_categories": ["veteran"],
        "local_only": True,
        "merchant_categories": ["transport"],
    }
]


def _log(app: Any) -> list[dict[str, Any]]:
    return [
        {
            "originator_id": str(n.originator_id),
            "originator_version": n.originator_version,
            "topic": n.topic,
            "state": base64.b64encode(n.state).decode(),
        }
        for n in app.recorder.select_notifications(start=1, limit=100_000)
    ]


def build(data_dir: Path) -> dict[str, Any]:
    settings = Settings(
        database_url=None, data_dir=data_dir, admin_token=ADMIN_TOKEN, secret=SECRET
    )
    svc = WriteSide.build(settings, FrozenClock(START))
    try:
        ledger, catalog = svc.ledger, svc.catalog
        first = ledger.issue_card(
            IssueCardRequest("张三明", id_number(1), "veteran", "500112", phone="13800000000"),
            NATIONAL,
            command_id="old-1",
            request_digest="d1",
        )
        second = ledger.issue_card(
            IssueCardRequest("李四", id_number(2), "martyr_family", "500100"), NATIONAL
        ).card
        assert first.activation is not None
        ledger.activate(first.activation.code, device_hint="phone")
        ledger.bind_device_key(first.card.id, credentials.DeviceKey.from_jwk(DEVICE_JWK))
        ledger.change_status(second.id, "suspend", "lost", NATIONAL)
        ledger.new_activation_code(second.id, NATIONAL, "new phone")
        ledger.rotate_key(NATIONAL)
        v1 = catalog.publish_catalog("500112", "2026-01-01", BENEFITS, NATIONAL)
        v2 = catalog.publish_catalog("500112", "2026-05-01", BENEFITS[:0], NATIONAL)
        national = catalog.publish_catalog(
            "000000", "2026-01-01", [dict(BENEFITS[0], id="rail", local_only=False)], NATIONAL
        )
        merchant = catalog.register_merchant(
            name="重庆公交",
            region="500112",
            kind="merchant",
            categories=["transport"],
            a_level=None,
            require_device_binding=False,
            actor=NATIONAL,
        ).merchant
        gone = catalog.register_merchant(
            name="Closed",
            region="500100",
            kind="scenic_site",
            categories=[],
            a_level=4,
            require_device_binding=True,
            actor=NATIONAL,
        ).merchant
        catalog.deactivate_merchant(gone.id, "closed", NATIONAL)
        token, token_id = catalog.mint_token("issuer", "500100", NATIONAL)
        revoked, revoked_id = catalog.mint_token("auditor", "500000", NATIONAL)
        catalog.revoke_token(revoked_id, "left", NATIONAL)
        cards = {}
        for card_id in (first.card.id, second.id):
            card = ledger.card(card_id)
            cards[str(card_id)] = {
                "view": presenters.card_view(card, ledger.now()),
                "qr": ledger.credential_for(card),
                "history": [h["type"] for h in presenters.history(ledger, card_id)],
                "personal": ledger.holder_personal(card.holder_id),
            }
        with svc.db.transaction() as tx:
            holder_keys = [
                [h, base64.b64encode(bytes(w)).decode()]
                for h, w in tx.all("SELECT holder_id, wrapped_key FROM holder_keys")
            ]
            sequences = [list(r) for r in tx.all("SELECT name, last_value FROM sequences")]
        return {
            "secret": SECRET,
            "now": START.isoformat(),
            "ledger_log": _log(ledger),
            "catalog_log": _log(catalog),
            "holder_keys": holder_keys,
            "sequences": sequences,
            "expected": {
                "cards": cards,
                "keys": presenters.public_keys(ledger.keyring()),
                "catalog_versions": {"500112": [v1, v2], "000000": [national]},
                "effective_500112": [
                    [b.region, b.benefit.id, b.version]
                    for b in catalog.effective_catalog("500112").benefits
                ],
                "merchants": {
                    str(m.id): {"name": m.name, "active": catalog.merchant(m.id).active}
                    for m in (merchant, gone)
                },
                "tokens": {
                    "active": [token, str(token_id)],
                    "revoked": [revoked, str(revoked_id)],
                },
            },
        }
    finally:
        svc.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        data = build(Path(tmp))
    OUT.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=str) + "\n")
    print(f"wrote {OUT}")

"""Helpers for merchant API tests: the whole service (admin API + merchant API + projections
running in-process) on SQLite or PostgreSQL, and real credentials built with real keys.

Only the clock is fake. Views lag writes, so `wait_status` polls with a short deadline.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardservice import credentials
from cardservice.bootstrap.serve import Background
from cardservice.bootstrap.write import WriteSide
from cardservice.clock import FrozenClock
from cardservice.credentials import cose
from tests.conftest import ADMIN_TOKEN, make_settings
from tests.factories import activated, card_body

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
DEADLINE_SECONDS = 10.0

# Fixed test seeds: a foreign issuer key and a holder's phone key.
FOREIGN_ISSUER = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PHONE = ec.derive_private_key(0x5EED_CAFE_F00D, ec.SECP256R1())
OTHER_PHONE = ec.derive_private_key(0xBAD_5EED, ec.SECP256R1())


def phone_jwk(key: ec.EllipticCurvePrivateKey = PHONE) -> dict[str, str]:
    return credentials.DeviceKey.from_public_key(key.public_key()).to_jwk()


def card_bytes(qr: str) -> bytes:
    return credentials.parse_credential(qr).card_bytes


def ptp1(qr: str, t: int, key: ec.EllipticCurvePrivateKey = PHONE) -> str:
    return credentials.encode_ptp1(card_bytes(qr), t, key)


def resigned(qr: str, key: Ed25519PrivateKey = FOREIGN_ISSUER) -> str:
    """The same claims signed by another issuer key (so under that key's kid)."""
    parsed = credentials.parse_credential(qr)
    return credentials.issue_ptc1(parsed.claims, key)


def forged_under_real_kid(qr: str, key: Ed25519PrivateKey = FOREIGN_ISSUER) -> str:
    """Claims signed by another key but naming the real issuer's kid."""
    parsed = credentials.parse_credential(qr)
    protected = cose.protected_header(parsed.kid)
    signature = key.sign(cose.sig_structure(protected, parsed.payload))
    message = cbor2.dumps(
        cbor2.CBORTag(18, [protected, {}, parsed.payload, signature]), canonical=True
    )
    return credentials.encode_ptc1(message)


@dataclass
class MerchantEnv:
    svc: WriteSide
    client: Any
    clock: FrozenClock
    background: Background | None = None
    seq: int = 0
    merchants: list[dict[str, Any]] = field(default_factory=list)

    def issue(self, **kw: Any) -> dict[str, Any]:
        self.seq += 1
        valid_years = kw.pop("valid_years", None)
        body = card_body(self.seq, **kw)
        if valid_years is not None:
            body["valid_years"] = valid_years
        resp = self.client.post("/v1/admin/cards", json=body, headers=ADMIN)
        assert resp.status_code == 201, resp.text
        card = activated(self.client, resp.json())  # a phone holds it: `holder_token`
        self.wait_session(card)
        return card

    def wait_session(self, card: dict[str, Any]) -> None:
        """Poll until the read side's session view opens the holder log to this token."""
        path = f"/v1/cards/{card['card_id']}/verifications"
        deadline = time.monotonic() + DEADLINE_SECONDS
        while self.client.get(path, headers=holder(card)).status_code != 200:
            assert time.monotonic() < deadline, "the session never reached the read side"
            time.sleep(0.01)

    def action(self, card: dict[str, Any], action: str) -> None:
        resp = self.client.post(
            f"/v1/admin/cards/{card['card_id']}/{action}", json={"reason": "test"}, headers=ADMIN
        )
        assert resp.status_code == 200, resp.text

    def bind(self, card: dict[str, Any], key: ec.EllipticCurvePrivateKey = PHONE) -> str:
        resp = self.client.post(
            f"/v1/cards/{card['card_id']}/device-key",
            json={"jwk": phone_jwk(key)},
            headers=holder(card),
        )
        assert resp.status_code == 200, resp.text
        qr: str = resp.json()["qr"]
        return qr

    def merchant(self, **kw: Any) -> dict[str, str]:
        body: dict[str, Any] = {
            "name": kw.pop("name", f"商户{len(self.merchants) + 1}"),
            "region": kw.pop("region", "500112"),
            "kind": kw.pop("kind", "merchant"),
            "categories": kw.pop("categories", ["dining"]),
        }
        body.update(kw)
        resp = self.client.post("/v1/admin/merchants", json=body, headers=ADMIN)
        assert resp.status_code == 201, resp.text
        self.merchants.append(resp.json())
        headers = {"Authorization": f"Bearer {resp.json()['api_key']}"}
        self.wait_authenticated(headers)
        return headers

    def wait_authenticated(self, headers: dict[str, str]) -> None:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            resp = self.client.get("/v1/verifications", headers=headers)
            if resp.status_code == 200:
                return
            assert time.monotonic() < deadline, f"merchant key never accepted: {resp.text}"
            time.sleep(0.02)

    def verify(self, qr: Any, headers: dict[str, str]) -> Any:
        return self.client.post("/v1/verify", json={"qr": qr}, headers=headers)

    def wait_status(
        self, qr: str, headers: dict[str, str], status: str, deadline: float = DEADLINE_SECONDS
    ) -> dict[str, Any]:
        """Poll /v1/verify until the verdict has `status` (the views lag writes)."""
        end = time.monotonic() + deadline
        while True:
            resp = self.verify(qr, headers)
            assert resp.status_code == 200, resp.text
            verdict: dict[str, Any] = resp.json()
            if verdict["status"] == status:
                return verdict
            assert time.monotonic() < end, f"still {verdict['status']}, wanted {status}"
            time.sleep(0.01)

    def now(self) -> int:
        return int(self.clock.now().timestamp())


def holder(card: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {card['holder_token']}"}


def unknown_card_qr(env: MerchantEnv) -> str:
    """Correctly signed by the real issuer key, for a card the ledger never issued."""
    from cardservice.domain.cards import Card
    from cardservice.domain.identity import card_number

    ledger = env.svc.ledger
    card = Card(
        card_id=uuid.uuid4(),
        holder_id=uuid.uuid4(),
        card_number=card_number("500112", 2026, 9_999_999),
        category="veteran",
        region="500112",
        masked_name="李*四",
        issued_at=env.clock.now(),
        expires_on="2036-06-01",
        status_index=2_000_000_000,
        kid=ledger.active_kid(),
        actor={"kind": "system", "id": "t", "role": "system", "region": "000000"},
        command_id="",
        request_digest="",
    )
    return ledger.credential_for(card)


def build_env(
    backend: str, tmp_path: Path, clock: FrozenClock, **overrides: Any
) -> Iterator[MerchantEnv]:
    from fastapi.testclient import TestClient

    from cardservice.bootstrap.serve import add_background, served_app

    overrides.setdefault("merchant_rate", 0)
    overrides.setdefault("bundle_rate_per_minute", 0)
    settings, schema = make_settings(backend, tmp_path, **overrides)
    svc = WriteSide.build(settings, clock)
    background = add_background(svc)  # the projections and the signer, as `serve` runs them
    svc.lifecycle.start()
    try:
        app = served_app(svc, run_projections=False, own=False)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield MerchantEnv(svc=svc, client=client, clock=clock, background=background)
    finally:
        svc.close()
        if schema is not None:
            schema.drop()

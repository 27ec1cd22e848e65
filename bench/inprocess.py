"""In-process verification against raw Ed25519 and P-256, and the QR versions of the credentials.

`verify_vs_ed25519`: `MerchantApi.adecide`, the path the HTTP route awaits (decode, card
status lookup, the issued-digest comparison that stands in for the issuer signature,
catalog eligibility, verdict), per second over valid first-seen static cards (the
verified-signature memo off), divided by `Ed25519PublicKey.verify` per second over the
same cards' signed structures, in alternating rounds in one process. `ptp1_vs_p256`: the
same for fresh PTP1 presentations of bound cards (the holder's ES256 signature is checked
every time) against a raw P-256 verify of the same signatures. Verifications run 50 at a
time on one event loop, as the route's requests do under load. On SQLite (the lookup is a
local read) and PostgreSQL (concurrent lookups share round trips: the reader coalesces them).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from bench.cluster import ACTOR, pg_schema, pg_settings
from bench.issuance import requests
from cardservice import credentials
from cardservice.clock import SystemClock
from cardservice.credentials import cose
from cardservice.services import Services
from cardservice.settings import Settings
from projections.service import runners_for

PHONE = ec.derive_private_key(0x5EED_B0B, ec.SECP256R1())
PHONE_KEY = PHONE.public_key()
ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def per_second(fifty: Callable[[], None], seconds: float) -> float:
    """Operations per second; `fifty` performs 50 of them."""
    count, began = 0, time.perf_counter()
    deadline = began + seconds
    while time.perf_counter() < deadline:
        fifty()
        count += 50
    return count / (time.perf_counter() - began)


def measure(settings: Settings, cards: int, seconds: float, rounds: int) -> dict[str, Any]:
    os.environ["CARDSERVICE_SIGNATURE_MEMO"] = "0"  # every verification checks its signature
    from merchant_api.service import MerchantApi

    svc = Services.build(settings, SystemClock())
    try:
        svc.ledger.keyring()
        merchant = svc.catalog.register_merchant(
            name="压测商户",
            region="500112",
            kind="merchant",
            categories=["dining"],
            a_level=None,
            require_device_binding=False,
            actor=ACTOR,
        )
        outcomes = svc.ledger.issue_cards_bulk(requests(0, cards), ACTOR, source="inprocess")
        ids = [o.card_id for o in outcomes if o.card_id is not None]
        # The last fifth is bound to a phone: their PTP1 presentations are the second figure.
        bound_ids = ids[-max(1, cards // 5) :]
        for card_id in bound_ids:
            svc.ledger.bind_device_key(card_id, credentials.DeviceKey.from_public_key(PHONE_KEY))
        qrs = [svc.ledger.credential_for(svc.ledger.card(i)) for i in ids[: -len(bound_ids)]]
        bound_cards = [
            credentials.parse_credential(svc.ledger.credential_for(svc.ledger.card(i))).card_bytes
            for i in bound_ids
        ]
        for runner in runners_for(svc):
            runner.setup()
            runner.catch_up()
        api = MerchantApi(svc)
        api.setup()
        who = api.authenticate(merchant.api_key)
        assert who is not None
        public = svc.ledger._signing_key(svc.ledger.active_kid()).public_key()
        signed = []
        for qr in qrs:
            parsed = credentials.parse_credential(qr)
            signed.append((parsed.signature, cose.sig_structure(parsed.protected, parsed.payload)))
        verdict, _ = api.decide(who, qrs[0])
        if verdict["status"] != "valid":
            raise RuntimeError(f"bench card not valid: {verdict}")
        state = {"i": 0}
        loop = asyncio.new_event_loop()

        async def decide_many(count: int) -> None:
            # Concurrently, as the route's requests arrive under load: on PostgreSQL the
            # lookups then share round trips (the reader coalesces them).
            state["i"] += count
            start = state["i"]
            await asyncio.gather(
                *(api.adecide(who, qrs[(start + k) % len(qrs)]) for k in range(count))
            )

        def one_decide() -> None:
            loop.run_until_complete(decide_many(50))

        def one_ed25519() -> None:
            for _ in range(50):
                state["i"] += 1
                signature, message = signed[state["i"] % len(signed)]
                public.verify(signature, message)

        presentations: list[str] = []
        holder_signed: list[tuple[bytes, bytes]] = []

        def present() -> None:
            """Fresh presentations (t = now) of the bound cards, and the ES256 signatures
            and messages inside them (what a raw P-256 verify checks)."""
            now = int(time.time())
            presentations[:] = [credentials.encode_ptp1(c, now, PHONE) for c in bound_cards]
            holder_signed[:] = []
            for text in presentations:
                parsed = credentials.parse_credential(text)
                sig = parsed.holder_signature or b""
                der = encode_dss_signature(
                    int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
                )
                message = cbor2.dumps(
                    ["PTP1", hashlib.sha256(parsed.card_bytes).digest(), parsed.presented_at],
                    canonical=True,
                )
                holder_signed.append((der, message))

        async def decide_presentations(count: int) -> None:
            state["i"] += count
            start = state["i"]
            verdicts = await asyncio.gather(
                *(
                    api.adecide(who, presentations[(start + k) % len(presentations)])
                    for k in range(count)
                )
            )
            if verdicts[0][0]["status"] != "valid":
                raise RuntimeError(f"bench presentation not valid: {verdicts[0][0]}")

        def one_ptp1() -> None:
            loop.run_until_complete(decide_presentations(50))

        def one_p256() -> None:
            for _ in range(50):
                state["i"] += 1
                der, message = holder_signed[state["i"] % len(holder_signed)]
                PHONE_KEY.verify(der, message, ECDSA_SHA256)

        present()
        per_second(one_decide, 0.5)
        per_second(one_ed25519, 0.5)
        per_second(one_ptp1, 0.5)
        per_second(one_p256, 0.5)
        decide_rates, ed_rates, ptp1_rates, p256_rates = [], [], [], []
        for _ in range(rounds):
            decide_rates.append(per_second(one_decide, seconds))
            ed_rates.append(per_second(one_ed25519, seconds))
            present()  # well inside the 60 s window for the round that follows
            ptp1_rates.append(per_second(one_ptp1, seconds))
            p256_rates.append(per_second(one_p256, seconds))
        api.log.flush()
        loop.run_until_complete(api.cards.aclose())
        loop.close()
        api.close()
        decide_rate, ed_rate = statistics.median(decide_rates), statistics.median(ed_rates)
        ptp1_rate, p256_rate = statistics.median(ptp1_rates), statistics.median(p256_rates)
        return {
            "verify_per_s": decide_rate,
            "ed25519_per_s": ed_rate,
            "verify_vs_ed25519": decide_rate / ed_rate,
            "verify_us": 1e6 / decide_rate,
            "ed25519_us": 1e6 / ed_rate,
            "ptp1_verify_per_s": ptp1_rate,
            "p256_verify_per_s": p256_rate,
            "ptp1_vs_p256": ptp1_rate / p256_rate,
            "ptp1_verify_us": 1e6 / ptp1_rate,
            "p256_us": 1e6 / p256_rate,
        }
    finally:
        svc.close()


def run(cards: int = 500, seconds: float = 2.0, rounds: int = 3) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-inproc-") as tmp:
        lite = Settings(
            database_url=None,
            data_dir=Path(tmp) / "lite",
            secret="bench",
            admin_token="x" * 40,
            merchant_rate=0,
        )
        out["sqlite"] = measure(lite, cards, seconds, rounds)
        with pg_schema("bench_inproc") as schema:
            pg = pg_settings(schema, Path(tmp) / "pg", pool_size=2, merchant_rate=0)
            out["postgres"] = measure(pg, cards, seconds, rounds)
    return out


def qr_versions() -> dict[str, Any]:
    """The largest QR versions (error correction M) over every category, the longest
    masked names, unbound and device-bound cards, and their PTP1 presentations."""
    import uuid

    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from cardservice.domain.identity import card_number

    issuer = Ed25519PrivateKey.from_private_bytes(bytes(32))
    phone = ec.derive_private_key(12345, ec.SECP256R1())
    device = credentials.DeviceKey.from_public_key(phone.public_key())
    now = int(time.time())
    found: dict[str, Any] = {"ptc1": [], "ptc1_bound": [], "ptp1": []}
    for category in credentials.CATEGORIES:
        for name in ("王", "张三", "欧阳震华", "阿卜杜热合曼·买买提"):
            for bound in (False, True):
                claims = credentials.CardClaims(
                    issuer_region="659004",
                    issued_at=now,
                    expires_at=now + 50 * 365 * 86400,
                    card_id=uuid.uuid4(),
                    card_number=card_number("659004", 2026, 9_999_999),
                    category=category,
                    region="659004",
                    masked_name=credentials.mask_name(name),
                    version=99,
                    status_index=2**31 - 1,
                    device_key=device if bound else None,
                )
                text = credentials.issue_ptc1(claims, issuer)
                found["ptc1_bound" if bound else "ptc1"].append(
                    (credentials.qr_version(text), len(text))
                )
                if bound:
                    card = credentials.parse_credential(text).card_bytes
                    ptp1 = credentials.encode_ptp1(card, now, phone)
                    found["ptp1"].append((credentials.qr_version(ptp1), len(ptp1)))
    return {
        kind: {"max_version": max(v for v, _ in items), "max_chars": max(n for _, n in items)}
        for kind, items in found.items()
    }

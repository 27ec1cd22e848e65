"""Presentation of write-side state as the routes and the CLI answer it: card views, the
holder's own view, issuer public keys as JWKs and an aggregate's history.

Simple types only (the eventsourcing cargo-shipping example's "interface" layer): the
applications return aggregates, this module shapes them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from cardservice.application import CardLedger
from cardservice.clock import SHANGHAI
from cardservice.domain.cards import Card
from cardservice.domain.keys import IssuerKeyring
from cardservice.http.schemas import jwk


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat() if when is not None else None


def card_view(card: Card, now: datetime) -> dict[str, Any]:
    """A card as administrators see it (status as of `now`'s Asia/Shanghai date)."""
    return {
        "card_id": str(card.id),
        "card_number": card.card_number,
        "status": card.status_on(now.astimezone(SHANGHAI).date()),
        "category": card.category,
        "region": card.region,
        "masked_name": card.masked_name,
        "version": card.card_version,
        "status_index": card.status_index,
        "kid": card.kid,
        "issued_at": card.issued_at.astimezone(UTC).isoformat(),
        "expires": card.expires_on,
        "device_bound": card.device_key is not None,
        "holder_id": str(card.holder_id),
        "activation": {
            "state": card.activation_state(now),
            "expires_at": _iso(card.activation_expires_at),
            "activated_at": _iso(card.activated_at),
        },
    }


def holder_view(ledger: CardLedger, card: Card) -> dict[str, Any]:
    """What the holder's own phone is given: the masked card and its current QR."""
    fresh = ledger.refresh_signature(card)
    view = card_view(fresh, ledger.now())
    view.pop("holder_id", None)
    view["qr"] = ledger.credential_for(fresh)
    return view


def public_keys(ring: IssuerKeyring) -> list[dict[str, Any]]:
    """The issuer's public keys as Ed25519 JWKs with their use and status."""
    return [
        jwk(k["kid"], k["public_key"], k.get("use", "card"), k["status"], k["not_after"])
        for k in ring.keys.values()
    ]


HIDDEN_FIELDS = frozenset({"token_hash", "token_sha256"})
"""Session token hashes: nothing an auditor needs, so never shown."""


def history(app: Application[UUID], aggregate_id: UUID) -> list[dict[str, Any]]:
    """An aggregate's events in order, as an auditor reads them (sealed fields left out)."""
    items = []
    for ev in app.events.get(aggregate_id):
        data = {
            k: v
            for k, v in ev.__dict__.items()
            if k not in ("originator_id", "originator_topic", "timestamp", "request_digest")
        }
        items.append(
            {
                "type": type(ev).__name__,
                "version": data.pop("originator_version"),
                "at": (
                    data.pop("at", None)
                    or data.pop("issued_at", None)
                    or getattr(ev, "timestamp", None)
                ),
                "actor": data.pop("actor", None),
                "reason": data.pop("reason", None),
                "data": {
                    k: v
                    for k, v in data.items()
                    if not k.startswith("sealed") and k not in HIDDEN_FIELDS
                },
            }
        )
    return items

"""The holder's endpoints on the read side, opened by the token of the card's live session.

The merchant API holds no key, so it cannot check a holder token the way the write side
does (a keyed hash in the card's events). It looks the token's plain SHA-256 up in the
holder-session view instead: a session that ended leaves the view, so the token of a lost
phone is refused here as soon as the view catches up. The read goes to the primary
database (never a standby): a session that just ended must not open the log again.
"""

from __future__ import annotations

import hmac
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request

from cardservice.http.auth import bearer, unauthorized
from cardservice.http.fields import parse_id
from cardservice.security import HolderTokens, token_hash
from cardservice.storage import Database
from projections.sessions import select_session_card


class SessionLookup:
    """Which card a holder token opens, by the session view (no key needed)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def opens(self, card_id: UUID, token: str | None) -> bool:
        if token is None or not HolderTokens.plausible(token):
            return False
        with self._db.read() as tx:
            found = select_session_card(tx, token_hash(token))
        return found is not None and hmac.compare_digest(found.bytes, card_id.bytes)


def session_lookup(request: Request) -> SessionLookup:
    lookup = getattr(request.app.state, "session_lookup", None)
    if not isinstance(lookup, SessionLookup):
        lookup = SessionLookup(request.app.state.merchant_api.db)
        request.app.state.session_lookup = lookup
    return lookup


def session_card_id(card_id: str, request: Request) -> UUID:
    """The card id a holder token opens on the read side; 401 for anything else."""
    parsed = parse_id(card_id)
    token = bearer(request.headers.get("authorization"))
    if parsed is None or not session_lookup(request).opens(parsed, token):
        raise unauthorized()
    return parsed


SessionCardId = Annotated[UUID, Depends(session_card_id)]

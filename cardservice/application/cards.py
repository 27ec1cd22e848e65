"""A card's life after issuance: status changes, device-key binding, re-signing after a key
compromise, and its credential (claims, PTC1 text)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from uuid import UUID

from cardservice import credentials
from cardservice.application.base import IdempotencyMismatch, end_of_day, require_scope, retrying
from cardservice.application.keys import IssuerKeys
from cardservice.domain.activation import REPLAY_WINDOW
from cardservice.domain.actors import Actor
from cardservice.domain.cards import Card
from cardservice.domain.errors import Conflict, InvalidInput, NotFound
from cardservice.domain.holders import Holder
from cardservice.domain.keys import COMPROMISED


class CardLifecycle(IssuerKeys):
    """Suspend, reinstate, revoke, bind a device key, re-sign; every change is an event."""

    def card(self, card_id: UUID) -> Card:
        card = self._get_or_none(card_id)
        if not isinstance(card, Card):
            raise NotFound(f"no card {card_id}")
        return card

    def card_for(self, card_id: UUID, actor: Actor, permission: str = "read") -> Card:
        card = self.card(card_id)
        require_scope(actor, card.region, permission)
        return card

    def change_status(
        self, card_id: UUID, action: str, reason: str, actor: Actor, command_id: str = ""
    ) -> Card:
        """suspend | reinstate | revoke, with a reason; a retried command is applied once."""
        if action not in ("suspend", "reinstate", "revoke"):
            raise InvalidInput(f"unknown action {action}")

        def command() -> Card:
            card = self.card_for(card_id, actor, "cards")
            since = self.now() - REPLAY_WINDOW  # a key answers again for 24 h, then is new
            done = [
                e
                for e in self.events.get(card_id)
                if command_id
                and getattr(e, "command_id", None) == command_id
                and getattr(e, "at", since) >= since
            ]
            if done:
                if getattr(done[0], "reason", None) != (reason or "").strip():
                    raise IdempotencyMismatch("Idempotency-Key reused with another request body")
                first: Card = self.repository.get(card_id, version=done[0].originator_version)
                return first  # the first answer again, as it was
            now = self.now()
            if action == "suspend":
                card.suspend(reason, actor.as_dict(), now, command_id)
                self.save(card)
            elif action == "reinstate":
                card.reinstate(reason, actor.as_dict(), now, command_id)
                self.save(card)
            else:
                card.revoke(reason, actor.as_dict(), now, command_id)
                holder: Holder = self.repository.get(card.holder_id)
                holder.release_card(card.category, card.id, "revoked", now)
                self.save(card, holder)
            return card

        return retrying(command)

    def bind_device_key(self, card_id: UUID, device_key: credentials.DeviceKey) -> Card:
        """Reissue the card bound to the holder's phone key: old QR codes become superseded.
        At most five a day (then `RateLimited`, 429)."""

        def command() -> Card:
            card = self.card(card_id)
            if card.status == "revoked":
                raise Conflict("the card is revoked")
            now = self.now()
            card.require_binding_allowed(now)  # before a status index is spent on it
            index, kid = self.db.allocate("status_index"), self.active_kid()
            jwk = device_key.to_jwk()
            card.bind_device_key(
                status_index=index,
                kid=kid,
                device_key=jwk,
                actor=Actor(
                    kind="holder", id=str(card_id), role="holder", region=card.region
                ).as_dict(),
                at=now,
                credential_digest=self.next_version_digest(
                    card, status_index=index, kid=kid, device_key=jwk, at=now
                ),
            )
            self.save(card)
            return card

        return retrying(command)

    def refresh_signature(self, card: Card) -> Card:
        """A card signed by a compromised key is reissued under the active key on demand."""
        if self.keyring().key(card.kid)["status"] != COMPROMISED or card.status == "revoked":
            return card

        def command() -> Card:
            fresh = self.card(card.id)
            if self.keyring().key(fresh.kid)["status"] != COMPROMISED:
                return fresh
            index, kid, at = self.db.allocate("status_index"), self.active_kid(), self.now()
            fresh.reissue(
                reason="issuer_key_replaced",
                status_index=index,
                kid=kid,
                device_key=fresh.device_key,
                actor=Actor.system("key-compromise").as_dict(),
                at=at,
                credential_digest=self.next_version_digest(
                    fresh, status_index=index, kid=kid, device_key=fresh.device_key, at=at
                ),
            )
            self.save(fresh)
            return fresh

        return retrying(command)

    def claims_for(self, card: Card) -> credentials.CardClaims:
        device = credentials.DeviceKey.from_jwk(card.device_key) if card.device_key else None
        return credentials.CardClaims(
            issuer_region=card.region,
            issued_at=int(card.version_issued_at.timestamp()),
            expires_at=end_of_day(date.fromisoformat(card.expires_on)),
            card_id=card.id,
            card_number=card.card_number,
            category=card.category,
            region=card.region,
            masked_name=card.masked_name,
            version=card.card_version,
            status_index=card.status_index,
            device_key=device,
        )

    def credential_for(self, card: Card) -> str:
        """The PTC1 text of this card version (deterministic: Ed25519 signatures are)."""
        return credentials.issue_ptc1(self.claims_for(card), self._signing_key(card.kid))

    def digest_of(self, claims: credentials.CardClaims, kid: str) -> str:
        """The digest of the credential bytes these claims are issued as under `kid`: the
        ledger records it with every version it issues (online verifiers accept only those
        bytes)."""
        return credentials.credential_digest(credentials.sign_card(claims, self._signing_key(kid)))

    def next_version_digest(
        self,
        card: Card,
        *,
        status_index: int,
        kid: str,
        device_key: dict[str, str] | None,
        at: datetime,
    ) -> str:
        """The digest of the version `card.reissue(...)` with these arguments will issue."""
        claims = replace(
            self.claims_for(card),
            issued_at=int(at.timestamp()),
            version=card.card_version + 1,
            status_index=status_index,
            device_key=credentials.DeviceKey.from_jwk(device_key) if device_key else None,
        )
        return self.digest_of(claims, kid)

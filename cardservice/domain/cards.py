"""The Card aggregate: one preferential-treatment card and its life cycle.

active ⇄ suspended; any non-revoked → revoked (terminal); expiry is by date, derived, so no
clock has to run to expire a card. A reissue keeps the card id and number and raises the
card version (a new status index), so earlier QR codes verify as superseded. The status
words and the reason rule are in `domain.card_status`.

A phone gets the card with a one-time activation code: only the newest code works, once, for
seven days; the events say which codes exist and which are used, and the rules that read
them are in `domain.activation`. Redeeming a code starts a holder session (the phone's
bearer token, recorded only as hashes) and ends the earlier one: a card lives on one phone
at a time, so a lost phone's token stops working the moment the holder activates a new phone.
"""

from __future__ import annotations

import hmac
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from cardservice.domain.activation import (
    CardRevoked,
    check_redemption,
    clean_device_hint,
    code_state,
)
from cardservice.domain.card_status import ACTIVE, REVOKED, SUSPENDED, clean_reason, status_on
from cardservice.domain.days import local_day, seconds_to_next_day
from cardservice.domain.errors import InvalidInput, InvalidTransition, RateLimited
from cardservice.domain.policy import DEVICE_BINDINGS_PER_DAY

KEYED_DIGEST_PREFIX = "h1:"
"""Request digests made under a write-side key; anything else is a legacy plain hash."""

DEVICE_KEY_BOUND = "device_key_bound"
SESSION_STARTED_BY = "activation"
SESSION_REPLACED = "replaced_by_new_activation"
SESSION_REMOVED = "removed_from_phone"
SESSION_UNBOUND = "card_unbound_from_phone"


class Card(Aggregate):
    @staticmethod
    def create_id(card_id: UUID) -> UUID:
        """The id is chosen by the caller, deterministically for idempotent commands."""
        return card_id

    @event("Issued")
    def __init__(
        self,
        card_id: UUID,
        holder_id: UUID,
        card_number: str,
        category: str,
        region: str,
        masked_name: str,
        issued_at: datetime,
        expires_on: str,
        status_index: int,
        kid: str,
        actor: dict[str, Any],
        command_id: str,
        request_digest: str,
        credential_digest: str = "",
    ) -> None:
        self.holder_id = holder_id
        self.card_number = card_number
        self.category = category
        self.region = region
        self.masked_name = masked_name
        self.issued_at = issued_at
        self.version_issued_at = issued_at
        self.expires_on = expires_on
        self.status_index = status_index
        self.kid = kid
        self.card_version = 1
        self.device_key: dict[str, str] | None = None
        # Hex SHA-256 of the exact credential bytes of the current version, as issued:
        # verifiers online accept only those bytes. "" in events recorded before the
        # digest existed, until `record_credential_digest` fills it in.
        self.credential_digest = credential_digest
        self.status = ACTIVE
        self.command_id = command_id
        self.request_digest = request_digest
        self.activation_serial = 0  # the newest code's serial; 0: none issued yet
        self.activation_code_hash = ""
        self.activation_expires_at: datetime | None = None
        self.redeemed: dict[int, tuple[datetime, str]] = {}  # serial -> (at, command digest)
        self.activated_at: datetime | None = None
        self.session_id: UUID | None = None  # the phone's session; one at a time
        self.session_token_hash = ""  # keyed hash of that session's holder token
        self.session_by_serial: dict[int, UUID] = {}  # activation serial -> session it began
        self.binding_day = ""  # Asia/Shanghai date of the latest device-key binding
        self.bindings_that_day = 0

    # -- derived state -------------------------------------------------------------------
    def status_on(self, today: date) -> str:
        """Status as a verifier sees it on a calendar day: revoked > suspended > expired."""
        return status_on(self.status, self.expires_on, today)

    def activation_state(self, now: datetime) -> str:
        """none | pending | used | expired: where the newest activation code stands."""
        return code_state(self.activation_serial, self.redeemed, self.activation_expires_at, now)

    def holds_session(self, token_hash: str) -> bool:
        """Whether `token_hash` is the keyed hash of the live session's token (constant time)."""
        return self.session_id is not None and hmac.compare_digest(
            self.session_token_hash.encode(), token_hash.encode()
        )

    def require_binding_allowed(self, at: datetime) -> None:
        """`RateLimited` (with the seconds to the next day) once today's bindings are used."""
        today = self.bindings_that_day if self.binding_day == local_day(at) else 0
        if today >= DEVICE_BINDINGS_PER_DAY:
            raise RateLimited(
                f"this card was bound to a phone {DEVICE_BINDINGS_PER_DAY} times today; "
                "try again tomorrow",
                seconds_to_next_day(at),
            )

    # -- commands ------------------------------------------------------------------------
    def suspend(
        self, reason: str, actor: dict[str, Any], at: datetime, command_id: str = ""
    ) -> None:
        if self.status != ACTIVE:
            raise InvalidTransition(f"only an active card can be suspended; it is {self.status}")
        self._suspended(
            reason=clean_reason(reason, required=True), actor=actor, at=at, command_id=command_id
        )

    def reinstate(
        self, reason: str, actor: dict[str, Any], at: datetime, command_id: str = ""
    ) -> None:
        if self.status != SUSPENDED:
            raise InvalidTransition(f"only a suspended card can be reinstated; it is {self.status}")
        self._reinstated(
            reason=clean_reason(reason, required=False), actor=actor, at=at, command_id=command_id
        )

    def revoke(
        self, reason: str, actor: dict[str, Any], at: datetime, command_id: str = ""
    ) -> None:
        if self.status == REVOKED:
            raise InvalidTransition("the card is already revoked")
        self._revoked(
            reason=clean_reason(reason, required=True), actor=actor, at=at, command_id=command_id
        )

    def reissue(
        self,
        *,
        reason: str,
        status_index: int,
        kid: str,
        device_key: dict[str, str] | None,
        actor: dict[str, Any],
        at: datetime,
        credential_digest: str = "",
    ) -> None:
        """A new version of the same card (new device key or new signing key).

        `credential_digest`: the digest of the new version's credential bytes (the caller
        signs them: the domain holds no key)."""
        if self.status == REVOKED:
            raise InvalidTransition("a revoked card cannot be reissued")
        self._reissued(
            reason=reason,
            card_version=self.card_version + 1,
            status_index=status_index,
            kid=kid,
            device_key=device_key,
            actor=actor,
            at=at,
            credential_digest=credential_digest,
        )

    def record_credential_digest(self, card_version: int, digest: str, at: datetime) -> bool:
        """Fill in the digest of a version issued before digests were recorded (a backfill).

        Only for the current version and only once: False, and no event, otherwise."""
        if not digest or card_version != self.card_version or self.credential_digest:
            return False
        self._credential_digest_recorded(card_version=card_version, digest=digest, at=at)
        return True

    def bind_device_key(
        self,
        *,
        device_key: dict[str, str],
        status_index: int,
        kid: str,
        actor: dict[str, Any],
        at: datetime,
        credential_digest: str = "",
    ) -> None:
        """Reissue bound to the holder's phone key, at most DEVICE_BINDINGS_PER_DAY times a
        day (Asia/Shanghai): each binding grows the history and takes a status index."""
        self.require_binding_allowed(at)
        self.reissue(
            reason=DEVICE_KEY_BOUND,
            status_index=status_index,
            kid=kid,
            device_key=device_key,
            actor=actor,
            at=at,
            credential_digest=credential_digest,
        )

    def start_session(
        self,
        *,
        session_id: UUID,
        serial: int,
        token_hash: str,
        token_sha256: str,
        actor: dict[str, Any],
        at: datetime,
    ) -> None:
        """The phone that just redeemed code `serial` holds the card now; the session before
        it ends in the same save (its token is refused from then on)."""
        if serial not in self.redeemed or serial in self.session_by_serial:
            raise InvalidTransition("a session starts with the redemption of a code, once")
        if self.session_id is not None:
            self._session_ended(
                session_id=self.session_id, reason=SESSION_REPLACED, actor=actor, at=at
            )
        self._session_started(
            session_id=session_id,
            serial=serial,
            token_hash=token_hash,
            token_sha256=token_sha256,
            reason=SESSION_STARTED_BY,
            actor=actor,
            at=at,
        )

    def end_session(self, *, reason: str, actor: dict[str, Any], at: datetime) -> None:
        """The phone's session ends ("remove from this phone")."""
        if self.session_id is None:
            raise InvalidTransition("the card is on no phone")
        self._session_ended(session_id=self.session_id, reason=reason, actor=actor, at=at)

    def issue_activation_code(
        self,
        *,
        code_hash: str,
        serial: int,
        expires_at: datetime,
        reason: str,
        actor: dict[str, Any],
        at: datetime,
        command_id: str = "",
    ) -> None:
        """A new one-time code; it replaces every earlier code not yet used."""
        if self.status == REVOKED:
            raise CardRevoked("the card is revoked; it cannot be activated on a phone")
        if serial <= self.activation_serial:
            raise InvalidInput("activation code serials only increase")
        self._activation_code_issued(
            code_hash=code_hash,
            serial=serial,
            expires_at=expires_at,
            reason=clean_reason(reason, required=True),
            actor=actor,
            at=at,
            command_id=command_id,
        )

    def activate(
        self,
        *,
        code_hash: str,
        serial: int,
        at: datetime,
        device_hint: str = "",
        command_digest: str = "",
    ) -> bool:
        """Redeem code `serial` (whose hash is `code_hash`) once.

        False, and no event, for the same request again (same code and command digest
        within 24 h: the phone retrying after a lost answer). Refusals, in this order:
        revoked card (409), then `activation.check_redemption`'s: code used (410),
        replaced by a newer one (410), unknown (404), expired (410).
        """
        if self.status == REVOKED:
            raise CardRevoked("the card is revoked; it cannot be activated on a phone")
        if not check_redemption(
            serial=serial,
            code_hash=code_hash,
            newest_serial=self.activation_serial,
            newest_hash=self.activation_code_hash,
            expires_at=self.activation_expires_at,
            redeemed=self.redeemed,
            at=at,
            command_digest=command_digest,
        ):
            return False
        hint = clean_device_hint(device_hint)
        self._activated(at=at, device_hint=hint, serial=serial, command_digest=command_digest)
        return True

    # -- events --------------------------------------------------------------------------
    @event("Suspended")
    def _suspended(self, reason: str, actor: dict[str, Any], at: datetime, command_id: str) -> None:
        self.status = SUSPENDED

    @event("Reinstated")
    def _reinstated(
        self, reason: str, actor: dict[str, Any], at: datetime, command_id: str
    ) -> None:
        self.status = ACTIVE

    @event("Revoked")
    def _revoked(self, reason: str, actor: dict[str, Any], at: datetime, command_id: str) -> None:
        self.status = REVOKED

    @event("Reissued")
    def _reissued(
        self,
        reason: str,
        card_version: int,
        status_index: int,
        kid: str,
        device_key: dict[str, str] | None,
        actor: dict[str, Any],
        at: datetime,
        credential_digest: str = "",
    ) -> None:
        self.card_version = card_version
        self.status_index = status_index
        self.kid = kid
        self.device_key = device_key
        self.version_issued_at = at
        self.credential_digest = credential_digest
        if reason == DEVICE_KEY_BOUND:
            day = local_day(at)
            self.bindings_that_day = self.bindings_that_day + 1 if day == self.binding_day else 1
            self.binding_day = day

    @event("CredentialDigestRecorded")
    def _credential_digest_recorded(self, card_version: int, digest: str, at: datetime) -> None:
        self.credential_digest = digest

    @event("ActivationCodeIssued")
    def _activation_code_issued(
        self,
        code_hash: str,
        serial: int,
        expires_at: datetime,
        reason: str,
        actor: dict[str, Any],
        at: datetime,
        command_id: str,
    ) -> None:
        self.activation_serial = serial
        self.activation_code_hash = code_hash
        self.activation_expires_at = expires_at

    @event("Activated")
    def _activated(self, at: datetime, device_hint: str, serial: int, command_digest: str) -> None:
        self.redeemed[serial] = (at, command_digest)
        self.activated_at = at

    @event("SessionStarted")
    def _session_started(
        self,
        session_id: UUID,
        serial: int,
        token_hash: str,
        token_sha256: str,
        reason: str,
        actor: dict[str, Any],
        at: datetime,
    ) -> None:
        """`token_hash` (keyed) is what the write side checks; `token_sha256` is what the
        read side's session view keeps (it holds no key; the token is 256 random bits)."""
        self.session_id = session_id
        self.session_token_hash = token_hash
        self.session_by_serial[serial] = session_id

    @event("SessionEnded")
    def _session_ended(
        self, session_id: UUID, reason: str, actor: dict[str, Any], at: datetime
    ) -> None:
        if self.session_id == session_id:
            self.session_id = None
            self.session_token_hash = ""


def _upcast_issued_v1_v2(state: dict[str, Any]) -> None:
    """`Issued` v2: `request_digest` is keyed (HMAC under a write-side key, `h1:` prefix).

    v1 recorded a plain SHA-256 of the issuance request, which holds the holder's name, ID
    number and phone: brute force over a known name, region and birth year finds the ID
    number. Upcasting drops it, so no reader (history, audit, projections) ever sees it
    again; a v1 issuance replayed by its Idempotency-Key is matched without it."""
    digest = state.get("request_digest")
    if isinstance(digest, str) and not digest.startswith(KEYED_DIGEST_PREFIX):
        state["request_digest"] = ""


# The event class is made by the `@event("Issued")` decorator; its version is set here.
Card.Issued.class_version = 2  # type: ignore[attr-defined]
Card.Issued.upcast_v1_v2 = staticmethod(_upcast_issued_v1_v2)  # type: ignore[attr-defined]

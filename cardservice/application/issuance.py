"""Issuing one card: validation, the holder (found or registered), card numbers, the first
activation code, all saved together; a retried command answers the first result."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from cardservice import credentials
from cardservice.application.activation import ActivationGrant, Activations
from cardservice.application.base import (
    MAX_ISSUE_ATTEMPTS,
    IdempotencyMismatch,
    add_years,
    command_uuid,
    require_region,
    require_scope,
    retrying,
)
from cardservice.application.personal import HolderData
from cardservice.domain.activation import ISSUANCE
from cardservice.domain.actors import Actor
from cardservice.domain.cards import Card
from cardservice.domain.errors import InvalidInput
from cardservice.domain.holders import Holder, holder_id_for
from cardservice.domain.identity import HOLDER_CATEGORIES, card_number, id_number_problem
from cardservice.security import keyed_digest
from cardservice.storage import Tx, allocate_many_in


@dataclass(frozen=True)
class IssueCardRequest:
    name: str
    id_number: str
    category: str
    region: str
    phone: str | None = None
    valid_years: int | None = None


@dataclass(frozen=True)
class IssuedCard:
    card: Card
    replayed: bool
    activation: ActivationGrant | None = None


class Issuance(Activations, HolderData):
    """Single issuance and the pieces bulk issuance shares with it."""

    def _validated(self, request: IssueCardRequest, actor: Actor) -> int:
        """Check an issue request (422 before 403, as the contract orders); valid years."""
        problem = id_number_problem(request.id_number)
        if problem:
            raise InvalidInput(f"id_number: {problem}")
        if not request.name.strip() or len(request.name) > 50:
            raise InvalidInput("name must be 1 to 50 characters")
        if request.category not in HOLDER_CATEGORIES:
            raise InvalidInput(f"category must be one of {', '.join(HOLDER_CATEGORIES)}")
        require_region(request.region)
        valid_years = (
            self.settings.default_valid_years
            if request.valid_years is None
            else request.valid_years
        )
        if not 1 <= valid_years <= 50:
            raise InvalidInput("valid_years must be between 1 and 50")
        require_scope(actor, request.region, "cards")
        return valid_years

    def _holder_for(
        self,
        request: IssueCardRequest,
        digest: str,
        actor: Actor,
        data_key: bytes,
        first_card: dict[str, str],
        holder_id: UUID | None = None,
    ) -> Holder:
        personal = {"name": request.name, "id_number": request.id_number, "phone": request.phone}
        return self._new_holder(personal, digest, actor, data_key, first_card, holder_id)

    def _new_card(
        self,
        request: IssueCardRequest,
        *,
        card_id: UUID,
        holder_id: UUID,
        numbers: tuple[str, int],
        expires_on: str,
        kid: str,
        actor: Actor,
        command_id: str,
        request_digest: str,
    ) -> Card:
        return Card(
            card_id=card_id,
            holder_id=holder_id,
            card_number=numbers[0],
            category=request.category,
            region=request.region,
            masked_name=credentials.mask_name(request.name.strip()),
            issued_at=self.now(),
            expires_on=expires_on,
            status_index=numbers[1],
            kid=kid,
            actor=actor.as_dict(),
            command_id=command_id,
            request_digest=request_digest,
        )

    def _allocate_numbers(self, regions: list[str]) -> list[tuple[str, int]]:
        """Card numbers and status indexes for a batch, one allocator call per region."""
        year = self.today().year
        first_index = self.db.allocate("status_index", len(regions))
        next_seq: dict[str, int] = {}
        for region in set(regions):
            count = regions.count(region)
            next_seq[region] = self.db.allocate(f"card:{region}:{year}", count)
        numbers = []
        for offset, region in enumerate(regions):
            numbers.append((card_number(region, year, next_seq[region]), first_index + offset))
            next_seq[region] += 1
        return numbers

    def _allocate_in(self, tx: Tx, regions: list[str]) -> list[tuple[str, int]]:
        """Card numbers and status indexes inside the caller's transaction. Locks are taken
        in one global order (status index, then regions sorted) so batches never deadlock."""
        if not regions:
            return []
        year = self.today().year
        counts = {"status_index": len(regions)}
        for region in sorted(set(regions)):
            counts[f"card:{region}:{year}"] = regions.count(region)
        firsts = allocate_many_in(tx, counts)
        first_index = firsts["status_index"]
        next_seq = {region: firsts[f"card:{region}:{year}"] for region in set(regions)}
        numbers = []
        for offset, region in enumerate(regions):
            numbers.append((card_number(region, year, next_seq[region]), first_index + offset))
            next_seq[region] += 1
        return numbers

    def issue_card(
        self,
        request: IssueCardRequest,
        actor: Actor,
        *,
        command_id: str | None = None,
        request_digest: str = "",
    ) -> IssuedCard:
        """Issue a card; a retried command (same command id) returns the first result."""
        valid_years = self._validated(request, actor)
        card_id = command_uuid(actor, command_id, "issue") if command_id else uuid.uuid4()
        if command_id:
            replay = self._replay(card_id, request_digest)
            if replay is not None:
                return replay

        digest = keyed_digest(self._pepper, request.id_number)
        holder_id = holder_id_for(digest)
        today = self.today()
        expires_on = add_years(today, valid_years).isoformat()
        numbers: tuple[str, int] | None = None
        attempts = 0

        def command() -> IssuedCard:
            nonlocal numbers, attempts
            attempt, attempts = attempts, attempts + 1
            holder = self._get_or_none(holder_id)
            if holder is None:
                data_key = self._holder_data_key(holder_id, create=True)
                assert data_key is not None
                first = {"category": request.category, "card_id": str(card_id)}
                first["expires_on"] = expires_on
                holder = self._holder_for(request, digest, actor, data_key, first)
            else:
                holder.assign_card(request.category, card_id, expires_on, today, self.now())
            numbers = numbers or self._allocate_numbers([request.region])[0]
            card = self._new_card(
                request,
                card_id=card_id,
                holder_id=holder_id,
                numbers=numbers,
                expires_on=expires_on,
                kid=self.active_kid(),
                actor=actor,
                command_id=command_id or "",
                request_digest=request_digest,
            )
            # The first try skips looking for another card's code equal to this one (odds
            # 2^-50 a pair): a clash fails the save, and the next try looks.
            pointer, grant = self._mint_activation(
                card, reason=ISSUANCE, actor=actor, at=card.issued_at, probe=attempt > 0
            )
            try:
                self.save(holder, card, pointer)
            except IntegrityError:
                # Lost a race: on the card id (a concurrent retry of this command) or on the
                # holder (another issue for this person). Re-read and decide again.
                if command_id:
                    replay = self._replay(card_id, request_digest)
                    if replay is not None:
                        return replay
                raise
            return IssuedCard(card=card, replayed=False, activation=grant)

        return retrying(
            command,
            attempts=MAX_ISSUE_ATTEMPTS,
            busy="too many concurrent changes to this holder; try again",
        )

    def _replay(self, card_id: UUID, request_digest: str) -> IssuedCard | None:
        first = self._get_or_none(card_id, version=1)
        if first is None:
            return None
        if first.request_digest != request_digest:
            raise IdempotencyMismatch("Idempotency-Key reused with a different request body")
        return IssuedCard(card=first, replayed=True, activation=self._issuance_grant(card_id))

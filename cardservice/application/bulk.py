"""Bulk issuance (imports of existing certificates): many cards in one transaction.

Each row's card id derives from the person and category, so importing the same file again
finds the cards already there and issues nothing twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from cardservice.application.base import COMMAND_NAMESPACE, add_years, chunks
from cardservice.application.issuance import Issuance, IssueCardRequest
from cardservice.domain.actors import Actor
from cardservice.domain.errors import DomainError
from cardservice.domain.holders import Holder, holder_id_for
from cardservice.security import Sealer, keyed_digest


@dataclass(frozen=True)
class BulkOutcome:
    result: str  # "issued" | "exists" | "rejected"
    card_id: UUID | None
    reason: str


class BulkIssuance(Issuance):
    """Issue a batch of rows with one side-database transaction and one save."""

    def _claim_batch(
        self, rows: list[tuple[UUID, str]]
    ) -> tuple[dict[UUID, bytes], set[UUID], list[tuple[str, int]]]:
        """A bulk batch's side-database work in ONE transaction (one round trip or two):
        data keys made for holders new here (INSERT .. RETURNING tells which), the existing
        keys of the others, and card numbers for the new holders' rows, in row order."""
        holder_ids = sorted(dict.fromkeys(h for h, _ in rows))
        fresh = {h: Sealer.new_key() for h in holder_ids}
        keys: dict[UUID, bytes] = {}
        with self.db.transaction() as tx:
            for chunk in chunks(holder_ids, 1000):
                values = ",".join("(?, ?)" for _ in chunk)
                params = [v for h in chunk for v in (str(h), self._kek.seal(fresh[h], h.bytes))]
                for (holder_id,) in tx.all(
                    f"INSERT INTO holder_keys (holder_id, wrapped_key) VALUES {values} "  # noqa: S608
                    "ON CONFLICT (holder_id) DO NOTHING RETURNING holder_id",
                    params,
                ):
                    keys[UUID(holder_id)] = fresh[UUID(holder_id)]
            inserted = set(keys)
            for chunk in chunks([str(h) for h in holder_ids if h not in inserted], 1000):
                marks = ",".join("?" * len(chunk))
                for holder_id, wrapped in tx.all(
                    f"SELECT holder_id, wrapped_key FROM holder_keys WHERE holder_id IN ({marks})",  # noqa: S608
                    chunk,
                ):
                    hid = UUID(holder_id)
                    keys[hid] = self._kek.unseal(bytes(wrapped), hid.bytes)
            numbers = self._allocate_in(tx, [region for h, region in rows if h in inserted])
        return keys, inserted, numbers

    def issue_cards_bulk(
        self, requests: list[IssueCardRequest], actor: Actor, *, source: str = "import"
    ) -> list[BulkOutcome]:
        """Issue many cards in one transaction (bulk import of existing certificates).

        Each row's card id derives from the person and category, so importing the same
        file again finds the cards already there and issues nothing twice. Holders with no
        data key yet are new: they are registered without a read, their keys made in one
        transaction.
        """
        outcomes: list[BulkOutcome | None] = [None] * len(requests)
        rows: list[tuple[int, IssueCardRequest, str, UUID, UUID, str]] = []
        today = self.today()
        for i, request in enumerate(requests):
            try:
                valid_years = self._validated(request, actor)
            except DomainError as exc:
                outcomes[i] = BulkOutcome("rejected", None, exc.detail)
                continue
            digest = keyed_digest(self._pepper, request.id_number)
            card_id = uuid.uuid5(COMMAND_NAMESPACE, f"{source}:{digest}:{request.category}")
            expires_on = add_years(today, valid_years).isoformat()
            rows.append((i, request, digest, holder_id_for(digest), card_id, expires_on))

        keys, inserted, first_numbers = self._claim_batch([(r[3], r[1].region) for r in rows])
        known = set(keys) - inserted
        numbered = dict(zip([r[0] for r in rows if r[3] in inserted], first_numbers, strict=True))
        holders: dict[UUID, Holder] = {}
        pending: list[tuple[int, IssueCardRequest, UUID, UUID, str]] = []
        for i, request, digest, holder_id, card_id, expires_on in rows:
            holder = holders.get(holder_id)
            if holder is None and holder_id in known:
                holder = self._get_or_none(holder_id)
            if holder is not None and holder.cards.get(request.category, {}).get("card_id") == str(
                card_id
            ):
                outcomes[i] = BulkOutcome("exists", card_id, "already imported")
                holders[holder_id] = holder
                continue
            try:
                if holder is None:
                    first = {"category": request.category, "card_id": str(card_id)}
                    first["expires_on"] = expires_on
                    holder = self._holder_for(
                        request, digest, actor, keys[holder_id], first, holder_id
                    )
                else:
                    holder.assign_card(request.category, card_id, expires_on, today, self.now())
            except DomainError as exc:
                outcomes[i] = BulkOutcome("rejected", None, exc.detail)
                continue
            finally:
                if holder is not None:
                    holders[holder_id] = holder
            pending.append((i, request, card_id, holder_id, expires_on))

        if pending:
            # Rows of new holders were numbered with their keys; others (rare) number now.
            unnumbered = [p[1].region for p in pending if p[0] not in numbered]
            later = iter(self._allocate_numbers(unnumbered) if unnumbered else [])
            numbers = [numbered[p[0]] if p[0] in numbered else next(later) for p in pending]
            kid = self.recent_active_kid()
            cards = []
            for (i, request, card_id, holder_id, expires_on), nums in zip(
                pending, numbers, strict=True
            ):
                cards.append(
                    self._new_card(
                        request,
                        card_id=card_id,
                        holder_id=holder_id,
                        numbers=nums,
                        expires_on=expires_on,
                        kid=kid,
                        actor=actor,
                        command_id=f"{source}:{request.category}",
                        request_digest="",
                    )
                )
                outcomes[i] = BulkOutcome("issued", card_id, "")
            changed = [h for h in holders.values() if h.pending_events]
            try:
                self.save(*changed, *cards)
            except IntegrityError:
                # Someone else changed one of these holders meanwhile: fall back to rows.
                return [self._issue_one_for_bulk(request, actor, source) for request in requests]
        return [o for o in outcomes if o is not None]

    def _issue_one_for_bulk(
        self, request: IssueCardRequest, actor: Actor, source: str
    ) -> BulkOutcome:
        try:
            return self.issue_cards_bulk([request], actor, source=source)[0]
        except IntegrityError:
            return BulkOutcome("rejected", None, "changed concurrently; import again")

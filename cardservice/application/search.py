"""Search terms for the bureau console: keyed hashes of ID numbers and full names.

A clerk finds a card by ID number or full name without anything being decrypted: at
issuance the write side records HMAC(search key, term) per holder in `holder_search`, a
side table beside the holder data keys, and a query hashes its term the same way. The
search key is derived from the master secret and never leaves the write side. Erasure
deletes a holder's hashes with the data key; `reindex_holders` rebuilds the table from the
sealed personal data of the holders not erased (nothing of an erased holder comes back).
"""

from __future__ import annotations

import unicodedata
from uuid import UUID

from cardservice.application.base import require_region, require_scope
from cardservice.application.bulk import BulkIssuance, BulkOutcome
from cardservice.application.issuance import IssueCardRequest, IssuedCard
from cardservice.domain.actors import Actor
from cardservice.domain.errors import InvalidInput
from cardservice.domain.holders import Holder, holder_id_for
from cardservice.domain.identity import id_number_problem, is_valid_card_number
from cardservice.security import keyed_digest


def normal_id_number(value: str) -> str:
    """`x` and `X` are the same check character; anything not an ID number is 422."""
    value = value.strip()
    if value[-1:] == "x":
        value = value[:-1] + "X"
    problem = id_number_problem(value)
    if problem:
        raise InvalidInput(f"id_number: {problem}")
    return value


def normal_name(value: str) -> str:
    name = unicodedata.normalize("NFC", value.strip())
    if not 1 <= len(name) <= 50 or not name.isprintable():
        raise InvalidInput("name must be 1 to 50 printable characters")
    return name


def normal_card_number(value: str) -> str:
    number = value.strip().upper()
    if not is_valid_card_number(number):
        raise InvalidInput("card_number must be 18 characters with a valid check character")
    return number


class CardSearch(BulkIssuance):
    """Issuance that also records the holder's search hashes; erasure removes them."""

    def _prepare(self) -> None:
        super()._prepare()
        self._search_key = self.settings.derived_key("card-search")

    def search_digest(self, *, id_number: str | None = None, name: str | None = None) -> str:
        """The keyed hash a query matches (`id_number` or `name`, normalised)."""
        if id_number is not None:
            return keyed_digest(self._search_key, "id:" + normal_id_number(id_number))
        if name is not None:
            return keyed_digest(self._search_key, "name:" + normal_name(name))
        raise ValueError("a term is needed")

    def search_scope(self, actor: Actor, region: str | None) -> str:
        """The subtree a search covers: the caller's, or `region` inside it (422, 403)."""
        scope = actor.region if region is None else region
        require_region(scope)
        require_scope(actor, scope, "read")
        return scope

    def _terms(self, holder_id: UUID, request: IssueCardRequest) -> list[tuple[str, str]]:
        digests = []
        try:
            digests.append(self.search_digest(id_number=request.id_number))
            digests.append(self.search_digest(name=request.name))
        except InvalidInput:
            pass  # a name the issuance accepted but search cannot take is not indexed
        return [(d, str(holder_id)) for d in digests]

    def _index(self, rows: list[tuple[str, str]]) -> None:
        """Record search hashes, only for holders whose data key still exists (an erasure
        that ran meanwhile wins)."""
        if not rows:
            return
        with self.db.transaction() as tx:
            tx.executemany(
                "INSERT INTO holder_search (digest, holder_id) SELECT ?, ? "
                "WHERE EXISTS (SELECT 1 FROM holder_keys WHERE holder_id = ?) "
                "ON CONFLICT (digest, holder_id) DO NOTHING",
                [(d, h, h) for d, h in rows],
            )

    def _holder_of(self, request: IssueCardRequest) -> UUID:
        """The holder a bulk row was issued to (the ID number as issuance normalises it)."""
        return holder_id_for(keyed_digest(self._pepper, request.id_number.upper()))

    def issue_card(
        self,
        request: IssueCardRequest,
        actor: Actor,
        *,
        command_id: str | None = None,
        request_digest: str = "",
    ) -> IssuedCard:
        issued = super().issue_card(
            request, actor, command_id=command_id, request_digest=request_digest
        )
        self._index(self._terms(issued.card.holder_id, request))
        return issued

    def issue_cards_bulk(
        self, requests: list[IssueCardRequest], actor: Actor, *, source: str = "import"
    ) -> list[BulkOutcome]:
        outcomes = super().issue_cards_bulk(requests, actor, source=source)
        rows: list[tuple[str, str]] = []
        for request, outcome in zip(requests, outcomes, strict=True):
            if outcome.result != "rejected":
                rows += self._terms(self._holder_of(request), request)
        self._index(rows)
        return outcomes

    def erase_holder(self, holder_id: UUID, reason: str, actor: Actor) -> list[UUID]:
        revoked = super().erase_holder(holder_id, reason, actor)
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM holder_search WHERE holder_id = ?", (str(holder_id),))
        return revoked

    def reindex_holders(self, holder_ids: list[UUID]) -> int:
        """Re-derive the search hashes of these holders from their sealed data (a holder
        issued before search existed, or a lost write); erased holders stay unfound."""
        rows: list[tuple[str, str]] = []
        for holder_id in holder_ids:
            holder = self._get_or_none(holder_id)
            if not isinstance(holder, Holder) or holder.erased:
                continue
            personal = self.holder_personal(holder_id)
            if personal is None:
                continue
            request = IssueCardRequest(
                name=str(personal["name"]),
                id_number=str(personal["id_number"]),
                category="",
                region="",
            )
            rows += self._terms(holder_id, request)
        self._index(rows)
        return len(rows)

    def reindex_all(self, batch: int = 500) -> int:
        """Re-derive every holder's search hashes (holders issued before search existed);
        reads the holders the search view knows, so run it once the views caught up."""
        with self.db.read() as tx:
            holders = [
                UUID(r[0]) for r in tx.all("SELECT DISTINCT holder_id FROM view_admin_cards")
            ]
        return sum(
            self.reindex_holders(holders[i : i + batch]) for i in range(0, len(holders), batch)
        )

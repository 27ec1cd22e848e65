"""Backfill: the ledger records the credential digest of card versions issued before it did.

Online verification accepts only the exact credential bytes the ledger issued; it knows them
by the digest that `Card.Issued` and `Card.Reissued` carry. Events recorded before that field
existed carry none. Ed25519 is deterministic, so re-encoding a card's claims under its key
reproduces its bytes: this pass signs them again on the write side (which holds the keys)
and records the digest as a `Card.CredentialDigestRecorded` event, so the status view,
rebuilt or not, gets it from the ledger like every other fact.

It scans the ledger's Issued and Reissued notifications once, from where it last stopped
(kept beside the projection positions), so a start after the first costs a few reads.
"""

from __future__ import annotations

import logging
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from cardservice.application import CardLedger
from cardservice.application.base import retrying
from cardservice.domain.cards import Card
from cardservice.storage import Database
from projections.view import topics_of

log = logging.getLogger("cardservice.digests")

MARKER = "credential_digest_backfill"
"""Its row in `projection_positions`: the last ledger notification it has looked at."""
BATCH = 500


def _position(db: Database, source: str) -> int:
    with db.read() as tx:
        row = tx.one(
            "SELECT position FROM projection_positions WHERE view = ? AND source = ?",
            (MARKER, source),
        )
    return int(row[0]) if row is not None else 0


def _store_position(db: Database, source: str, position: int) -> None:
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO projection_positions (view, source, position) VALUES (?, ?, ?) "
            "ON CONFLICT (view, source) DO UPDATE SET position = excluded.position",
            (MARKER, source, position),
        )


def cards_without_digest(ledger: CardLedger, after: int, head: int) -> set[UUID]:
    """Cards with an Issued or Reissued event in (after, head] that carries no digest."""
    topics = sorted(topics_of(Card, ("Issued", "Reissued")))
    found: set[UUID] = set()
    start = after + 1
    while start <= head:
        notes = ledger.recorder.select_notifications(start, limit=BATCH, stop=head, topics=topics)
        if not notes:
            break
        for note in notes:
            event = ledger.mapper.to_domain_event(note)
            if not getattr(event, "credential_digest", ""):
                found.add(event.originator_id)
        start = notes[-1].id + 1
    return found


def _record(ledger: CardLedger, card_id: UUID) -> Card | None:
    """The card with its current version's digest recorded (not saved), or None if it has
    one already."""
    card = ledger.card(card_id)
    if getattr(card, "credential_digest", ""):
        return None
    digest = ledger.digest_of(ledger.claims_for(card), card.kid)
    return card if card.record_credential_digest(card.card_version, digest, ledger.now()) else None


def backfill_credential_digests(ledger: CardLedger, db: Database) -> int:
    """Record the missing digests; returns how many card versions got one. Idempotent, and
    safe beside another process doing the same (a lost race is simply re-read)."""
    source = str(ledger.name)
    after = _position(db, source)
    head = int(ledger.recorder.max_notification_id() or 0)
    if head <= after:
        return 0
    missing = sorted(cards_without_digest(ledger, after, head))
    recorded = 0
    for i in range(0, len(missing), BATCH):
        cards = [c for c in (_record(ledger, card_id) for card_id in missing[i : i + BATCH]) if c]
        try:
            ledger.save(*cards)
            recorded += len(cards)
        except IntegrityError:  # changed meanwhile (a reissue, another backfill): one by one
            for card in cards:
                recorded += _record_one(ledger, card.id)
    _store_position(db, source, head)
    if recorded:
        log.info("recorded the credential digest of %d card versions issued before", recorded)
    return recorded


def _record_one(ledger: CardLedger, card_id: UUID) -> int:
    def command() -> int:
        card = _record(ledger, card_id)
        if card is None:
            return 0
        ledger.save(card)
        return 1

    return retrying(command)

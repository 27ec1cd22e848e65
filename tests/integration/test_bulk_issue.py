"""Bulk issuance internals that the throughput work changed, on both engines: concurrent
batches get unique card numbers and status indexes (one side-database transaction per
batch, locks in one order: no deadlock), re-importing issues nothing, and a key rotation or
compromise in this process is used by the very next batch (the kid cache is cleared)."""

from __future__ import annotations

import threading

from cardservice.application import IssueCardRequest
from cardservice.bootstrap.write import WriteSide
from tests.factories import id_number
from tests.integration.test_projections import NATIONAL


def rows(start: int, count: int, region: str) -> list[IssueCardRequest]:
    return [
        IssueCardRequest(
            name="王五六",
            id_number=id_number(n % 1000, born=f"19{40 + n // 1000:02d}0101"),
            category="veteran",
            region=region,
        )
        for n in range(start, start + count)
    ]


def test_concurrent_batches_get_unique_numbers(services: WriteSide) -> None:
    results: list[list[object]] = []
    errors: list[BaseException] = []
    regions = ["500112", "500103", "110101", "500112"]

    def batch(i: int) -> None:
        try:
            outcomes = services.ledger.issue_cards_bulk(
                rows(i * 1000, 60, regions[i]) + rows(i * 1000 + 500, 20, "500103"), NATIONAL
            )
            results.append(outcomes)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=batch, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    cards = [services.ledger.card(o.card_id) for r in results for o in r if o.card_id]
    assert len(cards) == 320 and all(o.result == "issued" for r in results for o in r)
    assert len({c.card_number for c in cards}) == 320
    assert len({c.status_index for c in cards}) == 320
    for card in cards:
        assert card.card_number.startswith(card.region + "2026")
    # Re-importing the same rows issues nothing and allocates nothing new.
    again = services.ledger.issue_cards_bulk(rows(0, 60, "500112"), NATIONAL)
    assert {o.result for o in again} == {"exists"}


def test_next_batch_uses_the_key_after_a_rotation_or_compromise(services: WriteSide) -> None:
    ledger = services.ledger
    first = ledger.issue_cards_bulk(rows(0, 3, "500112"), NATIONAL)
    old_kid = ledger.card(first[0].card_id).kid  # type: ignore[arg-type]
    new_kid = ledger.rotate_key(NATIONAL)
    second = ledger.issue_cards_bulk(rows(10, 3, "500112"), NATIONAL)
    assert {ledger.card(o.card_id).kid for o in second} == {new_kid} != {old_kid}  # type: ignore[arg-type]
    ledger.compromise_key(new_kid, "leaked", NATIONAL)
    third = ledger.issue_cards_bulk(rows(20, 3, "500112"), NATIONAL)
    kids = {ledger.card(o.card_id).kid for o in third}  # type: ignore[arg-type]
    assert kids == {ledger.active_kid()} and new_kid not in kids

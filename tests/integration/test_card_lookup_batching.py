"""The verification path's card lookup coalesces concurrent lookups on PostgreSQL (one
query for many cards): each caller still gets exactly its own row, unknown cards get None."""

from __future__ import annotations

import asyncio
import random
import uuid

from cardservice.bootstrap.write import WriteSide
from merchant_api.store import CardReader
from tests.integration.test_projections import catch_up, issue_many


def test_concurrent_lookups_each_get_their_own_row(services: WriteSide) -> None:
    cards = issue_many(services, 60)
    catch_up(services)
    reader = CardReader(services.settings, services.db)
    wanted = [*cards, *(uuid.uuid4() for _ in range(20))] * 3
    random.Random(3).shuffle(wanted)

    async def lookups() -> list[object]:
        try:
            return list(await asyncio.gather(*(reader.aget(c) for c in wanted)))
        finally:
            await reader.aclose()

    rows = asyncio.run(lookups())
    known = set(cards)
    for card_id, row in zip(wanted, rows, strict=True):
        if card_id in known:
            assert row is not None and row.card_id == card_id  # type: ignore[attr-defined]
        else:
            assert row is None

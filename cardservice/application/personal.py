"""Holders' personal data: a data key per holder, sealing, and erasure by destroying it.

The data keys live wrapped in the side database, never in the event store, so deleting a
holder's row crypto-shreds every sealed field of their history while the events replay.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from uuid import UUID

from cardservice.application.base import ServiceApplication, retrying
from cardservice.domain.actors import Actor
from cardservice.domain.cards import Card
from cardservice.domain.errors import NotFound
from cardservice.domain.holders import Holder, holder_id_for
from cardservice.security import Sealer


class HolderData(ServiceApplication):
    """Holder data keys (made on first use), sealed personal data and erasure."""

    def _prepare(self) -> None:
        super()._prepare()
        self._kek = Sealer(self.settings.derived_key("holder-key-wrapping"))
        self._pepper = self.settings.derived_key("id-number-pepper")

    def _holder_data_keys(self, holder_ids: list[UUID], *, create: bool) -> dict[UUID, bytes]:
        """Each holder's data key (made on first use), for a whole batch in one transaction."""
        if not holder_ids:
            return {}
        ids = [str(h) for h in holder_ids]
        marks = ",".join("?" * len(ids))
        with self.db.transaction() as tx:
            if create:
                tx.executemany(
                    "INSERT INTO holder_keys (holder_id, wrapped_key) VALUES (?, ?) "
                    "ON CONFLICT (holder_id) DO NOTHING",
                    [(str(h), self._kek.seal(Sealer.new_key(), h.bytes)) for h in holder_ids],
                )
            rows = tx.all(
                f"SELECT holder_id, wrapped_key FROM holder_keys WHERE holder_id IN ({marks})",  # noqa: S608
                ids,
            )
        keys = {}
        for holder_id, wrapped in rows:
            hid = UUID(holder_id)
            keys[hid] = self._kek.unseal(bytes(wrapped), hid.bytes)
        return keys

    def _holder_data_key(self, holder_id: UUID, *, create: bool) -> bytes | None:
        return self._holder_data_keys([holder_id], create=create).get(holder_id)

    def _new_holder(
        self,
        personal: dict[str, str | None],
        digest: str,
        actor: Actor,
        data_key: bytes,
        first_card: dict[str, str],
        holder_id: UUID | None = None,
    ) -> Holder:
        """A new holder whose personal data is sealed with their own data key."""
        holder_id = holder_id or holder_id_for(digest)
        plain = json.dumps(personal, ensure_ascii=False).encode()
        return Holder(
            id_number_digest=digest,
            sealed_personal=base64.b64encode(
                Sealer(data_key).seal(plain, holder_id.bytes)
            ).decode(),
            actor=actor.as_dict(),
            at=self.now(),
            first_card=first_card,
        )

    def holder_personal(self, holder_id: UUID) -> dict[str, Any] | None:
        """The holder's personal data, or None once erased (crypto-shredded)."""
        holder = self._get_or_none(holder_id)
        if holder is None:
            raise NotFound(f"no holder {holder_id}")
        key = self._holder_data_key(holder_id, create=False)
        if key is None or holder.erased:
            return None
        plain = Sealer(key).unseal(base64.b64decode(holder.sealed_personal), holder_id.bytes)
        data: dict[str, Any] = json.loads(plain)
        return data

    def erase_holder(self, holder_id: UUID, reason: str, actor: Actor) -> list[UUID]:
        """Destroy the holder's data key and revoke their cards; history still replays."""
        return retrying(lambda: self._erase_holder(holder_id, reason, actor))

    def _erase_holder(self, holder_id: UUID, reason: str, actor: Actor) -> list[UUID]:
        holder = self._get_or_none(holder_id)
        if not isinstance(holder, Holder):
            raise NotFound(f"no holder {holder_id}")
        now = self.now()
        cards: list[Card] = []
        for held in list(holder.cards.values()):
            card: Card = self.repository.get(UUID(held["card_id"]))
            if card.status != "revoked":
                card.revoke("holder erased: " + (reason or "erasure request"), actor.as_dict(), now)
                cards.append(card)
            holder.release_card(card.category, card.id, "erased", now)
        holder.erase(reason or "erasure request", actor.as_dict(), now)
        self.save(holder, *cards)
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM holder_keys WHERE holder_id = ?", (str(holder_id),))
        self.db.after_erasure()
        return [c.id for c in cards]

"""The holder's photo: sealed with the holder's data key in the event store (so erasure
shreds it), and a plain copy in `photo_view` for the merchant API's verdict link.

The read side holds no key, so it cannot unseal the event: the write side keeps the copy,
written by the command right after the event is saved, replaced by the next photo and
deleted at erasure. The photo never enters a QR, a bundle or a log line.
"""

from __future__ import annotations

import base64
from uuid import UUID

from cardservice.application.base import retrying
from cardservice.application.cards import CardLifecycle
from cardservice.application.personal import HolderData
from cardservice.domain.actors import Actor
from cardservice.domain.errors import Conflict, InvalidInput
from cardservice.domain.holders import Holder
from cardservice.security import Sealer

MAX_PHOTO_BYTES = 100 * 1024
MAGIC = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",)}
PHOTO_CONTEXT = b"holder-photo:"


def is_image(content_type: str, data: bytes) -> bool:
    """The declared type is one we take and the bytes start as that type's files do."""
    return any(data.startswith(m) for m in MAGIC.get(content_type, ()))


class HolderPhotos(CardLifecycle, HolderData):
    """Set, read and erase the holder's photo."""

    def _prepare(self) -> None:
        super()._prepare()

    def set_photo(self, card_id: UUID, content_type: str, data: bytes, actor: Actor) -> None:
        if len(data) > MAX_PHOTO_BYTES or not is_image(content_type, data):
            raise InvalidInput("the photo must be a JPEG or PNG of at most 100 KiB")

        def command() -> Holder:
            card = self.card_for(card_id, actor, "cards")
            holder: Holder = self.repository.get(card.holder_id)
            key = self._holder_data_key(holder.id, create=False)
            if key is None or holder.erased:
                raise Conflict("the holder's personal data was erased")
            sealed = Sealer(key).seal(data, PHOTO_CONTEXT + holder.id.bytes)
            holder.set_photo(
                base64.b64encode(sealed).decode(),
                content_type,
                len(data),
                actor.as_dict(),
                self.now(),
            )
            self.save(holder)
            return holder

        holder = retrying(command)
        self._store_photo_copy(holder, content_type, data)

    def _store_photo_copy(self, holder: Holder, content_type: str, data: bytes) -> None:
        card_ids = [held["card_id"] for held in holder.cards.values()]
        at = self.now().isoformat()
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM photo_view WHERE holder_id = ?", (str(holder.id),))
            tx.executemany(
                "INSERT INTO photo_view (card_id, holder_id, content_type, image, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (card_id) DO UPDATE SET "
                "holder_id = excluded.holder_id, content_type = excluded.content_type, "
                "image = excluded.image, updated_at = excluded.updated_at",
                [(c, str(holder.id), content_type, data, at) for c in card_ids],
            )

    def photo_of(self, holder_id: UUID) -> tuple[str, bytes] | None:
        """(content type, bytes) of the holder's photo; None without one or once erased."""
        holder = self._get_or_none(holder_id)
        sealed = getattr(holder, "sealed_photo", None)
        if not isinstance(holder, Holder) or not sealed or holder.erased:
            return None
        key = self._holder_data_key(holder_id, create=False)
        if key is None:
            return None
        data = Sealer(key).unseal(base64.b64decode(sealed), PHOTO_CONTEXT + holder_id.bytes)
        return str(holder.photo_type), data

    def _erase_holder(self, holder_id: UUID, reason: str, actor: Actor) -> list[UUID]:
        """The gate's copy goes first (a failed erasure then leaves no photo behind on the
        read side), the sealed original with the holder's key."""
        self._drop_photo_copy(holder_id)
        revoked = super()._erase_holder(holder_id, reason, actor)
        self._drop_photo_copy(holder_id)
        self.db.after_erasure()
        return revoked

    def _drop_photo_copy(self, holder_id: UUID) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM photo_view WHERE holder_id = ?", (str(holder_id),))

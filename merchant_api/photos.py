"""The photo at the gate: a valid verdict's `photo_url`, and the endpoint behind it.

The link is `/v1/photos/{verification_id}`: the verification id is random and already in
the read side's own verification log with the merchant and the time, so the link needs
no secret and no extra write on the verify path. It answers the holder's photo (from
the write side's `photo_view`) only to the same merchant key, only for a valid verdict,
and only for 120 s after the check. The photo is never logged.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from cardservice.http.problems import ApiError
from cardservice.storage import Database
from projections.merchants import MerchantRow

LINK_SECONDS = 120
LOG_WAIT_SECONDS = 2.0
"""The verification log is written off the request path: wait this long for its row."""
HAS_PHOTO_CACHE_SECONDS = 2.0


class PhotoLinks:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._known: dict[UUID, tuple[float, bool]] = {}

    def has_photo(self, card_id: UUID) -> bool:
        """One indexed read per card, remembered for two seconds."""
        now = time.monotonic()
        cached = self._known.get(card_id)
        if cached is not None and now - cached[0] < HAS_PHOTO_CACHE_SECONDS:
            return cached[1]
        try:
            with self.db.read() as tx:
                found = tx.one("SELECT 1 FROM photo_view WHERE card_id = ?", (str(card_id),))
        except Exception:  # no photo table yet: no photos
            found = None
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[card_id] = (now, found is not None)
        return found is not None

    async def awarm(self, card_id: UUID) -> None:
        """Look the flag up now (in a worker thread where the database is remote)."""
        if self.db.dialect == "postgres":
            await anyio.to_thread.run_sync(self.has_photo, card_id)
        else:
            self.has_photo(card_id)

    def url_for(self, status: str, card_id: UUID | None, verification_id: str) -> str | None:
        if status != "valid" or card_id is None or not self.has_photo(card_id):
            return None
        return f"/v1/photos/{verification_id}"

    def photo(
        self, verification_id: str, merchant_id: str, now: datetime
    ) -> tuple[str, bytes] | None:
        deadline = time.monotonic() + LOG_WAIT_SECONDS
        while True:
            with self.db.read() as tx:
                row = tx.one(
                    "SELECT card_id, status, checked_at FROM verification_log "
                    "WHERE verification_id = ? AND merchant_id = ?",
                    (verification_id, merchant_id),
                )
                if row is not None:
                    if row[1] != "valid" or row[0] is None:
                        return None
                    checked = datetime.fromisoformat(row[2])
                    if (
                        not timedelta(0)
                        <= now - checked
                        <= timedelta(seconds=LINK_SECONDS) + (timedelta(seconds=1))
                    ):
                        return None
                    image = tx.one(
                        "SELECT content_type, image FROM photo_view WHERE card_id = ?", (row[0],)
                    )
                    return (str(image[0]), bytes(image[1])) if image is not None else None
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)


router = APIRouter(tags=["merchant"])
BYTES = {"type": "string", "format": "binary"}


def _merchant(request: Request) -> MerchantRow:
    from merchant_api.routes import merchant_of

    return merchant_of(request)


@router.get(
    "/v1/photos/{verification_id}",
    response_class=Response,
    responses={
        200: {
            "content": {"image/jpeg": {"schema": BYTES}, "image/png": {"schema": BYTES}},
            "description": "The photo",
        },
        401: {"description": "Missing or invalid merchant key"},
        404: {"description": "No such link for this key, expired (120 s), or no photo"},
    },
)
def verdict_photo(
    verification_id: str, request: Request, who: Annotated[MerchantRow, Depends(_merchant)]
) -> Response:
    """The holder's photo behind a valid verdict's `photo_url`: the same merchant key, for
    120 s after the check; 404 otherwise (expired, another merchant's, no photo)."""
    api = request.app.state.merchant_api
    links: PhotoLinks = api.photos
    found = None
    if 0 < len(verification_id) <= 64 and verification_id.isascii():
        found = links.photo(verification_id, str(who.merchant_id), api.clock.now())
    if found is None:
        raise ApiError(404, "not_found", "no such photo link (or it expired)")
    return Response(found[1], media_type=found[0], headers={"Cache-Control": "no-store, private"})

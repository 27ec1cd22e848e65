"""Offline bundles, signed on the write side and stored for the read side to serve.

For each region that has an active merchant, `BundleSigner` builds the bundle's content
from the views (issuer keys, status list, the region's catalog), signs it with the active
`bundle` key (`IssuerKeys.bundle_signing_key`, created when none is active) and stores the
signed bytes with their ETag (the hash of those bytes) in `offline_bundles`. The merchant
API only reads that table: it holds no private key and needs no master secret for bundles.

A region is re-signed when what its bundle says changes (a status, a key, its catalog, the
day) and at least every `REFRESH_SECONDS`; the views it reads are re-read when their
projection positions move (at most every `MIN_REBUILD_SECONDS`), so a revocation reaches
the stored bundle within projection lag plus a few seconds. Run by the worker, or by
`serve` when it runs the projections in-process (`cardservice.bootstrap.serve`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cardservice.clock import today_in_shanghai
from cardservice.http.schemas import jwk
from cardservice.storage import Tx
from merchant_api.bundle import BundleContent, bundle_etag, sign_bundle
from projections.cards import status_list_bytes
from projections.keys import select_keys
from projections.offline_bundles import (
    StoredBundle,
    store_bundle,
    stored_bundle,
)

if TYPE_CHECKING:
    from cardservice.bootstrap.write import WriteSide
    from projections.health import Check

log = logging.getLogger("cardservice.bundles")

REFRESH_SECONDS = 12 * 3600
POLL_SECONDS = 1.0
MIN_REBUILD_SECONDS = 2.0
INPUT_VIEWS = ("issuer_keys", "status_list", "catalog", "merchants")
"""The views a bundle is built from: when none of their positions moved, nothing changed."""


def merchant_regions(tx: Tx) -> list[str]:
    rows = tx.all("SELECT DISTINCT region FROM view_merchants WHERE active ORDER BY region")
    return [str(r[0]) for r in rows]


def public_keys(tx: Tx) -> list[dict[str, Any]]:
    """Every issuer key as the bundle lists it (a /v1/keys entry)."""
    return [jwk(k.kid, k.public_key, k.use, k.status, k.not_after) for k in select_keys(tx)]


class BundleSigner:
    """Keeps every merchant region's stored bundle current (a daemon thread until stopped).

    Self-contained: `run_once` does one pass (tests and tools call it directly); `start`
    and `stop` run it every `poll_seconds`."""

    def __init__(
        self,
        svc: WriteSide,
        *,
        poll_seconds: float = POLL_SECONDS,
        refresh_seconds: float = REFRESH_SECONDS,
        min_rebuild_seconds: float = MIN_REBUILD_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.svc = svc
        self.poll_seconds = poll_seconds
        self.refresh_seconds = min(refresh_seconds, svc.settings.bundle_hours * 3600 / 2)
        self.min_rebuild_seconds = min_rebuild_seconds
        self._monotonic = monotonic
        self._seen: tuple[Any, ...] | None = None
        self._due_at = float("-inf")  # clock seconds when the oldest stored bundle is due
        self._built_at = float("-inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.signed = 0
        self.failures = 0
        self.last_error: str | None = None

    # -- one pass ------------------------------------------------------------------------
    def run_once(self, *, force: bool = False) -> int:
        """Re-sign the regions whose bundle changed or is due (every region if `force`);
        the number signed."""
        now = self.svc.clock.now()
        seen = (today_in_shanghai(self.svc.clock), self._positions())
        unchanged = seen == self._seen and now.timestamp() < self._due_at
        if not force and unchanged:
            return 0
        if not force and self._monotonic() - self._built_at < self.min_rebuild_seconds:
            return 0  # changes keep coming: the next pass after the pause takes them all
        self._built_at = self._monotonic()
        signed = self._sign_changed(now.timestamp(), force=force)
        if signed is not None:
            self._seen = seen
        return signed or 0

    def _positions(self) -> tuple[tuple[str, int], ...]:
        with self.svc.db.read() as tx:
            rows = tx.all("SELECT view, position FROM projection_positions")
        return tuple(sorted((str(v), int(p)) for v, p in rows if v in INPUT_VIEWS))

    def _sign_changed(self, now: float, *, force: bool = False) -> int | None:
        """None when the views do not list the bundle key yet (the next pass retries)."""
        kid, private = self.svc.ledger.bundle_signing_key()
        with self.svc.db.read() as tx:
            regions = merchant_regions(tx)
            keys = public_keys(tx)
            entries = [
                (int(r[0]), int(r[1]))
                for r in tx.all("SELECT status_index, code FROM view_status_list")
            ]
            stored = {r: stored_bundle(tx, r) for r in regions}
        if not any(k["kid"] == kid and k["use"] == "bundle" for k in keys):
            return None  # a page pinning /v1/keys now could not trust it yet
        status_list = status_list_bytes(entries)
        today = today_in_shanghai(self.svc.clock)
        lookup = self.svc.catalog_reader.lookup
        issued_at = int(now)
        expires = issued_at + self.svc.settings.bundle_hours * 3600
        signed, due = 0, float("inf")
        for region in regions:
            benefits, versions = lookup(region, today)
            content = BundleContent(
                keys=keys,
                status_list=status_list,
                catalog={
                    "region": region,
                    "at": today.isoformat(),
                    "benefits": benefits,
                    "versions": versions,
                },
                merchant_region=region,
            )
            digest = content.digest()
            old = stored[region]
            if (
                not force
                and old is not None
                and old.content_digest == digest
                and old.signer == kid
                and now < old.issued_at + self.refresh_seconds
            ):
                due = min(due, old.issued_at + self.refresh_seconds)
                continue
            data = sign_bundle(content, private, issued_at, expires)
            row = StoredBundle(region, bundle_etag(data), data, digest, kid, issued_at, expires)
            with self.svc.db.transaction() as tx:
                store_bundle(tx, row)
            signed += 1
            due = min(due, issued_at + self.refresh_seconds)
        self._due_at = due
        self.signed += signed
        if signed:
            log.info("signed %d offline bundle(s) with bundle key %s", signed, kid)
        return signed

    # -- the thread ----------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="bundle-signer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
                self.failures = 0
            except Exception as exc:  # supervised: log, back off, try again
                self.failures += 1
                self.last_error = str(exc)
                log.exception("signing offline bundles failed (attempt %d)", self.failures)
                self._stop.wait(min(30.0, self.poll_seconds * 2**self.failures))
                continue
            self._stop.wait(self.poll_seconds)

    def health(self) -> Check:
        """Degraded after three failed passes in a row (bundles then age towards expiry)."""
        from projections.health import Check

        detail = {"signed": self.signed, "failures": self.failures, "last_error": self.last_error}
        return Check(self.failures < 3, detail)

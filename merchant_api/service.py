"""The merchant API's use cases over the views: authenticate, verify, list, bundle.

Never loads an aggregate: issuer keys and merchants come from cached views, card standing
from one indexed lookup of the card status view, benefits from one catalog lookup.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from cardservice.clock import Clock, today_in_shanghai
from cardservice.security import same, token_hash
from cardservice.settings import Settings
from cardservice.storage import Database
from merchant_api import vlog
from merchant_api.bundles_served import ServedBundles
from merchant_api.catalog import (
    CatalogAnswer,
    CatalogSource,
    catalog_for,
)
from merchant_api.core import (
    Checked,
    Policy,
    VerifiedCards,
    card_summary,
    check_trust,
    decide,
    read_credential,
    standing_from_view,
)
from merchant_api.counters import Used, current_periods
from merchant_api.eligibility import (
    NO_BENEFITS,
    CachedCatalog,
    Eligibility,
    decision_key,
    eligibility_at,
)
from merchant_api.metrics import Metrics
from merchant_api.photos import PhotoLinks
from merchant_api.redeem import RedemptionDesk
from merchant_api.remaining import unused_of, with_remaining
from merchant_api.shared_limit import limiter_for
from merchant_api.store import CardReader, KeyCache, MerchantCache, ViewReader
from projections.cards import CardRow
from projections.health import Probes
from projections.merchants import MerchantRow

SIGNATURE_MEMO_ENV = "CARDSERVICE_SIGNATURE_MEMO"
CATALOG_CACHE_SECONDS = 1.0
MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True)
class _Pending:
    """A verification between its credential stage and its card lookup."""

    started: float
    now_dt: datetime
    now: int
    policy: Policy
    checked: Checked
    card_id: UUID | None
    entry: CachedCatalog | None
    """The catalog answer the verdict's benefits come from (None: no card to look up)."""
    counts: bool
    """Whether the card's counters are read with it."""


class Unavailable(Exception):
    """A dependency (the views) cannot answer yet; the caller may retry."""


def signature_memo_size() -> int:
    """How many verified credentials to remember (env CARDSERVICE_SIGNATURE_MEMO; 0: none)."""
    try:
        return max(0, int(os.environ.get(SIGNATURE_MEMO_ENV, "20000")))
    except ValueError:
        return 20_000


class MerchantApi:
    """The read side's use cases. Given its parts, never a service locator: the primary
    database (the verification log and redemptions are written there, and the reads that
    must see those writes go there), the views' database (the primary or a hot standby),
    the catalog view, and the process's probes (for /metrics)."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        db: Database,
        catalog: CatalogSource,
        probes: Probes,
        views: Database | None = None,
    ) -> None:
        """`views`: where the views are read (a hot standby), if not from `db`."""
        self.settings = settings
        self.clock = clock
        self.db = db
        self.views = views or db
        self.catalogs = catalog
        self.reader = ViewReader(self.views)
        self.cards = CardReader(self.views.settings, self.views)
        self.verified = VerifiedCards(signature_memo_size())
        self.keys = KeyCache(self.reader)
        self.merchants = MerchantCache(self.reader)
        self.limiter = limiter_for(settings, clock.now)
        self.bundles = ServedBundles(db, settings, clock)
        self.log = vlog.VerificationLog(db)
        self.photos = PhotoLinks(db)
        self.metrics = Metrics(probes.lag, probes.set_aside, lambda: self.log.depth)
        self._catalogs: dict[tuple[str, date], CachedCatalog] = {}
        self.desk = RedemptionDesk(self)

    def setup(self) -> None:
        """The tables are the migrations' (`cardservice migrate`); this seeds positions."""
        self.desk.setup()

    def close(self) -> None:
        self.desk.close()
        self.log.close()
        self.cards.close()
        self.limiter.close()

    # -- authentication --------------------------------------------------------------------
    def authenticate(self, token: str | None) -> MerchantRow | None:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        presented = token_hash(token)
        return _accepted(self.merchants.get(presented), presented)

    def authenticate_from_memory(self, token: str | None) -> tuple[bool, MerchantRow | None]:
        """(answered, merchant): `authenticate` from the caches alone, answered only when
        checking a credential would read nothing else either. When not, the hot path calls
        `warm` in a worker thread: a cache refilled from a database that is down waits for
        the pool's timeout, and on the event loop that wait would stall every request, the
        probes included."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return True, None
        presented = token_hash(token)
        fresh, merchant = self.merchants.cached(presented)
        if not fresh or not self.keys.fresh():
            return False, None
        if merchant is not None:
            cached = self._catalogs.get((merchant.region, today_in_shanghai(self.clock)))
            if cached is None or time.monotonic() - cached.read_at > CATALOG_CACHE_SECONDS:
                return False, None
        return True, _accepted(merchant, presented)

    def warm(self, token: str | None) -> MerchantRow | None:
        """Authenticate and refill the caches the verification reads (blocking)."""
        merchant = self.authenticate(token)
        self.keys.current()
        if merchant is not None:
            self._catalog_entry(merchant.region, today_in_shanghai(self.clock))
        return merchant

    def rate_limited(self, merchant: MerchantRow) -> int | None:
        return self.limiter.take(str(merchant.merchant_id))

    # -- verification ----------------------------------------------------------------------
    def policy_for(self, merchant: MerchantRow) -> Policy:
        return Policy(
            clock_skew_seconds=self.settings.clock_skew_seconds,
            presentation_window_seconds=self.settings.presentation_window_seconds,
            require_device_binding=merchant.require_device_binding,
        )

    def verify(self, merchant: MerchantRow, text: str) -> dict[str, Any]:
        """Decide and record (waiting for room in the log queue if it is full)."""
        verdict, record = self.decide(merchant, text)
        self.log.record(record)
        return verdict

    def decide(self, merchant: MerchantRow, text: str) -> tuple[dict[str, Any], vlog.Record]:
        """The verdict and the log record to append (the caller queues it)."""
        pending = self._check(merchant, text)
        if pending.card_id is None:
            return self._finish(merchant, pending, None, None)
        row = self.cards.get(pending.card_id)
        used = (
            self.desk.counters.get(str(pending.card_id), current_periods(pending.now_dt))
            if pending.counts
            else None
        )
        return self._finish(merchant, pending, row, used)

    async def adecide(self, merchant: MerchantRow, text: str) -> tuple[dict[str, Any], vlog.Record]:
        """`decide` for the event loop: the card lookup never blocks it on PostgreSQL, and
        where a benefit for this card may carry a limit the counters come with it, in the
        same query."""
        pending = self._check(merchant, text)
        if pending.card_id is None:
            return self._finish(merchant, pending, None, None)
        # The photo flag (for `photo_url`) is looked up beside the card, off the event loop
        # on PostgreSQL; `_finish` then reads it from the photo links' short cache.
        warm = self.photos.awarm(pending.card_id)
        if not pending.counts:
            row, _ = await asyncio.gather(self.cards.aget(pending.card_id), warm)
            return self._finish(merchant, pending, row, None)
        periods = current_periods(pending.now_dt)
        if self.db.dialect == "postgres":
            (row, used), _ = await asyncio.gather(
                self.desk.counters.card_and_counters(str(pending.card_id), periods), warm
            )
        else:
            await warm
            row, used = (
                self.cards.get(pending.card_id),
                self.desk.counters.get(str(pending.card_id), periods),
            )
        return self._finish(merchant, pending, row, used)

    def _check(self, merchant: MerchantRow, text: str) -> _Pending:
        started = time.perf_counter()
        now_dt = self.clock.now()
        now = int(now_dt.timestamp())
        policy = self.policy_for(merchant)
        checked = read_credential(text, self.keys, self.verified)
        card_id = (
            checked.parsed.claims.card_id
            if checked.status is None and checked.parsed is not None
            else None
        )
        if card_id is None or checked.parsed is None:  # answered without a read
            return _Pending(started, now_dt, now, policy, checked, None, None, False)
        # Counters are read when the decision for these claims at this merchant, if it is
        # remembered, has a limited benefit; when it is not, when the catalog has any.
        entry = self._catalog_entry(merchant.region, today_in_shanghai(self.clock))
        known = entry.decisions.get(decision_key(merchant, checked.parsed.claims))
        counts = bool(known.counted) if known is not None else entry.limited
        return _Pending(started, now_dt, now, policy, checked, card_id, entry, counts)

    def _finish(
        self, merchant: MerchantRow, pending: _Pending, row: CardRow | None, used: Used | None
    ) -> tuple[dict[str, Any], vlog.Record]:
        # The issuer signature is checked only where these are not the bytes the ledger
        # issued for the card's current version (the view keeps their digest).
        checked = check_trust(
            pending.checked,
            pending.now,
            pending.policy,
            row.credential_digest if row is not None else "",
            self.verified,
        )
        standing = None
        if row is not None and checked.status is None and checked.parsed is not None:
            standing = standing_from_view(
                checked.parsed, row.status, row.version, row.credential_digest
            )
        status = decide(checked, standing, pending.now, pending.policy)
        eligibility = (
            eligibility_at(pending.entry, checked, merchant)
            if status == "valid" and pending.entry is not None
            else NO_BENEFITS
        )
        periods = current_periods(pending.now_dt) if eligibility.counted else ()
        benefits = with_remaining(eligibility.shown, eligibility.counted, used or {}, periods)
        verdict = {
            "valid": status == "valid",
            "status": status,
            "card": card_summary(checked.parsed, status),
            "benefits": benefits,
            "not_applicable": eligibility.not_applicable,
            "presentation": checked.presentation,
            "catalog_version": eligibility.versions,
            "checked_at": pending.now_dt.astimezone(UTC).isoformat(),
            "verification_id": str(uuid.uuid4()),
        }
        verdict["photo_url"] = self.photos.url_for(
            status, pending.card_id, str(verdict["verification_id"])
        )
        unused = unused_of(eligibility.counted, used or {}, periods) if periods else frozenset()
        record = self._record(merchant, checked, verdict, eligibility)
        self.desk.remember(record, unused)
        self.metrics.observe(status, time.perf_counter() - pending.started)
        return verdict, record

    def catalog(self, region: str, today: date) -> CatalogAnswer:
        return self._catalog_entry(region, today).answer

    def _catalog_entry(self, region: str, today: date) -> CachedCatalog:
        """The merchant region's catalog, cached `CATALOG_CACHE_SECONDS` per (region, day):
        one catalog read per second per region instead of one per verification."""
        key = (region, today)
        now = time.monotonic()
        cached = self._catalogs.get(key)
        if cached is not None and now - cached.read_at <= CATALOG_CACHE_SECONDS:
            return cached
        answer = catalog_for(self.catalogs, region, today)
        cached = CachedCatalog(now, answer, limited=any(b.get("limit") for b in answer.benefits))
        if len(self._catalogs) > 10_000:
            self._catalogs.clear()
        self._catalogs[key] = cached
        return cached

    @staticmethod
    def _record(
        merchant: MerchantRow, checked: Checked, verdict: dict[str, Any], eligibility: Eligibility
    ) -> vlog.Record:
        trusted = verdict["card"] is not None and checked.parsed is not None
        claims = checked.parsed.claims if trusted and checked.parsed is not None else None
        return vlog.Record(
            verification_id=verdict["verification_id"],
            merchant_id=str(merchant.merchant_id),
            merchant_name=merchant.name,
            merchant_kind=merchant.kind,
            merchant_region=merchant.region,
            card_id=str(claims.card_id) if claims else None,
            card_number=claims.card_number if claims else None,
            status=verdict["status"],
            presentation=verdict["presentation"],
            checked_at=verdict["checked_at"],
            card_region=claims.issuer_region if claims else None,
            benefits=eligibility.applied,
            refusals=eligibility.refusals,
        )


def _accepted(merchant: MerchantRow | None, presented: str) -> MerchantRow | None:
    """The merchant the presented key's hash opens: active, compared in constant time."""
    if merchant is None or not merchant.active or not same(merchant.key_hash, presented):
        return None
    return merchant


def now_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()

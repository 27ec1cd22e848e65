"""The offline bundles as the merchant API serves them: stored bytes, read as they are.

The write side signs and stores them (`cardservice.bundles`); here nothing is built, signed
or scanned, and no key or master secret is needed. Downloads are rate-limited per merchant
in a bucket of their own; the merchant's policy goes beside the bundle, in a header.
"""

from __future__ import annotations

import json

from cardservice.clock import Clock
from cardservice.settings import Settings
from cardservice.storage import Database
from merchant_api.ratelimit import RateLimiter
from projections.merchants import MerchantRow
from projections.offline_bundles import (
    StoredBundle,
    stored_bundle,
    stored_etag,
)


class ServedBundles:
    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.limiter = RateLimiter(
            settings.bundle_rate_per_minute / 60.0, clock.now, burst=settings.bundle_burst
        )

    def rate_limited(self, merchant: MerchantRow) -> int | None:
        return self.limiter.take(str(merchant.merchant_id))

    def etag(self, merchant: MerchantRow) -> str | None:
        """The stored bundle's ETag for the merchant's region: one indexed read."""
        with self.db.read() as tx:
            return stored_etag(tx, merchant.region)

    def stored(self, merchant: MerchantRow) -> StoredBundle | None:
        with self.db.read() as tx:
            return stored_bundle(tx, merchant.region)

    @staticmethod
    def merchant_policy(merchant: MerchantRow) -> str:
        """The `Merchant-Policy` header: the merchant's own rules for offline checks, beside
        the signed bundle (compact JSON, ASCII)."""
        return json.dumps(
            {
                "kind": merchant.kind,
                "categories": list(merchant.categories),
                "a_level": merchant.a_level,
                "require_device_binding": merchant.require_device_binding,
            },
            separators=(",", ":"),
        )

"""Redemptions at the merchant API: the use cases behind `/v1/redemptions*` and the
`remaining` a verdict shows.

The merchant API holds no secret and writes only its own context: the Redemptions
application (`redemptions`). A redemption names a verification of the same merchant; the
benefit, its limit and companions come from what that verification recorded, so a
catalog change after the verdict cannot change what the merchant was told.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cardservice.clock import SHANGHAI
from cardservice.credentials import ParsedCredential
from cardservice.storage import Tx
from merchant_api import vlog
from merchant_api.catalog import catalog_for
from merchant_api.core import Standing, check_credential, decide, standing_from_view
from merchant_api.counters import CounterReader
from projections.card_history import as_of, select_history
from projections.merchants import MerchantRow
from redemptions.application import AlreadyRedeemed, Grant, KeyReused, Outcome
from redemptions.domain import LimitReached, Redemption, benefit_key
from redemptions.service import RedemptionContext

if TYPE_CHECKING:
    from merchant_api.service import MerchantApi

VERIFICATION_TTL = timedelta(minutes=15)
OFFLINE_MAX_AGE = timedelta(hours=24)
RECENT_VERIFICATIONS = 20_000
IDEMPOTENCY_TTL = timedelta(hours=24)


class Refused(Exception):
    """A redemption the contract refuses: `status` and `code` are the HTTP answer's."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Applied:
    """One benefit as a verdict applied it (what the verification log keeps)."""

    id: str
    region: str
    count: int | None
    per: str | None
    companions: int

    @classmethod
    def from_benefit(cls, benefit: dict[str, Any]) -> Applied:
        limit = benefit.get("limit") or {}
        return cls(
            id=str(benefit["id"]),
            region=str(benefit["region"]),
            count=int(limit["count"]) if limit else None,
            per=str(limit["per"]) if limit else None,
            companions=int(benefit.get("companions") or 0),
        )

    def to_dict(self) -> dict[str, Any]:
        limit = {"count": self.count, "per": self.per} if self.count is not None else None
        return {"id": self.id, "region": self.region, "limit": limit, "companions": self.companions}


def applied_json(benefits: list[dict[str, Any]]) -> str:
    return json.dumps([Applied.from_benefit(b).to_dict() for b in benefits], ensure_ascii=False)


def applied_of(record: vlog.Record) -> list[Applied]:
    out = []
    for item in json.loads(record.benefits or "[]"):
        limit = item.get("limit") or {}
        out.append(
            Applied(
                id=str(item["id"]),
                region=str(item["region"]),
                count=int(limit["count"]) if limit else None,
                per=str(limit["per"]) if limit else None,
                companions=int(item.get("companions") or 0),
            )
        )
    return out


def refusals_json(not_applicable: list[dict[str, Any]]) -> str | None:
    """`{benefit id: reason}` of the benefits that did not apply (None: every one did)."""
    if not not_applicable:
        return None
    return json.dumps({str(n["id"]): str(n["reason"]) for n in not_applicable}, ensure_ascii=False)


def redemption_view(r: Redemption | Any, *, verification: bool = True) -> dict[str, Any]:
    body = {
        "redemption_id": str(r.id if isinstance(r, Redemption) else r.redemption_id),
        "benefit_id": r.benefit_id,
        "benefit_region": r.benefit_region,
        "companions": r.companions,
        "remaining": r.remaining,
        "redeemed_at": r.redeemed_at,
        "status": r.status,
    }
    if verification:
        body["verification_id"] = r.verification_id
    return body


class RedemptionDesk:
    def __init__(self, api: MerchantApi) -> None:
        self.api = api
        self.context = RedemptionContext(api.settings, api.db)
        self.app = self.context.app
        self.counters = CounterReader(api.settings, api.db, api.cards._postgres_pool)
        self._recent: OrderedDict[str, vlog.Record] = OrderedDict()
        self._unused: dict[str, frozenset[str]] = {}
        """Per remembered verification, the counter keys its verdict found unused (a hint
        for `Grant.counter_unused`; never stored)."""
        self._lock = threading.Lock()

    def setup(self) -> None:
        self.context.setup()
        self.context.start()

    def close(self) -> None:
        self.counters.close()
        self.context.close()

    # -- verdicts ------------------------------------------------------------------------
    def remember(self, record: vlog.Record, unused: frozenset[str] = frozenset()) -> None:
        """Keep a valid verification at hand until the log writer has stored it, with the
        counter keys its verdict found unused."""
        if record.status != "valid":
            return
        with self._lock:
            self._recent[record.verification_id] = record
            if unused:
                self._unused[record.verification_id] = unused
            while len(self._recent) > RECENT_VERIFICATIONS:
                gone, _ = self._recent.popitem(last=False)
                self._unused.pop(gone, None)

    # -- online ----------------------------------------------------------------------------
    def verification(self, merchant: MerchantRow, verification_id: str) -> vlog.Record:
        """The merchant's own verification: recent ones from memory, else the log (waiting
        briefly for the log writer, which may still hold it)."""
        with self._lock:
            record = self._recent.get(verification_id)
        for attempt in range(3):
            if record is not None:
                break
            if attempt:
                time.sleep(vlog.FLUSH_SECONDS * 2)
            with self.api.db.read() as tx:
                record = vlog.find(tx, verification_id)
        if record is None or record.merchant_id != str(merchant.merchant_id):
            raise Refused(404, "unknown_verification", "no such verification of this merchant")
        return record

    def _unused_of(self, record: vlog.Record) -> frozenset[str]:
        with self._lock:
            return self._unused.get(record.verification_id, frozenset())

    def replayed(
        self, merchant: MerchantRow, key: str | None, digest: str
    ) -> dict[str, Any] | None:
        """The first answer to this Idempotency-Key, before any other check."""
        if key is None:
            return None
        used = self.app.request_key(self._scope(merchant, key))
        if used is None:
            return None
        if datetime.fromisoformat(used.at) + IDEMPOTENCY_TTL < self.api.clock.now():
            return None
        if used.digest != digest:
            raise Refused(422, "idempotency_mismatch", "Idempotency-Key reused with another body")
        first = self.app.redemption(used.redemption_id)
        return redemption_view(first) if first is not None else None

    @staticmethod
    def _scope(merchant: MerchantRow, key: str) -> str:
        return f"{merchant.merchant_id}:POST:/v1/redemptions:{key}"

    def redeem(
        self,
        merchant: MerchantRow,
        verification_id: str,
        benefit_id: str,
        companions: int,
        *,
        key: str | None = None,
        digest: str = "",
    ) -> dict[str, Any]:
        first = self.replayed(merchant, key, digest)
        if first is not None:
            return first
        record = self.verification(merchant, verification_id)
        found = [a for a in applied_of(record) if a.id == benefit_id]
        if not found or record.card_id is None:
            raise Refused(422, "invalid", f"benefit {benefit_id!r} was not applied by that verdict")
        benefit = found[0]
        if companions > benefit.companions:
            raise Refused(422, "invalid", f"at most {benefit.companions} companions for it")
        now = self.api.clock.now()
        if now - datetime.fromisoformat(record.checked_at) > VERIFICATION_TTL:
            raise Refused(422, "invalid", "the verification is older than 15 minutes")
        grant = Grant(
            merchant_id=record.merchant_id,
            merchant_name=record.merchant_name,
            merchant_kind=record.merchant_kind,
            merchant_region=record.merchant_region,
            card_id=record.card_id,
            card_region=record.card_region or "",
            benefit_id=benefit.id,
            benefit_region=benefit.region,
            limit_count=benefit.count,
            limit_per=benefit.per,
            companions=companions,
            redeemed_at=now,
            verification_id=verification_id,
            counter_unused=benefit_key(benefit.region, benefit.id) in self._unused_of(record),
        )
        request = (self._scope(merchant, key), digest) if key is not None else None
        try:
            outcome = self.app.redeem(grant, request=request)
        except AlreadyRedeemed:
            raise Refused(
                409, "already_redeemed", "that verification already redeemed it"
            ) from None
        except LimitReached:
            raise Refused(409, "limit_reached", "the period's count is used up") from None
        except KeyReused:
            raise Refused(
                422, "idempotency_mismatch", "Idempotency-Key reused with another body"
            ) from None
        return redemption_view(outcome.redemption)

    # -- offline ---------------------------------------------------------------------------
    def offline(self, merchant: MerchantRow, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        received = self.api.clock.now()
        return [self._offline_item(merchant, i, item, received) for i, item in enumerate(items)]

    def _offline_item(
        self, merchant: MerchantRow, index: int, item: dict[str, Any], received: datetime
    ) -> dict[str, Any]:
        def refused(reason: str) -> dict[str, Any]:
            return {"index": index, "redemption_id": None, "status": "refused", "reason": reason}

        at: datetime = item["redeemed_at"]
        skew = timedelta(seconds=self.api.settings.clock_skew_seconds)
        if at > received + skew:
            return refused("redeemed_at_in_future")
        if at < received - OFFLINE_MAX_AGE - skew:
            return refused("redeemed_at_too_old")
        when = int(at.timestamp())
        policy = self.api.policy_for(merchant)
        checked = check_credential(item["qr"], self.api.keys, when, policy, self.api.verified)
        if checked.status is not None or checked.parsed is None:
            return refused(checked.status or "malformed")
        claims = checked.parsed.claims
        status = decide(checked, self._standing_at(checked.parsed, at), when, policy)
        if status != "valid":
            return refused(status)
        answer = catalog_for(self.api.catalogs, merchant.region, at.astimezone(SHANGHAI).date())
        chosen = [b for b in answer.benefits if str(b["id"]) == item["benefit_id"]]
        if not chosen:
            return refused("benefit_not_in_chain")
        benefit = Applied.from_benefit(chosen[0])
        if item["companions"] > benefit.companions:
            return refused("companions")
        grant = Grant(
            merchant_id=str(merchant.merchant_id),
            merchant_name=merchant.name,
            merchant_kind=merchant.kind,
            merchant_region=merchant.region,
            card_id=str(claims.card_id),
            card_region=claims.issuer_region,
            benefit_id=benefit.id,
            benefit_region=benefit.region,
            limit_count=benefit.count,
            limit_per=benefit.per,
            companions=item["companions"],
            redeemed_at=at,
        )
        outcome: Outcome = self.app.redeem(grant, offline=True)
        return {
            "index": index,
            "redemption_id": str(outcome.redemption.id),
            "status": outcome.redemption.status,
        }

    def _standing_at(self, parsed: ParsedCredential, at: datetime) -> Standing | None:
        """The card's standing as of `at`: the status and credential version in effect
        then, from the card history view (None: the card did not exist yet). A card the
        history has not folded yet (a database just migrated to it, while the runner
        catches up) is judged by its current row, as before the history existed."""
        with self.api.db.read() as tx:
            history = select_history(tx, parsed.claims.card_id)
        if not history:
            row = self.api.cards.get(parsed.claims.card_id)
            return standing_from_view(parsed, row.status, row.version) if row else None
        change = as_of(history, at)
        if change is None:
            return None
        return standing_from_view(parsed, change.status, change.version)

    # -- lists -----------------------------------------------------------------------------
    def page(self, column: str, value: str, before: int | None, limit: int) -> dict[str, Any]:
        with self.api.db.read() as tx:
            rows, after = _page(tx, column, value, before, limit)
        items = []
        for r in rows:
            item = {
                "redemption_id": r[1],
                "verification_id": r[13],
                "benefit_id": r[8],
                "benefit_region": r[9],
                "companions": r[10],
                "redeemed_at": r[11],
                "status": r[14],
            }
            if column == "card_id":
                item["merchant"] = {"name": r[3], "kind": r[4], "region": r[5]}
            else:
                item["card_region"] = r[7]
            items.append(item)
        return {"items": items, "next": str(after) if after is not None else None}


def _page(
    tx: Tx, column: str, value: str, before: int | None, limit: int
) -> tuple[list[Any], int | None]:
    if column not in ("merchant_id", "card_id"):
        raise ValueError(column)
    where, params = f"{column} = ?", list[Any]([value])
    if before is not None:
        where += " AND seq < ?"
        params.append(before)
    rows = tx.all(
        "SELECT seq, redemption_id, merchant_id, merchant_name, merchant_kind, merchant_region, "  # noqa: S608
        "card_id, card_region, benefit_id, benefit_region, companions, redeemed_at, day, "
        f"verification_id, status FROM view_redemptions WHERE {where} "
        "ORDER BY seq DESC LIMIT ?",
        [*params, limit + 1],
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (int(rows[-1][0]) if more and rows else None)

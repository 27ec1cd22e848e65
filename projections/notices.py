"""Holder notices: a fold of card (and appeal) events into the holder's inbox, plus its outbox.

Each notice is written with a row in `notice_outbox` in the same transaction as the view,
so a configured messaging gateway gets every notice at least once (the write side's
delivery worker reads the outbox; see `cardservice.outbox`). Notice ids derive from the
event (originator id and version), so a rebuild of the view yields the same ids and the
outbox's `ON CONFLICT DO NOTHING` sends nothing twice.

"Expires in 30 days" is a notice of the clock, not of an event: `expiring_notice` computes
it from the card's expiry date and today, for the inbox and for the delivery worker alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from cardservice.clock import SHANGHAI
from cardservice.dialect import Insert
from cardservice.domain.activation import ISSUANCE
from cardservice.domain.appeals import Appeal
from cardservice.domain.card_status import UNBOUND
from cardservice.domain.cards import DEVICE_KEY_BOUND, Card
from cardservice.storage import Row, Tx
from projections.view import Event, View, chunks, event_name, placeholders, topics_of

NOTICE_NAMESPACE = uuid.UUID("9b2f7c1e-4a6d-4e3b-8f05-6d1c2e9a7b34")
EXPIRING_DAYS = 30
KINDS = (
    "suspended",
    "reinstated",
    "revoked",
    "reissued",
    "activation_code",
    "expiring",
    "appeal_answered",
)

CARD_NOTICE_EVENTS = ("Suspended", "Reinstated", "Revoked", "Reissued", "ActivationCodeIssued")
APPEAL_TOPICS = topics_of(Appeal, ("Answered",))
"""Appeal answers (the Appeal aggregate lives in the card ledger's store)."""

OUTBOX_DDL_SQLITE = """CREATE TABLE IF NOT EXISTS notice_outbox (
    notice_id TEXT PRIMARY KEY,
    card_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    message TEXT NOT NULL,
    message_en TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    delivered_at REAL,
    outcome TEXT,
    last_error TEXT
)"""


OUTBOX_REFUSAL_COLUMNS = (
    ("refusals", "INTEGER NOT NULL DEFAULT 0"),
    ("last_status", "INTEGER"),
)
"""Added by migration 3 (`cardservice.migrations.notice_outbox_refusals`): how often the
gateway refused a row for good (4xx other than 408 and 429), and its last HTTP status."""


def outbox_ddl(dialect: str) -> list[str]:
    table = OUTBOX_DDL_SQLITE
    if dialect == "postgres":
        table = table.replace(" REAL", " DOUBLE PRECISION")
    return [
        table,
        "CREATE INDEX IF NOT EXISTS notice_outbox_due ON notice_outbox (delivered_at, "
        "next_attempt_at)",
    ]


@dataclass(frozen=True)
class Notice:
    notice_id: UUID
    card_id: UUID
    at: str
    kind: str
    message: str
    message_en: str
    version: int = 0
    """The event's originator version: orders notices of one instant."""

    def as_item(self) -> dict[str, Any]:
        return {
            "id": str(self.notice_id),
            "at": self.at,
            "kind": self.kind,
            "message": self.message,
            "message_en": self.message_en,
        }


NoticeState = tuple[Notice, ...]
"""The notices one aggregate (a card or an appeal) gave rise to, oldest first."""


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def _because(reason: str, zh: bool) -> str:
    reason = (reason or "").strip()
    if not reason:
        return ""
    return f"原因：{reason}" if zh else f" Reason: {reason}"


def message_for(kind: str, reason: str = "", outcome: str = "") -> tuple[str, str]:
    """The notice's text in Chinese and English (the gateway sends the Chinese)."""
    if kind == "suspended":
        return (
            "您的优待证已被暂停使用。" + _because(reason, True),
            "Your card has been suspended." + _because(reason, False),
        )
    if kind == "reinstated":
        return ("您的优待证已恢复使用。", "Your card is active again.")
    if kind == "revoked":
        return (
            "您的优待证已被注销，不能再使用。" + _because(reason, True),
            "Your card has been revoked and can no longer be used." + _because(reason, False),
        )
    if kind == "reissued" and reason == DEVICE_KEY_BOUND:
        # The phone bound its own key (right after activation): no "old codes" alarm.
        return (
            "您的优待证已与这部手机绑定，可以用这部手机出示。如非本人操作，请联系发证机关。",
            "This card is now bound to this phone and can be shown with it. "
            "If you did not do this, contact the issuing office.",
        )
    if kind == "reissued" and reason.startswith(UNBOUND):
        # The holder gave up the phone: the printed card is how to go on.
        return (
            "您的优待证已与原手机解除绑定，原手机不能再出示。可请发证机关打印纸质优待证，"
            "或在新手机上用新的激活码激活。",
            "Your card is no longer bound to the old phone, which can no longer show it. "
            "The issuing office can print a paper card, or activate it on a new phone "
            "with a new code.",
        )
    if kind == "reissued":
        return (
            "您的优待证已更新，旧的二维码和截图不再有效。",
            "Your card has been renewed; earlier QR codes and screenshots no longer work.",
        )
    if kind == "activation_code":
        return (
            "已为您的优待证生成新的激活码，此前的激活码已失效。如非本人申请，请联系发证机关。",
            "A new activation code was made for your card; earlier codes no longer work. "
            "If you did not ask for it, contact the issuing office.",
        )
    if kind == "appeal_answered":
        upheld = outcome == "upheld"
        return (
            "您的申诉已有答复：" + ("申诉成立。" if upheld else "申诉未获支持。"),
            "Your appeal has been answered: " + ("upheld." if upheld else "rejected."),
        )
    raise ValueError(f"no message for notice kind {kind!r}")


def expiring_message(expires: date) -> tuple[str, str]:
    day = expires.isoformat()
    return (
        f"您的优待证将于 {day} 到期（30 天内），请及时联系发证机关办理续期。",
        f"Your card expires on {day} (within 30 days); contact the issuing office to renew it.",
    )


def notice_id_for(originator_id: UUID, originator_version: int) -> UUID:
    return uuid.uuid5(NOTICE_NAMESPACE, f"{originator_id}:{originator_version}")


def expiring_notice(card_id: UUID, expires_on: str, today: date) -> Notice | None:
    """The "expires in 30 days" notice, once today is within 30 days of the expiry date."""
    expires = date.fromisoformat(expires_on)
    starts = expires - timedelta(days=EXPIRING_DAYS)
    if today < starts:
        return None
    message, message_en = expiring_message(expires)
    at = datetime.combine(starts, time(0, 0), tzinfo=SHANGHAI)
    return Notice(
        notice_id=uuid.uuid5(NOTICE_NAMESPACE, f"expiring:{card_id}:{expires_on}"),
        card_id=card_id,
        at=_iso(at),
        kind="expiring",
        message=message,
        message_en=message_en,
    )


def notice_of(event: Event) -> Notice | None:
    """The notice one event gives rise to, if any (pure)."""
    name = event_name(event)
    kind: str | None = None
    card_id = event.originator_id
    reason = str(getattr(event, "reason", "") or "")
    outcome = ""
    if name == "Card.Suspended":
        kind = "suspended"
    elif name == "Card.Reinstated":
        kind = "reinstated"
    elif name == "Card.Revoked":
        kind = "revoked"
    elif name == "Card.Reissued":
        kind = "reissued"
    elif name == "Card.ActivationCodeIssued" and reason != ISSUANCE:
        kind = "activation_code"
    elif name == "Appeal.Answered":
        kind = "appeal_answered"
        card_id = UUID(str(event.card_id))
        outcome = str(event.outcome)
    if kind is None:
        return None
    message, message_en = message_for(kind, reason, outcome)
    at = getattr(event, "at", None) or event.timestamp
    return Notice(
        notice_id=notice_id_for(event.originator_id, int(event.originator_version)),
        card_id=card_id,
        at=_iso(at),
        kind=kind,
        message=message,
        message_en=message_en,
        version=int(event.originator_version),
    )


def apply_notice(state: NoticeState | None, event: Event) -> NoticeState | None:
    notice = notice_of(event)
    if notice is None:
        return state
    current = state or ()
    if any(n.notice_id == notice.notice_id for n in current):
        return current
    return (*current, notice)


_COLUMNS = "notice_id, card_id, at, kind, message, message_en"
_VIEW_COLUMNS = _COLUMNS + ", version"


def _notice_from(row: Row) -> Notice:
    return Notice(UUID(row[0]), UUID(row[1]), row[2], row[3], row[4], row[5], int(row[6]))


def newest_first(notices: Sequence[Notice]) -> list[Notice]:
    return sorted(notices, key=lambda n: (datetime.fromisoformat(n.at), n.version), reverse=True)


def _notice_row(n: Notice) -> tuple[str, str, str, str, str, str]:
    return (str(n.notice_id), str(n.card_id), n.at, n.kind, n.message, n.message_en)


def insert_outbox(tx: Tx, notices: Sequence[Notice]) -> None:
    """Queue notices for the gateway; a notice already queued (same id) is left alone."""
    tx.insert_many(
        Insert("notice_outbox", _COLUMNS, on_conflict="ON CONFLICT (notice_id) DO NOTHING"),
        [_notice_row(n) for n in notices],
    )


def notices_of_card(tx: Tx, card_id: UUID, today: date, expires_on: str | None) -> list[Notice]:
    """The card's inbox, newest first, with the "expiring" notice once it is due
    (`expires_on` None: a card that will not expire as such, a revoked one)."""
    found = [
        _notice_from(r)
        for r in tx.all(
            f"SELECT {_VIEW_COLUMNS} FROM view_notices WHERE card_id = ?",  # noqa: S608
            (str(card_id),),
        )
    ]
    expiring = expiring_notice(card_id, expires_on, today) if expires_on else None
    if expiring is not None:
        found.append(expiring)
    return newest_first(found)


class NoticesView(View[NoticeState]):
    name = "notices"
    source = "CardLedger"
    topics = topics_of(Card, CARD_NOTICE_EVENTS) | APPEAL_TOPICS
    tables = ("view_notices",)

    def ddl(self, dialect: str) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS view_notices (
                notice_id TEXT PRIMARY KEY,
                originator_id TEXT NOT NULL,
                card_id TEXT NOT NULL,
                at TEXT NOT NULL,
                kind TEXT NOT NULL,
                message TEXT NOT NULL,
                message_en TEXT NOT NULL,
                version INTEGER NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS view_notices_card ON view_notices (card_id)",
            "CREATE INDEX IF NOT EXISTS view_notices_origin ON view_notices (originator_id)",
            *outbox_ddl(dialect),
        ]

    def apply(self, state: NoticeState | None, event: Event) -> NoticeState | None:
        return apply_notice(state, event)

    def load(self, tx: Tx, ids: Sequence[UUID]) -> dict[UUID, NoticeState]:
        found: dict[UUID, list[Notice]] = {}
        for part in chunks([str(i) for i in ids]):
            for row in tx.all(
                f"SELECT originator_id, {_VIEW_COLUMNS} FROM view_notices "  # noqa: S608
                f"WHERE originator_id IN ({placeholders(len(part))})",
                part,
            ):
                found.setdefault(UUID(row[0]), []).append(_notice_from(row[1:]))
        return {key: tuple(sorted(items, key=lambda n: n.version)) for key, items in found.items()}

    def store(
        self, tx: Tx, changes: Mapping[UUID, tuple[NoticeState | None, NoticeState | None]]
    ) -> None:
        new: list[tuple[UUID, Notice]] = []
        for originator_id, (before, after) in changes.items():
            known = {n.notice_id for n in before or ()}
            new.extend((originator_id, n) for n in after or () if n.notice_id not in known)
        tx.insert_many(
            Insert(
                "view_notices",
                f"originator_id, {_VIEW_COLUMNS}",
                on_conflict="ON CONFLICT (notice_id) DO NOTHING",
            ),
            [(str(o), *_notice_row(n), n.version) for o, n in new],
        )
        insert_outbox(tx, [n for _, n in new])

    def snapshot(self, tx: Tx) -> list[Row]:
        return tx.all(
            f"SELECT originator_id, {_VIEW_COLUMNS} FROM view_notices ORDER BY notice_id"  # noqa: S608
        )

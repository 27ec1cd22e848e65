"""The notices fold on real domain events: which events are notices, their ids (stable:
originator and version), their texts in both languages, and "expires in 30 days"."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cardservice.domain.activation import ISSUANCE
from cardservice.domain.appeals import Appeal
from cardservice.domain.card_status import UNBOUND
from cardservice.domain.cards import DEVICE_KEY_BOUND, Card
from projections.notices import (
    KINDS,
    apply_notice,
    expiring_notice,
    message_for,
    newest_first,
    notice_id_for,
)

AT = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
ACTOR = {"kind": "admin", "id": "t", "role": "admin", "region": "000000"}


def card() -> Card:
    return Card(
        card_id=uuid.uuid4(),
        holder_id=uuid.uuid4(),
        card_number="500112202600000018",
        category="veteran",
        region="500112",
        masked_name="张*明",
        issued_at=AT,
        expires_on="2036-06-01",
        status_index=1,
        kid="k",
        actor=ACTOR,
        command_id="",
        request_digest="",
    )


def fold(events: list[Any]) -> tuple[Any, ...]:
    state = None
    for ev in events:
        state = apply_notice(state, ev)
    return state or ()


def test_each_change_is_one_notice_and_issuance_is_none() -> None:
    c = card()
    for serial, reason in ((1, ISSUANCE), (2, "新手机")):
        c.issue_activation_code(
            code_hash="h",
            serial=serial,
            expires_at=AT + timedelta(days=7),
            reason=reason,
            actor=ACTOR,
            at=AT,
        )
    c.suspend("核查", ACTOR, AT + timedelta(minutes=1))
    c.reinstate("", ACTOR, AT + timedelta(minutes=2))
    c.reissue(
        reason="device_key_bound",
        status_index=2,
        kid="k",
        device_key=None,
        actor=ACTOR,
        at=AT + timedelta(minutes=3),
    )
    c.reissue(
        reason="key_rotation",
        status_index=3,
        kid="k2",
        device_key=None,
        actor=ACTOR,
        at=AT + timedelta(minutes=3, seconds=30),
    )
    c.revoke("遗失", ACTOR, AT + timedelta(minutes=4))
    events = c.collect_events()
    notices = fold(events)
    assert [n.kind for n in notices] == [
        "activation_code",
        "suspended",
        "reinstated",
        "reissued",
        "reissued",
        "revoked",
    ]
    # The phone binding its own key is worded as such, not as "old codes no longer work".
    bound, renewed = notices[3], notices[4]
    assert bound.message.startswith("您的优待证已与这部手机绑定")
    assert bound.message_en.startswith("This card is now bound to this phone")
    assert "不再有效" not in bound.message
    assert renewed.message == "您的优待证已更新，旧的二维码和截图不再有效。"
    assert bound.notice_id == notice_id_for(c.id, events[5].originator_version)
    assert notices[1].message == "您的优待证已被暂停使用。原因：核查"
    assert notices[1].message_en == "Your card has been suspended. Reason: 核查"
    assert all(n.card_id == c.id for n in notices)
    assert notices[1].notice_id == notice_id_for(c.id, events[3].originator_version)
    # Folding the same events again (a rebuild) gives the same ids; a replayed event adds
    # nothing.
    assert [n.notice_id for n in fold(events)] == [n.notice_id for n in notices]
    assert fold([*events, events[-1]]) == notices
    assert newest_first(notices)[0].kind == "revoked"


def test_an_answered_appeal_is_a_notice_of_its_card() -> None:
    card_id = uuid.uuid4()
    appeal = Appeal(
        appeal_id=uuid.uuid4(),
        card_id=str(card_id),
        card_region="500112",
        holder_id=str(uuid.uuid4()),
        sealed_text="x",
        verification_id=None,
        merchant_region=None,
        verification=None,
        filed_at=AT,
        command_id="",
    )
    appeal.answer("rejected", "不符合条件", ACTOR, AT)
    (notice,) = fold(appeal.collect_events())
    assert notice.kind == "appeal_answered" and notice.card_id == card_id
    assert "未获支持" in notice.message and "rejected" in notice.message_en


def test_expiring_from_thirty_days_before() -> None:
    cid = uuid.uuid4()
    assert expiring_notice(cid, "2026-07-31", date(2026, 6, 30)) is None
    due = expiring_notice(cid, "2026-07-31", date(2026, 7, 1))
    assert due is not None and due.kind == "expiring" and "2026-07-31" in due.message
    assert due.at == "2026-06-30T16:00:00+00:00"  # 1 July in Asia/Shanghai
    assert due == expiring_notice(cid, "2026-07-31", date(2026, 7, 20))


def test_every_kind_has_both_texts() -> None:
    for kind in KINDS:
        if kind == "expiring":
            continue
        zh, en = message_for(kind, "r", "upheld")
        assert zh and en and zh != en


def test_a_reissue_says_why_it_happened() -> None:
    """Binding the phone, unbinding it and a renewal each read as what the holder did or
    was done to the card, never the same alarm for all three."""
    bound = message_for("reissued", DEVICE_KEY_BOUND, "")
    unbound = message_for("reissued", f"{UNBOUND}: 手机丢失", "")
    renewed = message_for("reissued", "照片更新", "")
    assert len({bound, unbound, renewed}) == 3
    assert "绑定" in bound[0] and "解除绑定" in unbound[0] and "纸质" in unbound[0]
    assert "no longer work" in renewed[1]

"""Response models of the admin and holder routes (`response_model=` on each route).

The declared fields are what a client may rely on; `extra="allow"` keeps any further field
a route adds (a new contract field reaches clients before its model lists it, instead of
being dropped silently). Values the presenters leave as Python objects (event data) are `Any`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class ActivationState(Out):
    state: str
    expires_at: str | None
    activated_at: str | None


class CardOut(Out):
    """A card as administrators see it (status as of today in Asia/Shanghai)."""

    card_id: str
    card_number: str
    status: str
    category: str
    region: str
    masked_name: str
    version: int
    status_index: int
    kid: str
    issued_at: str
    expires: str
    device_bound: bool
    activation: ActivationState


class HistoryItem(Out):
    type: str
    version: int
    at: Any
    actor: Any
    reason: Any
    data: dict[str, Any]


class CardWithHistoryOut(CardOut):
    history: list[HistoryItem]


class HolderCardOut(CardOut):
    """The holder's own card: the administrators' view without the holder id, with the QR."""

    qr: str


class ActivationCodeOut(Out):
    card_id: str
    activation_code: str | None
    activation_url: str | None
    activation_expires_at: str | None


class IssuedCardOut(ActivationCodeOut):
    card_number: str
    status: Literal["active"]
    qr: str
    expires: str
    version: int


class ActivatedOut(Out):
    card_id: str
    holder_token: str
    card: HolderCardOut


class DeviceKeyOut(Out):
    qr: str
    version: int


class TokenOut(Out):
    """`token` is shown once; a replay answers null and says why in `detail`."""

    token: str | None
    token_id: str
    role: str
    region: str
    expires_at: str
    detail: str | None = None


class TokenRevokedOut(Out):
    token_id: str
    revoked: bool


class MerchantOut(Out):
    merchant_id: str
    name: str
    region: str
    kind: str
    categories: list[str]
    a_level: int | None
    require_device_binding: bool
    active: bool


class MerchantCreatedOut(MerchantOut):
    """`api_key` is shown once; a replay answers null and says why in `detail`."""

    api_key: str | None
    detail: str | None = None


class MerchantKeyOut(Out):
    """`api_key` is shown once; a replay answers null and says why in `detail`."""

    merchant_id: str
    api_key: str | None
    detail: str | None = None


class PublishedOut(Out):
    version: int
    region: str
    effective_from: str


class BenefitOut(Out):
    id: str
    title: str
    partner: str
    category: str
    discount: str
    holder_categories: list[str]
    local_only: bool
    merchant_categories: list[str]
    min_a_level: int | None


class CatalogOut(Out):
    region: str
    at: str
    benefits: list[BenefitOut]
    upcoming: list[dict[str, Any]]
    catalog_version: dict[str, int]


class AdminCatalogOut(CatalogOut):
    versions: list[dict[str, Any]]


class VersionsOut(Out):
    region: str
    versions: list[dict[str, Any]]


class AuditPageOut(Out):
    region: str
    items: list[dict[str, Any]]
    next: str | None


class CardSummaryOut(Out):
    """One line of the console's card search (masked name only, never the ID number)."""

    card_id: str
    card_number: str
    status: str
    region: str
    category: str
    masked_name: str
    issued_at: str


class CardSearchOut(Out):
    items: list[CardSummaryOut]
    next: str | None


class MerchantPageOut(Out):
    items: list[MerchantOut]
    next: str | None


class TokenListItem(Out):
    """A token as the console lists it: never the secret."""

    token_id: str
    role: str
    region: str
    minted_by: str
    created_at: str
    expires_at: str
    expired: bool
    revoked: bool


class TokenPageOut(Out):
    items: list[TokenListItem]
    next: str | None


class ImportStartedOut(Out):
    import_id: str


class ImportOut(ImportStartedOut):
    """`running`, `done` or `failed`; a failed import adds `reason` (a string)."""

    status: str
    total: int
    imported: int
    skipped: int
    rejected: int


class AppealFiledOut(Out):
    appeal_id: str
    status: str


class AppealAnswer(Out):
    outcome: str
    reply: str | None
    answered_at: str | None


class AppealOut(Out):
    """`text` is null once the holder's data was erased; `verification` is the verdict as
    decided when the appeal names a check."""

    appeal_id: str
    card_id: str
    card_region: str | None
    merchant_region: str | None
    status: str
    text: str | None
    filed_at: str | None
    verification: dict[str, Any] | None
    answer: AppealAnswer | None


class AppealPageOut(Out):
    items: list[AppealOut]
    next: str | None


class VerificationSums(Out):
    total: int
    by_status: dict[str, int]


class RedemptionSums(Out):
    total: int
    companions: int
    by_benefit: dict[str, int]
    out_of_region: int


class DaySums(Out):
    date: str
    verifications: int
    valid: int
    redemptions: int


class StatsOut(Out):
    region: str
    from_: str = Field(alias="from")
    to: str
    verifications: VerificationSums
    redemptions: RedemptionSums
    by_day: list[DaySums]

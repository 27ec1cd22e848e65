"""Response models of the admin and holder routes (`response_model=` on each route).

The declared fields are what a client may rely on; `extra="allow"` keeps any further field
a route adds (a new contract field reaches clients before its model lists it, instead of
being dropped silently). Values the presenters leave as Python objects (event data) are `Any`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


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


class KeyOut(Out):
    kid: str
    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str
    status: str
    not_after: str | None


class KeysOut(Out):
    keys: list[KeyOut]


class TokenOut(Out):
    token: str
    token_id: str
    role: str
    region: str


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
    merchant_id: str
    api_key: str


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

"""Request bodies. Shapes only; meaning (ID checksums, known regions) is checked by the domain."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
)

from cardservice.http.fields import (
    Category,
    DisplayName,
    HolderName,
    IdNumber,
    Label,
    Reason,
    RegionCode,
    Short,
)

Region = RegionCode
Coordinate = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class HolderIn(Strict):
    name: HolderName
    id_number: IdNumber
    category: Short
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 \-]{4,19}$")] | None = None


class IssueCardIn(Strict):
    holder: HolderIn
    region: Region
    valid_years: Annotated[int, Field(ge=1, le=50, strict=True)] | None = None


class ActivateIn(Strict):
    """A one-time activation code as typed (case, spaces and dashes do not matter)."""

    code: Annotated[Short, StringConstraints(max_length=64)]


class ReasonIn(Strict):
    reason: Reason = ""


class MintTokenIn(Strict):
    region: Region
    role: Short
    expires_in_days: Annotated[int, Field(ge=1, le=3650, strict=True)] = 365


class MerchantIn(Strict):
    name: DisplayName
    region: Region
    kind: Short
    categories: Annotated[list[Category], Field(max_length=20)] = []
    a_level: Annotated[int, Field(ge=1, le=5, strict=True)] | None = None
    require_device_binding: Annotated[bool, Field(strict=True)] = False


class JwkIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    kty: Short
    crv: Short
    x: Coordinate
    y: Coordinate


class DeviceKeyIn(Strict):
    jwk: JwkIn


class LimitIn(Strict):
    """At most `count` redemptions per card in each Asia/Shanghai `per`."""

    count: Annotated[int, Field(ge=1, le=1000, strict=True)]
    per: Literal["day", "month", "year", "ever"]


class BenefitIn(Strict):
    """One benefit; the catalog domain checks the meaning (categories, lengths, unique ids)."""

    id: Label
    title: DisplayName
    partner: Label
    category: Label
    discount: Label
    holder_categories: list[Label]
    local_only: StrictBool = False
    merchant_categories: list[Label] = []
    min_a_level: StrictInt | None = None
    limit: LimitIn | None = None
    companions: Annotated[int, Field(ge=0, le=10, strict=True)] = 0


class CatalogIn(Strict):
    """A complete new version of a region's catalog, in force from `effective_from`
    (YYYY-MM-DD, Asia/Shanghai); `withdrawn` removes ancestors' benefits by id."""

    effective_from: Label
    benefits: Annotated[list[BenefitIn], Field(max_length=500)]
    withdrawn: Annotated[list[Label], Field(max_length=500)] = []

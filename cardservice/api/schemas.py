"""Request bodies. Shapes only; meaning (ID checksums, known regions) is checked by the domain."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Region = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
Reason = Annotated[str, StringConstraints(max_length=500)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class HolderIn(Strict):
    name: Name
    id_number: Annotated[str, StringConstraints(min_length=18, max_length=18)]
    category: Annotated[str, StringConstraints(max_length=40)]
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 \-]{4,19}$")] | None = None


class IssueCardIn(Strict):
    holder: HolderIn
    region: Region
    valid_years: Annotated[int, Field(ge=1, le=50, strict=True)] | None = None


class ActivateIn(Strict):
    """A one-time activation code as typed (case, spaces and dashes do not matter)."""

    code: Annotated[StrictStr, StringConstraints(max_length=64)]


class ReasonIn(Strict):
    reason: Reason = ""


class MintTokenIn(Strict):
    region: Region
    role: Annotated[str, StringConstraints(max_length=40)]
    expires_in_days: Annotated[int, Field(ge=1, le=3650, strict=True)] = 365


class MerchantIn(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    region: Region
    kind: Annotated[str, StringConstraints(max_length=20)]
    categories: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=40)]], Field(max_length=20)
    ] = []
    a_level: Annotated[int, Field(ge=1, le=5, strict=True)] | None = None
    require_device_binding: Annotated[bool, Field(strict=True)] = False


class JwkIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    kty: str
    crv: str
    x: Annotated[str, StringConstraints(max_length=64)]
    y: Annotated[str, StringConstraints(max_length=64)]


class DeviceKeyIn(Strict):
    jwk: JwkIn


class BenefitIn(Strict):
    """One benefit; the catalog domain checks the meaning (categories, lengths, unique ids)."""

    id: StrictStr
    title: StrictStr
    partner: StrictStr
    category: StrictStr
    discount: StrictStr
    holder_categories: list[StrictStr]
    local_only: StrictBool = False
    merchant_categories: list[StrictStr] = []
    min_a_level: StrictInt | None = None


class CatalogIn(Strict):
    """A complete new version of a region's catalog, in force from `effective_from`
    (YYYY-MM-DD, Asia/Shanghai); `withdrawn` removes ancestors' benefits by id."""

    effective_from: StrictStr
    benefits: Annotated[list[BenefitIn], Field(max_length=500)]
    withdrawn: Annotated[list[StrictStr], Field(max_length=500)] = []

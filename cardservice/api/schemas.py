"""Request bodies. Shapes only; meaning (ID checksums, known regions) is checked by the domain."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    WithJsonSchema,
)

from cardservice.domain.access import ROLES
from cardservice.domain.activation import ALPHABET
from cardservice.domain.benefits import (
    BENEFIT_CATEGORIES,
    MAX_BENEFITS,
    MAX_DISCOUNT,
    MAX_ID,
    MAX_MERCHANT_CATEGORIES,
    MAX_PARTNER,
)
from cardservice.domain.merchants import KINDS
from cardservice.domain.policy import HOLDER_CATEGORIES
from cardservice.http.fields import (
    PRINTABLE_PATTERN,
    REQUIRED_FREE_PATTERN,
    Category,
    DisplayName,
    HolderName,
    IdNumber,
    Label,
    Reason,
    RegionCode,
    Short,
    one_of,
)

Region = RegionCode
Coordinate = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
HolderCategory = Annotated[Short, one_of(HOLDER_CATEGORIES)]
Role = Annotated[Short, one_of(ROLES)]
Kind = Annotated[Short, one_of(KINDS)]
BenefitCategory = Annotated[Label, one_of(BENEFIT_CATEGORIES)]
CODE_PATTERN = f"^[{ALPHABET}]{{5}}-?[{ALPHABET}]{{5}}$"
BENEFIT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"


def text(max_length: int, pattern: str = PRINTABLE_PATTERN) -> Any:
    """Document a text field the domain checks (1..max_length, `pattern`)."""
    return Field(json_schema_extra={"minLength": 1, "maxLength": max_length, "pattern": pattern})


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class HolderIn(Strict):
    name: HolderName
    id_number: IdNumber
    category: HolderCategory
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 \-]{4,19}$")] | None = None


class IssueCardIn(Strict):
    holder: HolderIn
    region: Region
    valid_years: Annotated[int, Field(ge=1, le=50, strict=True)] | None = None


class ActivateIn(Strict):
    """A one-time activation code as typed (case, spaces and dashes do not matter)."""

    code: Annotated[
        StrictStr,
        StringConstraints(max_length=64),
        Field(json_schema_extra={"pattern": CODE_PATTERN, "example": "ABCDE-23456"}),
    ]


class ReasonIn(Strict):
    reason: Reason = ""


class RequiredReasonIn(Strict):
    """Revoking and suspending need a reason (the domain refuses a blank one: 422)."""

    model_config = ConfigDict(json_schema_extra={"required": ["reason"]})
    reason: Annotated[
        Reason, Field(json_schema_extra={"minLength": 1, "pattern": REQUIRED_FREE_PATTERN})
    ] = ""


class MintTokenIn(Strict):
    region: Region
    role: Role
    expires_in_days: Annotated[int, Field(ge=1, le=3650, strict=True)] = 365


class MerchantIn(Strict):
    name: DisplayName
    region: Region
    kind: Kind
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

    id: Annotated[Label, text(MAX_ID, BENEFIT_ID_PATTERN)]
    title: DisplayName
    partner: Annotated[Label, text(MAX_PARTNER)]
    category: BenefitCategory
    discount: Annotated[Label, text(MAX_DISCOUNT)]
    holder_categories: Annotated[
        list[Annotated[Label, one_of(HOLDER_CATEGORIES)]], Field(min_length=1)
    ]
    local_only: StrictBool = False
    merchant_categories: Annotated[
        list[Annotated[Label, text(40)]], Field(max_length=MAX_MERCHANT_CATEGORIES)
    ] = []
    min_a_level: Annotated[StrictInt, Field(ge=1, le=5)] | None = None
    limit: LimitIn | None = None
    companions: Annotated[int, Field(ge=0, le=10, strict=True)] = 0


class CatalogIn(Strict):
    """A complete new version of a region's catalog, in force from `effective_from`
    (YYYY-MM-DD, Asia/Shanghai); `withdrawn` removes ancestors' benefits by id."""

    effective_from: Annotated[Label, WithJsonSchema({"type": "string", "format": "date"})]
    benefits: Annotated[list[BenefitIn], Field(max_length=MAX_BENEFITS)]
    withdrawn: Annotated[
        list[Annotated[Label, text(MAX_ID, BENEFIT_ID_PATTERN)]], Field(max_length=MAX_BENEFITS)
    ] = []

"""Request and response examples of the admin, holder, public and probe operations.

One line per operation, keyed by (METHOD, path template) as `/openapi.json` names it;
`cardservice.http.openapi_docs.document` copies them into the schema, and
`tests/e2e/test_openapi_coverage.py` fails for any operation left out. Values are valid
requests (the ID number's check character is right, the region is in the table).
"""

from __future__ import annotations

from typing import Any

from cardservice.domain.access import ROLES
from cardservice.domain.merchants import KINDS
from cardservice.http.fields import NAME_PATTERN
from cardservice.http.openapi_docs import (
    CARD_NUMBER_FORMAT,
    ID_NUMBER_FORMAT,
    NO_BODY,
    UUID_SCHEMA,
    Example,
)
from projections.admin_cards import MAX_LIMIT as SEARCH_LIMIT
from projections.admin_cards import STATUSES
from projections.audit import MAX_LIMIT

CARD_ID = "5b3f1c2e-8d4a-4f6b-9c1e-2a7d3e4f5a6b"
MERCHANT_ID = "0e6a8c3d-1b2f-4a5e-8c7d-9f0a1b2c3d4e"
TOKEN_ID = "7c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f"  # noqa: S105 (an id, not a secret)
AT = "2026-12-03T02:15:00+00:00"
QR = "PTC1:6BFOXN*TS0BI$ZD.P9UOL97O4-2HH77HRM3HSZKC9MF9M9I8OAF7HI-%8WWD"
REASON: dict[str, Any] = {"reason": "申请人遗失手机"}
ACTIVATION = {
    "activation_code": "ABCDE-23456",
    "activation_url": "/holder#activate=ABCDE23456",
    "activation_expires_at": "2026-12-10T02:15:00+00:00",
}
CARD: dict[str, Any] = {
    "card_id": CARD_ID,
    "card_number": "500112202600000187",
    "status": "active",
    "category": "veteran",
    "region": "500112",
    "masked_name": "张*明",
    "version": 1,
    "status_index": 17,
    "kid": "q1w2e3r4t5y6u7i8",
    "issued_at": AT,
    "expires": "2036-12-03",
    "device_bound": False,
    "activation": {"state": "pending", "expires_at": ACTIVATION["activation_expires_at"]}
    | {"activated_at": None},
}
HOLDER_CARD = {k: v for k, v in CARD.items()} | {"qr": QR}
BENEFIT: dict[str, Any] = {
    "id": "bus-free",
    "title": "市内公交免费乘坐",
    "partner": "重庆公交集团",
    "category": "transport",
    "discount": "免费",
    "holder_categories": ["veteran", "disabled_veteran"],
    "local_only": True,
    "merchant_categories": [],
    "min_a_level": None,
}
CATALOG = {
    "region": "500112",
    "at": "2026-12-03",
    "benefits": [BENEFIT | {"region": "500000", "version": 3}],
    "upcoming": [],
    "catalog_version": {"000000": 2, "500000": 3},
}
MERCHANT: dict[str, Any] = {
    "merchant_id": MERCHANT_ID,
    "name": "重庆园博园",
    "region": "500112",
    "kind": "scenic_site",
    "categories": ["scenic"],
    "a_level": 4,
    "require_device_binding": False,
    "active": True,
}
VERSION_ENTRY = {"version": 3, "effective_from": "2026-12-01", "diff": {"added": ["bus-free"]}}
APPEAL_ID = "0d1f6c1e-7a53-4b7e-9a55-6c0f0d1e2a3b"
ANSWERED_APPEAL: dict[str, Any] = {
    "appeal_id": APPEAL_ID,
    "card_id": CARD_ID,
    "card_region": "500112",
    "merchant_region": "500112",
    "status": "answered",
    "text": "景区说外地证不能用",
    "filed_at": AT,
    "verification": None,
    "answer": {
        "outcome": "upheld",
        "reply": "已核实，景区将按规定接待。",
        "answered_at": "2026-12-04T01:30:00+00:00",
    },
}
NOTICE = {
    "id": "5b0c7f0e-2f0a-5d7e-9c1b-0d4b6f1e2a3c",
    "at": AT,
    "kind": "suspended",
    "message": "您的优待证已被暂停使用。原因：核查中",
    "message_en": "Your card has been suspended. Reason: under review",
}

EXAMPLES: dict[tuple[str, str], Example] = {
    ("POST", "/v1/admin/cards"): Example(
        request={
            "holder": {
                "name": "张晓明",
                "id_number": "11010519491231002X",
                "category": "veteran",
                "phone": "+86 138 0000 0000",
            },
            "region": "500112",
            "valid_years": 10,
        },
        response={k: CARD[k] for k in ("card_id", "card_number", "status", "expires", "version")}
        | {"qr": QR, **ACTIVATION},
    ),
    ("GET", "/v1/admin/cards/{card_id}"): Example(
        CARD
        | {
            "history": [
                {
                    "type": "Card.Issued",
                    "version": 1,
                    "at": AT,
                    "actor": {"token_id": "bootstrap", "role": "admin", "region": "000000"},
                    "reason": None,
                    "data": {"card_number": CARD["card_number"], "category": "veteran"},
                }
            ]
        }
    ),
    ("POST", "/v1/admin/cards/{card_id}/activation"): Example(
        {"card_id": CARD_ID, **ACTIVATION}, request=REASON
    ),
    ("POST", "/v1/admin/cards/{card_id}/suspend"): Example(
        CARD | {"status": "suspended"}, request={"reason": "持证人申请暂停"}
    ),
    ("POST", "/v1/admin/cards/{card_id}/reinstate"): Example(CARD, request={"reason": "核实无误"}),
    ("POST", "/v1/admin/cards/{card_id}/revoke"): Example(
        CARD | {"status": "revoked"}, request={"reason": "持证人身份信息有误"}
    ),
    ("POST", "/v1/admin/tokens"): Example(
        {"token": "ptk_9f8e7d6c5b4a39281706f5e4d3c2b1a0", "token_id": TOKEN_ID}
        | {"role": "issuer", "region": "500112", "expires_at": "2026-03-01T02:00:00+00:00"},
        request={"region": "500112", "role": "issuer"},
    ),
    ("POST", "/v1/admin/tokens/{token_id}/revoke"): Example(
        {"token_id": TOKEN_ID, "revoked": True}, request={"reason": "工作人员离职"}
    ),
    ("POST", "/v1/admin/merchants"): Example(
        MERCHANT | {"api_key": "pmk_3a4b5c6d7e8f90a1b2c3d4e5f6a7b8c9"},
        request={k: MERCHANT[k] for k in ("name", "region", "kind", "categories", "a_level")},
    ),
    ("GET", "/v1/admin/merchants/{merchant_id}"): Example(MERCHANT),
    ("POST", "/v1/admin/merchants/{merchant_id}/deactivate"): Example(
        MERCHANT | {"active": False}, request={"reason": "合作协议到期"}
    ),
    ("POST", "/v1/admin/merchants/{merchant_id}/rotate-key"): Example(
        {"merchant_id": MERCHANT_ID, "api_key": "pmk_0f1e2d3c4b5a69788796a5b4c3d2e1f0"}
    ),
    ("GET", "/v1/cards/{card_id}"): Example(HOLDER_CARD),
    ("GET", "/v1/cards/{card_id}/qr.svg"): Example(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 61 61">...</svg>'
    ),
    ("GET", "/v1/cards/{card_id}/qr.png"): Example("(PNG bytes)"),
    ("POST", "/v1/cards/{card_id}/device-key"): Example(
        {"qr": QR, "version": 2},
        request={
            "jwk": {
                "kty": "EC",
                "crv": "P-256",
                "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
            }
        },
    ),
    ("POST", "/v1/activate"): Example(
        {"card_id": CARD_ID, "holder_token": "pht_5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"}
        | {"card": HOLDER_CARD | {"activation": CARD["activation"] | {"state": "activated"}}},
        request={"code": "ABCDE-23456"},
    ),
    ("PUT", "/v1/admin/regions/{region}/catalog"): Example(
        {"version": 4, "region": "500112", "effective_from": "2027-01-01"},
        request={"effective_from": "2027-01-01", "benefits": [BENEFIT], "withdrawn": []},
    ),
    ("GET", "/v1/admin/regions/{region}/catalog"): Example(CATALOG | {"versions": [VERSION_ENTRY]}),
    ("GET", "/v1/catalog/{region}"): Example(CATALOG),
    ("GET", "/v1/catalog/{region}/versions"): Example(
        {"region": "500112", "versions": [VERSION_ENTRY]}
    ),
    ("GET", "/v1/admin/audit"): Example(
        {
            "region": "500112",
            "items": [{"at": AT, "type": "Card.Suspended", "region": "500112", "card_id": CARD_ID}],
            "next": None,
        }
    ),
    ("POST", "/v1/admin/cards/{card_id}/unbind"): Example(
        CARD | {"version": 2, "status_index": 18, "device_bound": False},
        request={"reason": "持证人更换手机"},
    ),
    ("PATCH", "/v1/admin/merchants/{merchant_id}"): Example(
        MERCHANT | {"name": "重庆园博园（北门）", "a_level": 5},
        request={"name": "重庆园博园（北门）", "a_level": 5},
    ),
    ("GET", "/v1/cards/{card_id}/notices"): Example({"items": [NOTICE], "next": None}),
    ("GET", "/v1/admin/cards/{card_id}/notices"): Example({"items": [NOTICE], "next": None}),
    ("POST", "/v1/cards/{card_id}/appeals"): Example(
        {"appeal_id": APPEAL_ID, "status": "open"},
        request={"text": "景区说外地证不能用", "verification_id": None},
    ),
    ("POST", "/v1/admin/appeals/{appeal_id}/answer"): Example(
        ANSWERED_APPEAL,
        request={"outcome": "upheld", "reply": "已核实，景区将按规定接待。"},
    ),
}

PARAMETERS: dict[str, dict[str, Any]] = {
    "/v1/admin/audit limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    "/v1/admin/audit cursor": {
        "type": "string",
        "pattern": r"^[A-Za-z0-9_=-]{1,200}$",
        "description": "The `next` of the previous page, as given (anything else is 422)",
    },
    "/v1/admin/audit actor": {
        "type": "string",
        "pattern": r"^[!-~]{1,200}$",
        "description": "A token id, or `bootstrap`",
    },
    "role": {"type": "string", "enum": list(ROLES)},
    "/v1/admin/cards id_number": {
        "type": "string",
        "pattern": r"^[0-9]{17}[0-9Xx]$",
        "format": ID_NUMBER_FORMAT,
    },
    "/v1/admin/cards card_number": {
        "type": "string",
        "pattern": r"^[0-9]{17}[0-9Xx]$",
        "format": CARD_NUMBER_FORMAT,
    },
    "/v1/admin/cards name": {
        "type": "string",
        "minLength": 1,
        "maxLength": 50,
        "pattern": NAME_PATTERN,
        "description": "The full name as issued, matched exactly after NFC",
    },
    "/v1/admin/cards status": {"type": "string", "enum": list(STATUSES)},
    "/v1/admin/cards cursor": {
        "type": "string",
        "pattern": r"^[A-Za-z0-9_-]{1,200}$",
        "description": "The `next` of the previous page, as given (anything else is 422)",
    },
    "/v1/admin/appeals cursor": {
        "type": "string",
        "pattern": r"^[A-Za-z0-9_-]{1,200}$",
        "description": "The `next` of the previous page, as given (anything else is 422)",
    },
    "/v1/admin/cards limit": {"type": "integer", "minimum": 1, "maximum": SEARCH_LIMIT},
    "/v1/admin/merchants limit": {"type": "integer", "minimum": 1, "maximum": SEARCH_LIMIT},
    "/v1/admin/merchants cursor": UUID_SCHEMA,
    "/v1/admin/appeals card": UUID_SCHEMA,
    "/v1/admin/merchants kind": {"type": "string", "enum": list(KINDS)},
    "/v1/admin/merchants active": {"type": "string", "enum": ["true", "false"]},
}
"""Parameters whose rule is the route's own (see `openapi_docs.PARAMETER_SCHEMAS`)."""

__all__ = ["EXAMPLES", "NO_BODY", "PARAMETERS"]

"""Request and response examples of the merchant API's operations, one line each, keyed by
(METHOD, path template); `install` registers them on the app (`add_examples`)."""

from __future__ import annotations

from typing import Any

from cardservice.http.openapi_docs import Example

VERIFICATION_ID = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
CHECKED_AT = "2026-12-03T02:15:07+00:00"
QR = "PTC1:6BFOXN*TS0BI$ZD.P9UOL97O4-2HH77HRM3HSZKC9MF9M9I8OAF7HI-%8WWD"

VERDICT: dict[str, Any] = {
    "valid": True,
    "status": "valid",
    "card": {
        "card_number": "500112202600000187",
        "masked_name": "张*明",
        "category": "veteran",
        "region": "500112",
        "expires": "2036-12-03",
    },
    "benefits": [
        {
            "id": "park-free",
            "title": "景区免门票",
            "partner": "重庆园博园",
            "category": "scenic",
            "discount": "免费",
            "region": "500000",
            "version": 3,
            "remaining": None,
        }
    ],
    "not_applicable": [
        {"id": "bus-free", "reason": "merchant_category", "message": "本优待不适用于此类商户"}
    ],
    "presentation": "static",
    "catalog_version": {"000000": 2, "500000": 3},
    "checked_at": CHECKED_AT,
    "verification_id": VERIFICATION_ID,
    "photo_url": None,
}
LOG_ENTRY = {
    "verification_id": VERIFICATION_ID,
    "checked_at": CHECKED_AT,
    "status": "valid",
    "valid": True,
    "card_number": "500112202600000187",
}

REDEMPTION_ID = "2c4e6a8b-0d1f-4a3c-9e5b-7d9f1b3d5e7a"
REDEMPTION_LINE: dict[str, Any] = {
    "redemption_id": REDEMPTION_ID,
    "verification_id": VERIFICATION_ID,
    "benefit_id": "park-free",
    "benefit_region": "500000",
    "companions": 1,
    "redeemed_at": "2026-12-03T02:16:10+00:00",
    "status": "recorded",
}
REDEMPTION = REDEMPTION_LINE | {"remaining": None}

EXAMPLES: dict[tuple[str, str], Example] = {
    ("POST", "/v1/verify"): Example(VERDICT, request={"qr": QR}),
    ("GET", "/v1/verifications"): Example({"items": [LOG_ENTRY], "next": "1042"}),
    ("GET", "/v1/cards/{card_id}/verifications"): Example(
        {"items": [LOG_ENTRY | {"merchant": "重庆园博园"}], "next": None}
    ),
    ("GET", "/v1/offline-bundle"): Example("(COSE_Sign1 bytes)"),
    ("POST", "/v1/redemptions"): Example(
        REDEMPTION | {"remaining": 0},
        request={"verification_id": VERIFICATION_ID, "benefit_id": "park-free", "companions": 1},
    ),
    ("POST", "/v1/redemptions/offline"): Example(
        {
            "results": [
                {"index": 0, "redemption_id": REDEMPTION_ID, "status": "recorded"},
                {"index": 1, "redemption_id": None, "status": "refused", "reason": "revoked"},
            ]
        },
        request={
            "items": [
                {"qr": QR, "benefit_id": "park-free", "redeemed_at": CHECKED_AT, "companions": 0},
                {"qr": QR, "benefit_id": "park-free", "redeemed_at": CHECKED_AT},
            ]
        },
    ),
    ("GET", "/v1/redemptions"): Example(
        {"items": [REDEMPTION_LINE | {"card_region": "500112"}], "next": "311"}
    ),
    ("GET", "/v1/cards/{card_id}/redemptions"): Example(
        {
            "items": [
                REDEMPTION_LINE
                | {"merchant": {"name": "重庆园博园", "kind": "scenic_site", "region": "500112"}}
            ],
            "next": None,
        }
    ),
}

CURSOR = {
    "type": "string",
    "pattern": "^[0-9]{0,18}$",
    "description": "The `next` of the previous page (empty: the first page)",
}
PARAMETERS: dict[str, dict[str, Any]] = {
    "/v1/verifications cursor": CURSOR,
    "/v1/cards/{card_id}/verifications cursor": CURSOR,
}

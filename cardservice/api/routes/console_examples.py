"""Response examples of the console's routes, for `/openapi.json` (kept apart from the
routes so each route reads as its rule)."""

from __future__ import annotations

from typing import Any

CARD_ID = "3f0c1c7e-2a4b-4d8e-9f10-6b7a8c9d0e1f"
MERCHANT_ID = "8d2f6a1b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
MINT_ID = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
IMPORT_ID = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"


def example(body: Any, media: str = "application/json") -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {media: {"example": body}}}}


SEARCH = example(
    {
        "items": [
            {
                "card_id": CARD_ID,
                "card_number": "50011220260000017X",
                "status": "active",
                "region": "500112",
                "category": "veteran",
                "masked_name": "张*明",
                "issued_at": "2026-06-01T02:00:00+00:00",
            }
        ],
        "next": None,
    }
)
MERCHANT = {
    "merchant_id": MERCHANT_ID,
    "name": "渝北老火锅",
    "region": "500112",
    "kind": "merchant",
    "categories": ["dining"],
    "a_level": None,
    "require_device_binding": False,
    "active": True,
}
MERCHANTS = example({"items": [MERCHANT], "next": None})
MERCHANT_EDITED = example({**MERCHANT, "name": "渝北老火锅（总店）"})
TOKENS = example(
    {
        "items": [
            {
                "token_id": MINT_ID,
                "role": "issuer",
                "region": "500112",
                "minted_by": "bootstrap",
                "created_at": "2026-06-01T02:00:00+00:00",
                "expires_at": "2027-06-01T02:00:00+00:00",
                "expired": False,
                "revoked": False,
            }
        ],
        "next": None,
    }
)
IMPORT_STARTED: dict[int | str, dict[str, Any]] = {
    202: {"content": {"application/json": {"example": {"import_id": IMPORT_ID}}}}
}
IMPORT_PROGRESS = example(
    {
        "import_id": IMPORT_ID,
        "status": "running",
        "total": 1000,
        "imported": 500,
        "skipped": 0,
        "rejected": 2,
    }
)
REJECTS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The rejected rows as CSV (UTF-8)",
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "name,id_number,category,region,line,reason\n"
                "王五,123,veteran,500112,7,id_number: ...\n",
            }
        },
    }
}
CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "name,id_number,category,region,phone\n"
                "张三明,500112196001010014,veteran,500112,\n",
            }
        },
    }
}

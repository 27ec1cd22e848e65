"""Response models both apps serve: the issuer keys (`GET /v1/keys`) as JWKs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class KeyOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    kid: str
    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str
    use: Literal["card", "bundle"]
    """`card` keys sign cards, `bundle` keys sign offline bundles; never the other."""
    status: Literal["active", "retired", "compromised"]
    not_after: str | None


class KeysOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    keys: list[KeyOut]


def jwk(kid: str, public_key: str, use: str, status: str, not_after: str | None) -> dict[str, Any]:
    """One issuer public key as the contract's JWK (the one place its shape is written)."""
    return {
        "kid": kid,
        "kty": "OKP",
        "crv": "Ed25519",
        "x": public_key,
        "use": use,
        "status": status,
        "not_after": not_after,
    }

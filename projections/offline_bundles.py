"""The stored offline bundles: one signed bundle per merchant region, written by the write
side's signer (`cardservice.bundles`) and served as stored by the merchant API."""

from __future__ import annotations

from dataclasses import dataclass

from cardservice.storage import Tx

OFFLINE_BUNDLES_SCHEMA = [
    # One signed bundle per merchant region, written by the write side's signer and served
    # as is by the merchant API (`etag` is the hash of `bundle`; `content_digest` hashes
    # what it says without its times, so unchanged content is not re-signed).
    """CREATE TABLE IF NOT EXISTS offline_bundles (
        region TEXT PRIMARY KEY,
        etag TEXT NOT NULL,
        bundle {blob} NOT NULL,
        content_digest TEXT NOT NULL,
        signer TEXT NOT NULL,
        issued_at BIGINT NOT NULL,
        expires BIGINT NOT NULL
    )""",
]


@dataclass(frozen=True)
class StoredBundle:
    region: str
    etag: str
    bundle: bytes
    content_digest: str
    signer: str
    issued_at: int
    expires: int


def stored_etag(tx: Tx, region: str) -> str | None:
    """The stored bundle's ETag alone (a conditional request needs nothing more)."""
    row = tx.one("SELECT etag FROM offline_bundles WHERE region = ?", (region,))
    return str(row[0]) if row is not None else None


def stored_bundle(tx: Tx, region: str) -> StoredBundle | None:
    row = tx.one(
        "SELECT region, etag, bundle, content_digest, signer, issued_at, expires "
        "FROM offline_bundles WHERE region = ?",
        (region,),
    )
    if row is None:
        return None
    return StoredBundle(
        str(row[0]), str(row[1]), bytes(row[2]), str(row[3]), str(row[4]), int(row[5]), int(row[6])
    )


def store_bundle(tx: Tx, found: StoredBundle) -> None:
    tx.execute(
        "INSERT INTO offline_bundles (region, etag, bundle, content_digest, signer, issued_at, "
        "expires) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (region) DO UPDATE SET "
        "etag = excluded.etag, bundle = excluded.bundle, "
        "content_digest = excluded.content_digest, signer = excluded.signer, "
        "issued_at = excluded.issued_at, expires = excluded.expires",
        (
            found.region,
            found.etag,
            found.bundle,
            found.content_digest,
            found.signer,
            found.issued_at,
            found.expires,
        ),
    )

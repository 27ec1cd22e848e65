"""Administrator tokens for the console's list: role, region, minter, term, revocation.

Never the secret (the event store holds only its hash, and this view not even that).
A token minted under a revoked one is listed as revoked: revocation reaches down the
minting chain, as authentication enforces it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from cardservice.domain import regions as region_table
from cardservice.domain.access import DEFAULT_TOKEN_DAYS, AdminToken
from cardservice.storage import Database, Row, Tx
from projections.view import (
    Event,
    ProjectionError,
    View,
    chunks,
    event_name,
    placeholders,
    topics_of,
)

_COLUMNS = "token_id, role, region, minted_by, created_at, expires_at, revoked"


@dataclass(frozen=True)
class TokenRow:
    token_id: UUID
    role: str
    region: str
    minted_by: str
    created_at: str
    expires_at: str
    revoked: bool


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def apply_token(state: TokenRow | None, event: Event) -> TokenRow | None:
    name = event_name(event)
    if name == "AdminToken.Minted":
        expires = getattr(event, "expires_at", None) or event.at + timedelta(
            days=DEFAULT_TOKEN_DAYS
        )
        return TokenRow(
            token_id=event.originator_id,
            role=event.role,
            region=event.region,
            minted_by=str(dict(event.actor).get("id", "")),
            created_at=_iso(event.at),
            expires_at=_iso(expires),
            revoked=False,
        )
    if state is None:
        raise ProjectionError(f"{name} for token {event.originator_id}, never minted")
    if name == "AdminToken.Revoked":
        return replace(state, revoked=True)
    return state


def _row(row: Row) -> TokenRow:
    return TokenRow(UUID(row[0]), row[1], row[2], row[3], row[4], row[5], bool(row[6]))


class TokenView(View[TokenRow]):
    name = "admin_tokens"
    source = "CatalogAdmin"
    topics = topics_of(AdminToken, ("Minted", "Revoked"))
    tables = ("view_admin_tokens",)

    def ddl(self, dialect: str) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS view_admin_tokens (
                token_id TEXT PRIMARY KEY,
                role TEXT NOT NULL,
                region TEXT NOT NULL,
                minted_by TEXT NOT NULL,
                created_at TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                revoked BOOLEAN NOT NULL
            )"""
        ]

    def apply(self, state: TokenRow | None, event: Event) -> TokenRow | None:
        return apply_token(state, event)

    def load(self, tx: Tx, ids: Sequence[UUID]) -> dict[UUID, TokenRow]:
        found: dict[UUID, TokenRow] = {}
        for part in chunks([str(i) for i in ids]):
            for row in tx.all(
                f"SELECT {_COLUMNS} FROM view_admin_tokens "  # noqa: S608
                f"WHERE token_id IN ({placeholders(len(part))})",
                part,
            ):
                found[UUID(row[0])] = _row(row)
        return found

    def store(
        self, tx: Tx, changes: Mapping[UUID, tuple[TokenRow | None, TokenRow | None]]
    ) -> None:
        rows = [
            (str(t.token_id), t.role, t.region, t.minted_by, t.created_at, t.expires_at, t.revoked)
            for _, t in changes.values()
            if t is not None
        ]
        tx.executemany(
            f"INSERT INTO view_admin_tokens ({_COLUMNS}) VALUES ({placeholders(7)}) "  # noqa: S608
            "ON CONFLICT (token_id) DO UPDATE SET revoked = excluded.revoked",
            rows,
        )

    def snapshot(self, tx: Tx) -> list[Row]:
        return [
            (*r[:6], bool(r[6]))
            for r in tx.all(f"SELECT {_COLUMNS} FROM view_admin_tokens ORDER BY token_id")  # noqa: S608
        ]


def list_tokens(db: Database, region: str, now: datetime) -> list[dict[str, Any]]:
    """Tokens whose region lies in `region`'s subtree, newest first; `revoked` is true
    for a token revoked itself or minted under a revoked one."""
    with db.read() as tx:
        found = tx.all(f"SELECT {_COLUMNS} FROM view_admin_tokens")  # noqa: S608
    rows = {r.token_id: r for r in map(_row, found)}
    table = region_table.regions()

    def revoked(row: TokenRow) -> bool:
        seen: set[UUID] = set()
        current: TokenRow | None = row
        while current is not None and current.token_id not in seen:
            if current.revoked:
                return True
            seen.add(current.token_id)
            try:
                current = rows.get(UUID(current.minted_by))
            except ValueError:
                return False
        return False

    listed = [r for r in rows.values() if table.is_within(r.region, region)]
    listed.sort(key=lambda r: (r.created_at, str(r.token_id)), reverse=True)
    return [
        {
            "token_id": str(r.token_id),
            "role": r.role,
            "region": r.region,
            "minted_by": r.minted_by,
            "created_at": r.created_at,
            "expires_at": r.expires_at,
            "expired": datetime.fromisoformat(r.expires_at) <= now,
            "revoked": revoked(r),
        }
        for r in listed
    ]

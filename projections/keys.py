"""Issuer keys by kid, with their use (`card` or `bundle`): what verifiers trust.

Public keys only: the read side holds no private key, sealed or not (offline bundles are
signed on the write side, `cardservice.bundles`). The `sealed_private_key` column of
tables made by earlier versions stays, written empty, until a migration drops it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from cardservice.domain.keys import ACTIVE, CARD, COMPROMISED, RETIRED, IssuerKeyring
from cardservice.storage import Row, Tx
from projections.view import Event, ProjectionError, View, add_column, event_name, topics_of

KEYRING_EVENTS = ("Created", "Rotated", "Compromised")


@dataclass(frozen=True)
class KeyRow:
    kid: str
    public_key: str
    """base64url of the raw 32-byte Ed25519 public key."""
    status: str
    not_after: str | None
    created_at: str
    use: str = CARD


@dataclass(frozen=True)
class Keyring:
    keys: tuple[KeyRow, ...] = ()

    def get(self, kid: str) -> KeyRow | None:
        return next((k for k in self.keys if k.kid == kid), None)

    def put(self, key: KeyRow) -> Keyring:
        return Keyring((*(k for k in self.keys if k.kid != key.kid), key))


def apply_keyring(state: Keyring | None, event: Event) -> Keyring | None:
    """Fold one IssuerKeyring event into the set of issuer keys."""
    name = event_name(event)
    if name == "IssuerKeyring.Created":
        return Keyring()
    if state is None:
        raise ProjectionError(f"{name} before the keyring was created")
    if name == "IssuerKeyring.Rotated":
        at = event.at.isoformat()
        ring = state
        retired = ring.get(event.retired_kid) if event.retired_kid else None
        if retired is not None:
            ring = ring.put(replace(retired, status=RETIRED, not_after=at))
        return ring.put(
            KeyRow(
                kid=event.kid,
                public_key=event.public_key,
                status=ACTIVE,
                not_after=None,
                created_at=at,
                use=str(getattr(event, "use", CARD)),  # events before uses: card keys
            )
        )
    if name == "IssuerKeyring.Compromised":
        key = state.get(event.kid)
        if key is None:
            raise ProjectionError(f"compromise of unknown issuer key {event.kid}")
        return state.put(
            replace(key, status=COMPROMISED, not_after=key.not_after or event.at.isoformat())
        )
    return state


_COLUMNS = "kid, public_key, status, not_after, created_at, use"


def key_row_from_db(row: Row) -> KeyRow:
    return KeyRow(*row)


def select_keys(tx: Tx) -> list[KeyRow]:
    return [
        key_row_from_db(r)
        for r in tx.all(f"SELECT {_COLUMNS} FROM view_issuer_keys ORDER BY created_at, kid")  # noqa: S608
    ]


class IssuerKeyView(View[Keyring]):
    name = "issuer_keys"
    source = "CardLedger"
    topics = topics_of(IssuerKeyring, KEYRING_EVENTS)
    tables = ("view_issuer_keys",)

    def ddl(self, dialect: str) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS view_issuer_keys (
                kid TEXT PRIMARY KEY,
                keyring_id TEXT NOT NULL,
                public_key TEXT NOT NULL,
                status TEXT NOT NULL,
                not_after TEXT,
                created_at TEXT NOT NULL,
                sealed_private_key TEXT NOT NULL DEFAULT '',
                use TEXT NOT NULL DEFAULT 'card'
            )"""
        ]

    def upgrade(self, tx: Tx) -> None:
        """A table made before keys had a use gains the column (its keys are card keys),
        and loses the sealed private keys earlier versions copied into it."""
        add_column(tx, "view_issuer_keys", "use", "TEXT NOT NULL DEFAULT 'card'")
        tx.execute(
            "UPDATE view_issuer_keys SET sealed_private_key = '' WHERE sealed_private_key <> ''"
        )

    def apply(self, state: Keyring | None, event: Event) -> Keyring | None:
        return apply_keyring(state, event)

    def load(self, tx: Tx, ids: Sequence[UUID]) -> dict[UUID, Keyring]:
        found: dict[UUID, Keyring] = {}
        for keyring_id in ids:
            rows = tx.all(
                f"SELECT {_COLUMNS} FROM view_issuer_keys WHERE keyring_id = ? "  # noqa: S608
                "ORDER BY created_at, kid",
                (str(keyring_id),),
            )
            # A keyring with no keys yet leaves no row; the fold treats it as just created.
            found[keyring_id] = Keyring(tuple(key_row_from_db(r) for r in rows))
        return found

    def store(self, tx: Tx, changes: Mapping[UUID, tuple[Keyring | None, Keyring | None]]) -> None:
        rows: list[tuple[Any, ...]] = []
        for keyring_id, (before, after) in changes.items():
            if after is None:
                continue
            old = {k.kid: k for k in before.keys} if before else {}
            for key in after.keys:
                if old.get(key.kid) != key:
                    rows.append(
                        (
                            key.kid,
                            str(keyring_id),
                            key.public_key,
                            key.status,
                            key.not_after,
                            key.created_at,
                            "",
                            key.use,
                        )
                    )
        tx.executemany(
            "INSERT INTO view_issuer_keys (kid, keyring_id, public_key, status, not_after, "
            "created_at, sealed_private_key, use) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (kid) DO UPDATE SET status = excluded.status, "
            "not_after = excluded.not_after",
            rows,
        )

    def snapshot(self, tx: Tx) -> list[Row]:
        return tx.all(f"SELECT {_COLUMNS} FROM view_issuer_keys ORDER BY kid")  # noqa: S608

"""Administrator tokens: authentication, minting (never a stronger role, never outliving
the minter) and revocation, which reaches every token minted under the revoked one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from cardservice.application.base import (
    ServiceApplication,
    require_region,
    require_scope,
    retrying,
)
from cardservice.domain.access import (
    DEFAULT_TOKEN_DAYS,
    MAX_TOKEN_DAYS,
    PERMISSIONS,
    ROLES,
    AdminToken,
    token_id_for,
)
from cardservice.domain.actors import Actor
from cardservice.domain.errors import Forbidden, InvalidInput, NotFound
from cardservice.security import new_secret_token, same, token_hash

BOOTSTRAP = "bootstrap"
MAX_CHAIN = 32
"""Deeper minting chains than this are refused at authentication (none can be made in
practice: each link is an admin minting inside its own subtree)."""


@dataclass(frozen=True)
class MintedToken:
    """`token` is None for a replay: the secret was shown once and is not stored."""

    token: str | None
    token_id: UUID
    expires_at: datetime


class AdminAccess(ServiceApplication):
    """Tokens are recorded only as hashes; a token's id derives from its hash."""

    def authenticate(self, presented: str) -> Actor | None:
        """The actor behind a bearer token, or None (the caller answers 401): unknown,
        revoked, expired, or minted under a token that is revoked or expired."""
        if not presented or len(presented) > 200:
            return None
        presented_hash = token_hash(presented)
        bootstrap = self.settings.admin_token
        if bootstrap and same(presented_hash, token_hash(bootstrap)):
            return Actor(kind="admin", id=BOOTSTRAP, role="admin", region="000000")
        token = self._get_or_none(token_id_for(presented_hash))
        if not isinstance(token, AdminToken) or not same(token.token_hash, presented_hash):
            return None
        if not self.token_live(token, self.now()):
            return None
        return Actor(kind="admin", id=str(token.id), role=token.role, region=token.region)

    def token_live(self, token: AdminToken, now: datetime) -> bool:
        """Neither this token nor any token above it in the minting chain is revoked or
        expired: revoking a token ends every token minted under it, at once."""
        current: AdminToken | None = token
        for _ in range(MAX_CHAIN):
            if current is None or current.revoked or current.expired(now):
                return False
            try:
                minter = UUID(current.minter_id)
            except ValueError:
                return True  # minted by the bootstrap token or the server itself (demo)
            current = self._get_or_none(minter)
        return False

    def token_expiry(self, actor: Actor) -> datetime | None:
        """When the caller's own token expires (None: the bootstrap token never does)."""
        try:
            token = self._get_or_none(UUID(actor.id))
        except ValueError:
            return None
        return token.expires_at if isinstance(token, AdminToken) else None

    def mint_token(self, role: str, region: str, actor: Actor) -> tuple[str, UUID]:
        minted = self.mint(role, region, actor)
        assert minted.token is not None  # no key, never a replay
        return minted.token, minted.token_id

    def mint(
        self,
        role: str,
        region: str,
        actor: Actor,
        expires_in_days: int | None = None,
        *,
        command_id: str | None = None,
        request_digest: str = "",
    ) -> MintedToken:
        """A new token (its secret shown once); a keyed replay answers the first token
        without its secret and mints nothing."""

        def command() -> MintedToken:
            first = self._replayed(actor, command_id, request_digest)
            if isinstance(first, AdminToken):
                return MintedToken(None, first.id, first.expires_at)
            return self._mint(role, region, actor, expires_in_days, command_id, request_digest)

        return retrying(command)

    def _mint(
        self,
        role: str,
        region: str,
        actor: Actor,
        expires_in_days: int | None,
        command_id: str | None,
        request_digest: str,
    ) -> MintedToken:
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
        days = DEFAULT_TOKEN_DAYS if expires_in_days is None else expires_in_days
        if not 1 <= days <= MAX_TOKEN_DAYS:
            raise InvalidInput(f"expires_in_days must be 1..{MAX_TOKEN_DAYS}")
        require_region(region)
        require_scope(actor, region, "tokens")
        if not PERMISSIONS[role] <= PERMISSIONS.get(actor.role, frozenset()):
            raise Forbidden(f"role {actor.role} may not mint the stronger role {role}")
        now = self.now()
        expires_at = now + timedelta(days=days)
        minter_expiry = self.token_expiry(actor)
        if minter_expiry is not None:
            expires_at = min(expires_at, minter_expiry)
        secret = new_secret_token("adm")
        token = AdminToken(
            token_hash=token_hash(secret),
            role=role,
            region=region,
            actor=actor.as_dict(),
            at=now,
            expires_at=expires_at,
        )
        self.save(token, *self._answered(actor, command_id, request_digest, token))
        return MintedToken(secret, token.id, expires_at)

    def revoke_token(
        self,
        token_id: UUID,
        reason: str,
        actor: Actor,
        *,
        command_id: str | None = None,
        request_digest: str = "",
    ) -> None:
        """Revoke a token (and so every token minted under it); a keyed replay answers
        again without a second revocation (409)."""

        def command() -> None:
            if self._replayed(actor, command_id, request_digest) is not None:
                return
            token = self._get_or_none(token_id)
            if not isinstance(token, AdminToken):
                raise NotFound(f"no token {token_id}")
            require_scope(actor, token.region, "tokens")
            token.revoke(reason, actor.as_dict(), self.now())
            self.save(token, *self._answered(actor, command_id, request_digest, token))

        retrying(command)

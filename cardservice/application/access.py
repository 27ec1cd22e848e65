"""Administrator tokens: authentication, minting (never a stronger role) and revocation."""

from __future__ import annotations

from uuid import UUID

from cardservice.application.base import ServiceApplication, require_region, require_scope
from cardservice.domain.access import PERMISSIONS, ROLES, AdminToken, token_id_for
from cardservice.domain.actors import Actor
from cardservice.domain.errors import Forbidden, InvalidInput, NotFound
from cardservice.security import new_secret_token, same, token_hash


class AdminAccess(ServiceApplication):
    """Tokens are recorded only as hashes; a token's id derives from its hash."""

    def authenticate(self, presented: str) -> Actor | None:
        """The actor behind a bearer token, or None (the caller answers 401)."""
        if not presented or len(presented) > 200:
            return None
        presented_hash = token_hash(presented)
        bootstrap = self.settings.admin_token
        if bootstrap and same(presented_hash, token_hash(bootstrap)):
            return Actor(kind="admin", id="bootstrap", role="admin", region="000000")
        token = self._get_or_none(token_id_for(presented_hash))
        if not isinstance(token, AdminToken) or token.revoked:
            return None
        if not same(token.token_hash, presented_hash):
            return None
        return Actor(kind="admin", id=str(token.id), role=token.role, region=token.region)

    def mint_token(self, role: str, region: str, actor: Actor) -> tuple[str, UUID]:
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
        require_region(region)
        require_scope(actor, region, "tokens")
        if not PERMISSIONS[role] <= PERMISSIONS.get(actor.role, frozenset()):
            raise Forbidden(f"role {actor.role} may not mint the stronger role {role}")
        secret = new_secret_token("adm")
        token = AdminToken(
            token_hash=token_hash(secret),
            role=role,
            region=region,
            actor=actor.as_dict(),
            at=self.now(),
        )
        self.save(token)
        return secret, token.id

    def revoke_token(self, token_id: UUID, reason: str, actor: Actor) -> None:
        token = self._get_or_none(token_id)
        if not isinstance(token, AdminToken):
            raise NotFound(f"no token {token_id}")
        require_scope(actor, token.region, "tokens")
        token.revoke(reason, actor.as_dict(), self.now())
        self.save(token)

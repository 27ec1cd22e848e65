"""The service layer: eventsourcing Applications whose methods are the use cases.

`CardLedger` owns cards, holders and the issuer keyring; `CatalogAdmin` owns regional
catalogs, merchants and administrator tokens. Both are plain eventsourcing Applications;
the HTTP routes and the CLI only parse input, call a method here and render the result.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from time import monotonic
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding

from cardservice import credentials
from cardservice.clock import SHANGHAI, Clock, today_in_shanghai
from cardservice.domain import regions as region_table
from cardservice.domain.access import PERMISSIONS, ROLES, AdminToken, token_id_for
from cardservice.domain.activation import (
    ISSUANCE,
    VALID_FOR,
    ActivationCode,
    UnknownCode,
    activation_code_id,
    display_code,
    normalize_code,
)
from cardservice.domain.actors import Actor
from cardservice.domain.cards import Card
from cardservice.domain.catalog import (
    CatalogVersion,
    EffectiveBenefit,
    RegionCatalog,
    VersionDiff,
    effective_benefits,
    parse_effective_from,
    upcoming_benefits,
    validate_benefits,
    validate_withdrawn,
    versions_in_force,
    versions_with_diffs,
)
from cardservice.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
)
from cardservice.domain.holders import Holder, holder_id_for
from cardservice.domain.identity import HOLDER_CATEGORIES, card_number, id_number_problem
from cardservice.domain.keys import COMPROMISED, KEYRING_ID, IssuerKeyring
from cardservice.domain.merchants import KINDS, Merchant
from cardservice.security import (
    ActivationCodes,
    HolderTokens,
    Sealer,
    b64u,
    keyed_digest,
    new_secret_token,
    same,
    token_hash,
)
from cardservice.settings import Settings
from cardservice.storage import Database, Tx, allocate_many_in

T = TypeVar("T")
COMMAND_NAMESPACE = uuid.UUID("3c9a1e52-8b47-4f0e-a7d6-2e5f9c1b0d83")
MAX_ISSUE_ATTEMPTS = 8
KID_CACHE_SECONDS = 1.0


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class IdempotencyMismatch(InvalidInput):
    """The same Idempotency-Key was used with a different request body."""

    code = "idempotency_mismatch"


def command_uuid(actor: Actor, command_id: str, kind: str) -> UUID:
    """A command's target id derived from who sent it and its idempotency key."""
    return uuid.uuid5(COMMAND_NAMESPACE, f"{kind}:{actor.id}:{command_id}")


def end_of_day(day: date) -> int:
    return int(datetime.combine(day, time(23, 59, 59), tzinfo=SHANGHAI).timestamp())


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class IssueCardRequest:
    name: str
    id_number: str
    category: str
    region: str
    phone: str | None = None
    valid_years: int | None = None


@dataclass(frozen=True)
class BulkOutcome:
    result: str  # "issued" | "exists" | "rejected"
    card_id: UUID | None
    reason: str


@dataclass(frozen=True)
class ActivationGrant:
    """A one-time activation code as handed to the holder (shown once, derivable again)."""

    card_id: UUID
    code: str  # normalized: 10 characters
    serial: int
    expires_at: datetime

    @property
    def display(self) -> str:
        return display_code(self.code)

    @property
    def url(self) -> str:
        """The holder page's link; the code is in the fragment, so no server log sees it."""
        return f"/holder#activate={self.code}"


@dataclass(frozen=True)
class IssuedCard:
    card: Card
    replayed: bool
    activation: ActivationGrant | None = None


@dataclass(frozen=True)
class NewActivation:
    grant: ActivationGrant
    replayed: bool


@dataclass(frozen=True)
class Activation:
    card: Card
    replayed: bool


class ServiceApplication(Application[UUID]):
    """Shared wiring: the injected clock, the side database and the settings."""

    is_snapshotting_enabled = False

    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        clock: Clock,
        env: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        super().__init__(env=env)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return today_in_shanghai(self.clock)

    def retrying(self, command: Callable[[], T]) -> T:
        """Run a load-decide-save command again when a concurrent writer got there first.

        The event store refuses the second writer of an aggregate version; re-reading and
        deciding again yields one linear history (and a 409 where the new state forbids it).
        """
        for _ in range(MAX_ISSUE_ATTEMPTS * 4):
            try:
                return command()
            except IntegrityError:
                continue
        raise Conflict("too many concurrent changes; try again")

    def _get_or_none(self, aggregate_id: UUID, version: int | None = None) -> Any:
        try:
            return self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            return None

    def history(self, aggregate_id: UUID) -> list[dict[str, Any]]:
        """An aggregate's events in order, as an auditor reads them."""
        items = []
        for ev in self.events.get(aggregate_id):
            data = {
                k: v
                for k, v in ev.__dict__.items()
                if k not in ("originator_id", "originator_topic", "timestamp")
            }
            items.append(
                {
                    "type": type(ev).__name__,
                    "version": data.pop("originator_version"),
                    "at": (
                        data.pop("at", None)
                        or data.pop("issued_at", None)
                        or getattr(ev, "timestamp", None)
                    ),
                    "actor": data.pop("actor", None),
                    "reason": data.pop("reason", None),
                    "data": {k: v for k, v in data.items() if not k.startswith("sealed")},
                }
            )
        return items


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def require_region(code: str) -> None:
    """A well-formed region code missing from the table is invalid input (422)."""
    if not region_table.is_well_formed(code):
        raise InvalidInput(f"region must be a 6-digit administrative division code: {code!r}")
    if not region_table.regions().exists(code):
        raise InvalidInput(f"unknown region code {code}")


def require_scope(actor: Actor, region: str, permission: str) -> None:
    """Roles act only inside their own region subtree (403 otherwise)."""
    if permission not in PERMISSIONS.get(actor.role, frozenset()):
        raise Forbidden(f"role {actor.role} may not do this")
    if not region_table.regions().is_within(region, actor.region):
        raise Forbidden(f"region {region} is outside the caller's region {actor.region}")


class CardLedger(ServiceApplication):
    """Issuing, suspending, reinstating, revoking and reissuing cards; issuer keys; holders."""

    name = "CardLedger"
    SEALED_PERSONAL_CONTEXT: ClassVar[bytes] = b"holder-personal:"

    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        clock: Clock,
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(settings=settings, db=db, clock=clock, env=env)
        self.holder_tokens = HolderTokens(settings.derived_key("holder-token"))
        self.activation_codes = ActivationCodes(
            settings.derived_key("activation-code"), settings.derived_key("activation-code-hash")
        )
        self._kek = Sealer(settings.derived_key("holder-key-wrapping"))
        self._issuer_kek = Sealer(settings.derived_key("issuer-key-wrapping"))
        self._pepper = settings.derived_key("id-number-pepper")
        self._private_keys: dict[str, Ed25519PrivateKey] = {}
        self._kid_cache: tuple[str, float] | None = None

    # -- issuer keys -----------------------------------------------------------------------
    def keyring(self) -> IssuerKeyring:
        ring = self._get_or_none(KEYRING_ID)
        if ring is None:
            self.rotate_key(Actor.system("bootstrap"))
            ring = self.repository.get(KEYRING_ID)
        assert isinstance(ring, IssuerKeyring)
        return ring

    def rotate_key(self, actor: Actor) -> str:
        """A new active Ed25519 key; the previous one retires but keeps verifying."""
        private = Ed25519PrivateKey.generate()
        raw_public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        raw_private = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        kid = b64u(credentials.kid_for(raw_public))
        sealed = self._issuer_kek.seal(raw_private, kid.encode())
        self._kid_cache = None
        for _ in range(MAX_ISSUE_ATTEMPTS):
            ring = self._get_or_none(KEYRING_ID) or IssuerKeyring(at=self.now())
            ring.rotate(
                kid=kid,
                public_key=b64u(raw_public),
                sealed_private_key=base64.b64encode(sealed).decode(),
                actor=actor.as_dict(),
                at=self.now(),
            )
            try:
                self.save(ring)
            except IntegrityError:
                continue
            self._private_keys[kid] = private
            return kid
        raise Conflict("the keyring is busy; try again")

    def compromise_key(self, kid: str, reason: str, actor: Actor) -> None:
        """Everything the key signed verifies as key_compromised; a new key takes over."""

        def command() -> bool:
            ring = self.keyring()
            was_active = ring.active_kid == kid
            ring.compromise(kid, reason, actor.as_dict(), self.now())
            self.save(ring)
            return was_active

        was_active = self.retrying(command)
        self._kid_cache = None
        self._private_keys.pop(kid, None)
        if was_active:
            self.rotate_key(actor)

    def public_keys(self) -> list[dict[str, Any]]:
        ring = self.keyring()
        return [
            {
                "kid": k["kid"],
                "kty": "OKP",
                "crv": "Ed25519",
                "x": k["public_key"],
                "status": k["status"],
                "not_after": k["not_after"],
            }
            for k in ring.keys.values()
        ]

    def _signing_key(self, kid: str) -> Ed25519PrivateKey:
        key = self._private_keys.get(kid)
        if key is None:
            entry = self.keyring().key(kid)
            raw = self._issuer_kek.unseal(
                base64.b64decode(entry["sealed_private_key"]), kid.encode()
            )
            key = Ed25519PrivateKey.from_private_bytes(raw)
            self._private_keys[kid] = key
        return key

    def recent_active_kid(self) -> str:
        """The active kid, re-read at most once a second: for bulk batches, where the
        keyring read would otherwise be a round trip per batch. A rotation or compromise in
        this process clears it at once, in another within a second; a card signed by a key
        compromised since is re-signed when its holder next opens it (`refresh_signature`)."""
        cached, now = self._kid_cache, monotonic()
        if cached is not None and now - cached[1] < KID_CACHE_SECONDS:
            return cached[0]
        kid = self.active_kid()
        self._kid_cache = (kid, now)
        return kid

    def active_kid(self) -> str:
        ring = self.keyring()
        if ring.active_kid is None:
            return self.rotate_key(Actor.system("no-active-key"))
        return ring.active_kid

    # -- holders ---------------------------------------------------------------------------
    def _holder_data_keys(self, holder_ids: list[UUID], *, create: bool) -> dict[UUID, bytes]:
        """Each holder's data key (made on first use), for a whole batch in one transaction."""
        if not holder_ids:
            return {}
        ids = [str(h) for h in holder_ids]
        marks = ",".join("?" * len(ids))
        with self.db.transaction() as tx:
            if create:
                tx.executemany(
                    "INSERT INTO holder_keys (holder_id, wrapped_key) VALUES (?, ?) "
                    "ON CONFLICT (holder_id) DO NOTHING",
                    [(str(h), self._kek.seal(Sealer.new_key(), h.bytes)) for h in holder_ids],
                )
            rows = tx.all(
                f"SELECT holder_id, wrapped_key FROM holder_keys WHERE holder_id IN ({marks})",  # noqa: S608
                ids,
            )
        keys = {}
        for holder_id, wrapped in rows:
            hid = UUID(holder_id)
            keys[hid] = self._kek.unseal(bytes(wrapped), hid.bytes)
        return keys

    def _holder_data_key(self, holder_id: UUID, *, create: bool) -> bytes | None:
        return self._holder_data_keys([holder_id], create=create).get(holder_id)

    def holder_personal(self, holder_id: UUID) -> dict[str, Any] | None:
        """The holder's personal data, or None once erased (crypto-shredded)."""
        holder = self._get_or_none(holder_id)
        if holder is None:
            raise NotFound(f"no holder {holder_id}")
        key = self._holder_data_key(holder_id, create=False)
        if key is None or holder.erased:
            return None
        plain = Sealer(key).unseal(base64.b64decode(holder.sealed_personal), holder_id.bytes)
        data: dict[str, Any] = json.loads(plain)
        return data

    def erase_holder(self, holder_id: UUID, reason: str, actor: Actor) -> list[UUID]:
        """Destroy the holder's data key and revoke their cards; history still replays."""
        return self.retrying(lambda: self._erase_holder(holder_id, reason, actor))

    def _erase_holder(self, holder_id: UUID, reason: str, actor: Actor) -> list[UUID]:
        holder = self._get_or_none(holder_id)
        if not isinstance(holder, Holder):
            raise NotFound(f"no holder {holder_id}")
        now = self.now()
        cards: list[Card] = []
        for held in list(holder.cards.values()):
            card: Card = self.repository.get(UUID(held["card_id"]))
            if card.status != "revoked":
                card.revoke("holder erased: " + (reason or "erasure request"), actor.as_dict(), now)
                cards.append(card)
            holder.release_card(card.category, card.id, "erased", now)
        holder.erase(reason or "erasure request", actor.as_dict(), now)
        self.save(holder, *cards)
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM holder_keys WHERE holder_id = ?", (str(holder_id),))
        self.db.after_erasure()
        return [c.id for c in cards]

    # -- cards -----------------------------------------------------------------------------
    def _validated(self, request: IssueCardRequest, actor: Actor) -> int:
        """Check an issue request (422 before 403, as the contract orders); valid years."""
        problem = id_number_problem(request.id_number)
        if problem:
            raise InvalidInput(f"id_number: {problem}")
        if not request.name.strip() or len(request.name) > 50:
            raise InvalidInput("name must be 1 to 50 characters")
        if request.category not in HOLDER_CATEGORIES:
            raise InvalidInput(f"category must be one of {', '.join(HOLDER_CATEGORIES)}")
        require_region(request.region)
        valid_years = (
            self.settings.default_valid_years
            if request.valid_years is None
            else request.valid_years
        )
        if not 1 <= valid_years <= 50:
            raise InvalidInput("valid_years must be between 1 and 50")
        require_scope(actor, request.region, "cards")
        return valid_years

    def _new_holder(
        self,
        request: IssueCardRequest,
        digest: str,
        actor: Actor,
        data_key: bytes,
        first_card: dict[str, str],
        holder_id: UUID | None = None,
    ) -> Holder:
        holder_id = holder_id or holder_id_for(digest)
        personal = json.dumps(
            {"name": request.name, "id_number": request.id_number, "phone": request.phone},
            ensure_ascii=False,
        ).encode()
        return Holder(
            id_number_digest=digest,
            sealed_personal=base64.b64encode(
                Sealer(data_key).seal(personal, holder_id.bytes)
            ).decode(),
            actor=actor.as_dict(),
            at=self.now(),
            first_card=first_card,
        )

    def _new_card(
        self,
        request: IssueCardRequest,
        *,
        card_id: UUID,
        holder_id: UUID,
        numbers: tuple[str, int],
        expires_on: str,
        kid: str,
        actor: Actor,
        command_id: str,
        request_digest: str,
    ) -> Card:
        issued_at = self.now()
        masked_name = credentials.mask_name(request.name.strip())
        claims = credentials.CardClaims(
            issuer_region=request.region,
            issued_at=int(issued_at.timestamp()),
            expires_at=end_of_day(date.fromisoformat(expires_on)),
            card_id=card_id,
            card_number=numbers[0],
            category=request.category,
            region=request.region,
            masked_name=masked_name,
            version=1,
            status_index=numbers[1],
        )
        return Card(
            card_id=card_id,
            holder_id=holder_id,
            card_number=numbers[0],
            category=request.category,
            region=request.region,
            masked_name=masked_name,
            issued_at=issued_at,
            expires_on=expires_on,
            status_index=numbers[1],
            kid=kid,
            actor=actor.as_dict(),
            command_id=command_id,
            request_digest=request_digest,
            credential_digest=self.digest_of(claims, kid),
        )

    def digest_of(self, claims: credentials.CardClaims, kid: str) -> str:
        """The digest of the credential bytes these claims are issued as under `kid`: the
        ledger records it with every version it issues (online verifiers accept only those
        bytes)."""
        return credentials.credential_digest(credentials.sign_card(claims, self._signing_key(kid)))

    def next_version_digest(
        self,
        card: Card,
        *,
        status_index: int,
        kid: str,
        device_key: dict[str, str] | None,
        at: datetime,
    ) -> str:
        """The digest of the version `card.reissue(...)` with these arguments will issue."""
        claims = replace(
            self.claims_for(card),
            issued_at=int(at.timestamp()),
            version=card.card_version + 1,
            status_index=status_index,
            device_key=credentials.DeviceKey.from_jwk(device_key) if device_key else None,
        )
        return self.digest_of(claims, kid)

    def _allocate_numbers(self, regions: list[str]) -> list[tuple[str, int]]:
        """Card numbers and status indexes for a batch, one allocator call per region."""
        year = self.today().year
        first_index = self.db.allocate("status_index", len(regions))
        next_seq: dict[str, int] = {}
        for region in set(regions):
            count = regions.count(region)
            next_seq[region] = self.db.allocate(f"card:{region}:{year}", count)
        numbers = []
        for offset, region in enumerate(regions):
            numbers.append((card_number(region, year, next_seq[region]), first_index + offset))
            next_seq[region] += 1
        return numbers

    def _allocate_in(self, tx: Tx, regions: list[str]) -> list[tuple[str, int]]:
        """Card numbers and status indexes inside the caller's transaction. Locks are taken
        in one global order (status index, then regions sorted) so batches never deadlock."""
        if not regions:
            return []
        year = self.today().year
        counts = {"status_index": len(regions)}
        for region in sorted(set(regions)):
            counts[f"card:{region}:{year}"] = regions.count(region)
        firsts = allocate_many_in(tx, counts)
        first_index = firsts["status_index"]
        next_seq = {region: firsts[f"card:{region}:{year}"] for region in set(regions)}
        numbers = []
        for offset, region in enumerate(regions):
            numbers.append((card_number(region, year, next_seq[region]), first_index + offset))
            next_seq[region] += 1
        return numbers

    def _claim_batch(
        self, rows: list[tuple[UUID, str]]
    ) -> tuple[dict[UUID, bytes], set[UUID], list[tuple[str, int]]]:
        """A bulk batch's side-database work in ONE transaction (one round trip or two):
        data keys made for holders new here (INSERT .. RETURNING tells which), the existing
        keys of the others, and card numbers for the new holders' rows, in row order."""
        holder_ids = sorted(dict.fromkeys(h for h, _ in rows))
        fresh = {h: Sealer.new_key() for h in holder_ids}
        keys: dict[UUID, bytes] = {}
        with self.db.transaction() as tx:
            for chunk in _chunks(holder_ids, 1000):
                values = ",".join("(?, ?)" for _ in chunk)
                params = [v for h in chunk for v in (str(h), self._kek.seal(fresh[h], h.bytes))]
                for (holder_id,) in tx.all(
                    f"INSERT INTO holder_keys (holder_id, wrapped_key) VALUES {values} "  # noqa: S608
                    "ON CONFLICT (holder_id) DO NOTHING RETURNING holder_id",
                    params,
                ):
                    keys[UUID(holder_id)] = fresh[UUID(holder_id)]
            inserted = set(keys)
            for chunk in _chunks([str(h) for h in holder_ids if h not in inserted], 1000):
                marks = ",".join("?" * len(chunk))
                for holder_id, wrapped in tx.all(
                    f"SELECT holder_id, wrapped_key FROM holder_keys WHERE holder_id IN ({marks})",  # noqa: S608
                    chunk,
                ):
                    hid = UUID(holder_id)
                    keys[hid] = self._kek.unseal(bytes(wrapped), hid.bytes)
            numbers = self._allocate_in(tx, [region for h, region in rows if h in inserted])
        return keys, inserted, numbers

    def issue_card(
        self,
        request: IssueCardRequest,
        actor: Actor,
        *,
        command_id: str | None = None,
        request_digest: str = "",
    ) -> IssuedCard:
        """Issue a card; a retried command (same command id) returns the first result."""
        valid_years = self._validated(request, actor)
        card_id = command_uuid(actor, command_id, "issue") if command_id else uuid.uuid4()
        if command_id:
            replay = self._replay(card_id, request_digest)
            if replay is not None:
                return replay

        digest = keyed_digest(self._pepper, request.id_number)
        holder_id = holder_id_for(digest)
        today = self.today()
        expires_on = add_years(today, valid_years).isoformat()
        numbers: tuple[str, int] | None = None
        for attempt in range(MAX_ISSUE_ATTEMPTS):
            holder = self._get_or_none(holder_id)
            if holder is None:
                data_key = self._holder_data_key(holder_id, create=True)
                assert data_key is not None
                first = {"category": request.category, "card_id": str(card_id)}
                first["expires_on"] = expires_on
                holder = self._new_holder(request, digest, actor, data_key, first)
            else:
                holder.assign_card(request.category, card_id, expires_on, today, self.now())
            numbers = numbers or self._allocate_numbers([request.region])[0]
            card = self._new_card(
                request,
                card_id=card_id,
                holder_id=holder_id,
                numbers=numbers,
                expires_on=expires_on,
                kid=self.active_kid(),
                actor=actor,
                command_id=command_id or "",
                request_digest=request_digest,
            )
            # The first try skips looking for another card's code equal to this one (odds
            # 2^-50 a pair): a clash fails the save, and the next try looks.
            pointer, grant = self._mint_activation(
                card, reason=ISSUANCE, actor=actor, at=card.issued_at, probe=attempt > 0
            )
            try:
                self.save(holder, card, pointer)
            except IntegrityError:
                # Lost a race: on the card id (a concurrent retry of this command) or on the
                # holder (another issue for this person). Re-read and decide again.
                if command_id:
                    replay = self._replay(card_id, request_digest)
                    if replay is not None:
                        return replay
                continue
            return IssuedCard(card=card, replayed=False, activation=grant)
        raise Conflict("too many concurrent changes to this holder; try again")

    def issue_cards_bulk(
        self, requests: list[IssueCardRequest], actor: Actor, *, source: str = "import"
    ) -> list[BulkOutcome]:
        """Issue many cards in one transaction (bulk import of existing certificates).

        Each row's card id derives from the person and category, so importing the same
        file again finds the cards already there and issues nothing twice. Holders with no
        data key yet are new: they are registered without a read, their keys made in one
        transaction.
        """
        outcomes: list[BulkOutcome | None] = [None] * len(requests)
        rows: list[tuple[int, IssueCardRequest, str, UUID, UUID, str]] = []
        today = self.today()
        for i, request in enumerate(requests):
            try:
                valid_years = self._validated(request, actor)
            except DomainError as exc:
                outcomes[i] = BulkOutcome("rejected", None, exc.detail)
                continue
            digest = keyed_digest(self._pepper, request.id_number)
            card_id = uuid.uuid5(COMMAND_NAMESPACE, f"{source}:{digest}:{request.category}")
            expires_on = add_years(today, valid_years).isoformat()
            rows.append((i, request, digest, holder_id_for(digest), card_id, expires_on))

        keys, inserted, first_numbers = self._claim_batch([(r[3], r[1].region) for r in rows])
        known = set(keys) - inserted
        numbered = dict(zip([r[0] for r in rows if r[3] in inserted], first_numbers, strict=True))
        holders: dict[UUID, Holder] = {}
        pending: list[tuple[int, IssueCardRequest, UUID, UUID, str]] = []
        for i, request, digest, holder_id, card_id, expires_on in rows:
            holder = holders.get(holder_id)
            if holder is None and holder_id in known:
                holder = self._get_or_none(holder_id)
            if holder is not None and holder.cards.get(request.category, {}).get("card_id") == str(
                card_id
            ):
                outcomes[i] = BulkOutcome("exists", card_id, "already imported")
                holders[holder_id] = holder
                continue
            try:
                if holder is None:
                    first = {"category": request.category, "card_id": str(card_id)}
                    first["expires_on"] = expires_on
                    holder = self._new_holder(
                        request, digest, actor, keys[holder_id], first, holder_id
                    )
                else:
                    holder.assign_card(request.category, card_id, expires_on, today, self.now())
            except DomainError as exc:
                outcomes[i] = BulkOutcome("rejected", None, exc.detail)
                continue
            finally:
                if holder is not None:
                    holders[holder_id] = holder
            pending.append((i, request, card_id, holder_id, expires_on))

        if pending:
            # Rows of new holders were numbered with their keys; others (rare) number now.
            unnumbered = [p[1].region for p in pending if p[0] not in numbered]
            later = iter(self._allocate_numbers(unnumbered) if unnumbered else [])
            numbers = [numbered[p[0]] if p[0] in numbered else next(later) for p in pending]
            kid = self.recent_active_kid()
            cards = []
            for (i, request, card_id, holder_id, expires_on), nums in zip(
                pending, numbers, strict=True
            ):
                cards.append(
                    self._new_card(
                        request,
                        card_id=card_id,
                        holder_id=holder_id,
                        numbers=nums,
                        expires_on=expires_on,
                        kid=kid,
                        actor=actor,
                        command_id=f"{source}:{request.category}",
                        request_digest="",
                    )
                )
                outcomes[i] = BulkOutcome("issued", card_id, "")
            changed = [h for h in holders.values() if h.pending_events]
            try:
                self.save(*changed, *cards)
            except IntegrityError:
                # Someone else changed one of these holders meanwhile: fall back to rows.
                return [self._issue_one_for_bulk(request, actor, source) for request in requests]
        return [o for o in outcomes if o is not None]

    def _issue_one_for_bulk(
        self, request: IssueCardRequest, actor: Actor, source: str
    ) -> BulkOutcome:
        try:
            return self.issue_cards_bulk([request], actor, source=source)[0]
        except IntegrityError:
            return BulkOutcome("rejected", None, "changed concurrently; import again")

    def _replay(self, card_id: UUID, request_digest: str) -> IssuedCard | None:
        first = self._get_or_none(card_id, version=1)
        if first is None:
            return None
        if first.request_digest != request_digest:
            raise IdempotencyMismatch("Idempotency-Key reused with a different request body")
        return IssuedCard(card=first, replayed=True, activation=self._issuance_grant(card_id))

    # -- one-time activation ---------------------------------------------------------------
    def _grant(self, card_id: UUID, serial: int, expires_at: datetime) -> ActivationGrant:
        code = self.activation_codes.code_for(card_id, serial)
        return ActivationGrant(card_id=card_id, code=code, serial=serial, expires_at=expires_at)

    def _mint_activation(
        self,
        card: Card,
        *,
        reason: str,
        actor: Actor,
        at: datetime,
        command_id: str = "",
        probe: bool = True,
    ) -> tuple[ActivationCode, ActivationGrant]:
        """The card's next code (pending, for the caller to save with the card).

        The next serial whose code no other card holds: the `ActivationCode` id derives
        from the code's hash, so a clash cannot be saved either way.
        """
        serial = card.activation_serial + 1
        for _ in range(MAX_ISSUE_ATTEMPTS):
            code = self.activation_codes.code_for(card.id, serial)
            code_hash = self.activation_codes.hash(code)
            if not probe or self._get_or_none(activation_code_id(code_hash)) is None:
                break
            serial += 1
        else:
            raise Conflict("could not make a fresh activation code; try again")
        expires_at = at + VALID_FOR
        card.issue_activation_code(
            code_hash=code_hash,
            serial=serial,
            expires_at=expires_at,
            reason=reason,
            actor=actor.as_dict(),
            at=at,
            command_id=command_id,
        )
        pointer = ActivationCode(code_hash=code_hash, card_id=card.id, serial=serial, at=at)
        return pointer, ActivationGrant(card.id, code, serial, expires_at)

    def _issuance_grant(self, card_id: UUID) -> ActivationGrant | None:
        """The code an issuance made (recorded right after `Issued`), derived again."""
        for ev in self.events.get(card_id, gt=1, lte=2):
            serial, expires_at = getattr(ev, "serial", None), getattr(ev, "expires_at", None)
            if getattr(ev, "reason", None) == ISSUANCE and isinstance(serial, int):
                assert isinstance(expires_at, datetime)
                return self._grant(card_id, serial, expires_at)
        return None

    def new_activation_code(
        self, card_id: UUID, actor: Actor, reason: str = "", command_id: str | None = None
    ) -> NewActivation:
        """A fresh one-time code for a card (a new or lost phone); earlier unused codes
        stop working. A retried command (same Idempotency-Key, same caller) answers the
        code it made the first time."""
        key = f"{actor.id}:{command_id}" if command_id else ""
        why = (reason or "").strip() or "new code requested"

        def command() -> NewActivation:
            card = self.card_for(card_id, actor, "cards")
            if key:
                for ev in self.events.get(card_id):
                    serial = getattr(ev, "serial", None)
                    if getattr(ev, "command_id", None) != key or not hasattr(ev, "code_hash"):
                        continue
                    if getattr(ev, "reason", None) != why:
                        raise IdempotencyMismatch(
                            "Idempotency-Key reused with a different request body"
                        )
                    expires_at = getattr(ev, "expires_at", None)
                    assert isinstance(serial, int) and isinstance(expires_at, datetime)
                    return NewActivation(self._grant(card_id, serial, expires_at), True)
            pointer, grant = self._mint_activation(
                card, reason=why, actor=actor, at=self.now(), command_id=key
            )
            self.save(card, pointer)
            return NewActivation(grant, False)

        return self.retrying(command)

    def activate(
        self, code_text: str, *, device_hint: str = "", command_id: str | None = None
    ) -> Activation:
        """Redeem a one-time code: the first redemption wins, every later one is refused.

        Two phones redeeming one code at once both read the card and both decide yes; the
        event store takes only one `Activated` at that card version, the other save fails
        and, run again by `retrying`, reads the code as used. A retry of the same request
        (same Idempotency-Key, within 24 h) answers again instead (a lost answer).
        """
        code = normalize_code(code_text)
        code_hash = self.activation_codes.hash(code)
        digest = self.activation_codes.hash(f"{code}:{command_id}") if command_id else ""

        def command() -> Activation:
            pointer = self._get_or_none(activation_code_id(code_hash))
            if not isinstance(pointer, ActivationCode):
                raise UnknownCode("no such activation code; check it and type it again")
            card = self.card(pointer.card_id)
            made = card.activate(
                code_hash=code_hash,
                serial=pointer.serial,
                at=self.now(),
                device_hint=device_hint,
                command_digest=digest,
            )
            if made:
                self.save(card)
            return Activation(card=card, replayed=not made)

        return self.retrying(command)

    def holder_view(self, card: Card) -> dict[str, Any]:
        """What the holder's own phone is given: the masked card and its current QR."""
        fresh = self.refresh_signature(card)
        view = self.card_view(fresh)
        view.pop("holder_id", None)
        view["qr"] = self.credential_for(fresh)
        return view

    def card(self, card_id: UUID) -> Card:
        card = self._get_or_none(card_id)
        if not isinstance(card, Card):
            raise NotFound(f"no card {card_id}")
        return card

    def card_for(self, card_id: UUID, actor: Actor, permission: str = "read") -> Card:
        card = self.card(card_id)
        require_scope(actor, card.region, permission)
        return card

    def change_status(
        self, card_id: UUID, action: str, reason: str, actor: Actor, command_id: str = ""
    ) -> Card:
        """suspend | reinstate | revoke, with a reason; a retried command is applied once."""
        if action not in ("suspend", "reinstate", "revoke"):
            raise InvalidInput(f"unknown action {action}")

        def command() -> Card:
            card = self.card_for(card_id, actor, "cards")
            if command_id and any(
                getattr(ev, "command_id", None) == command_id for ev in self.events.get(card_id)
            ):
                return card
            now = self.now()
            if action == "suspend":
                card.suspend(reason, actor.as_dict(), now, command_id)
                self.save(card)
            elif action == "reinstate":
                card.reinstate(reason, actor.as_dict(), now, command_id)
                self.save(card)
            else:
                card.revoke(reason, actor.as_dict(), now, command_id)
                holder: Holder = self.repository.get(card.holder_id)
                holder.release_card(card.category, card.id, "revoked", now)
                self.save(card, holder)
            return card

        return self.retrying(command)

    def bind_device_key(self, card_id: UUID, device_key: credentials.DeviceKey) -> Card:
        """Reissue the card bound to the holder's phone key: old QR codes become superseded."""

        def command() -> Card:
            card = self.card(card_id)
            if card.status == "revoked":
                raise Conflict("the card is revoked")
            index, kid, jwk, at = (
                self.db.allocate("status_index"),
                self.active_kid(),
                device_key.to_jwk(),
                self.now(),
            )
            card.reissue(
                reason="device_key_bound",
                status_index=index,
                kid=kid,
                device_key=jwk,
                actor=Actor(
                    kind="holder", id=str(card_id), role="holder", region=card.region
                ).as_dict(),
                at=at,
                credential_digest=self.next_version_digest(
                    card, status_index=index, kid=kid, device_key=jwk, at=at
                ),
            )
            self.save(card)
            return card

        return self.retrying(command)

    def refresh_signature(self, card: Card) -> Card:
        """A card signed by a compromised key is reissued under the active key on demand."""
        if self.keyring().key(card.kid)["status"] != COMPROMISED or card.status == "revoked":
            return card

        def command() -> Card:
            fresh = self.card(card.id)
            if self.keyring().key(fresh.kid)["status"] != COMPROMISED:
                return fresh
            index, kid, at = self.db.allocate("status_index"), self.active_kid(), self.now()
            fresh.reissue(
                reason="issuer_key_replaced",
                status_index=index,
                kid=kid,
                device_key=fresh.device_key,
                actor=Actor.system("key-compromise").as_dict(),
                at=at,
                credential_digest=self.next_version_digest(
                    fresh, status_index=index, kid=kid, device_key=fresh.device_key, at=at
                ),
            )
            self.save(fresh)
            return fresh

        return self.retrying(command)

    def claims_for(self, card: Card) -> credentials.CardClaims:
        device = credentials.DeviceKey.from_jwk(card.device_key) if card.device_key else None
        return credentials.CardClaims(
            issuer_region=card.region,
            issued_at=int(card.version_issued_at.timestamp()),
            expires_at=end_of_day(date.fromisoformat(card.expires_on)),
            card_id=card.id,
            card_number=card.card_number,
            category=card.category,
            region=card.region,
            masked_name=card.masked_name,
            version=card.card_version,
            status_index=card.status_index,
            device_key=device,
        )

    def credential_for(self, card: Card) -> str:
        """The PTC1 text of this card version (deterministic: Ed25519 signatures are)."""
        return credentials.issue_ptc1(self.claims_for(card), self._signing_key(card.kid))

    def card_view(self, card: Card) -> dict[str, Any]:
        return {
            "card_id": str(card.id),
            "card_number": card.card_number,
            "status": card.status_on(self.today()),
            "category": card.category,
            "region": card.region,
            "masked_name": card.masked_name,
            "version": card.card_version,
            "status_index": card.status_index,
            "kid": card.kid,
            "issued_at": card.issued_at.astimezone(UTC).isoformat(),
            "expires": card.expires_on,
            "device_bound": card.device_key is not None,
            "holder_id": str(card.holder_id),
            "activation": {
                "state": card.activation_state(self.now()),
                "expires_at": _iso(card.activation_expires_at),
                "activated_at": _iso(card.activated_at),
            },
        }


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat() if when is not None else None


@dataclass(frozen=True)
class CatalogAt:
    """An effective catalog: what applies in a region on a date (as published by `as_of`),
    what is scheduled next, and the version of each region the fold used."""

    region: str
    at: date
    as_of: datetime | None
    benefits: list[EffectiveBenefit]
    upcoming: list[EffectiveBenefit]
    versions: dict[str, int]


@dataclass(frozen=True)
class RegisteredMerchant:
    merchant: Merchant
    api_key: str | None


class CatalogAdmin(ServiceApplication):
    """Regional catalogs, merchants and the administrator tokens that manage them."""

    name = "CatalogAdmin"

    # -- administrator tokens --------------------------------------------------------------
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

    # -- regional catalogs -----------------------------------------------------------------
    def publish_catalog(
        self,
        region: str,
        effective_from: date | str,
        benefits: object,
        actor: Actor,
        *,
        withdrawn: object = (),
        command_id: str | None = None,
    ) -> int:
        """Publish a complete new version of a region's catalog; returns its number.

        Everything is validated before the scope check (422 before 403, the contract's
        order) and nothing is recorded on a refusal. `command_id` (the Idempotency-Key) is
        scoped to the calling token: a retry returns the version made the first time; the
        same key with a different catalog is refused (422).
        """
        require_region(region)
        day = parse_effective_from(effective_from)
        parsed = validate_benefits(benefits)
        gone = validate_withdrawn(withdrawn, parsed)
        require_scope(actor, region, "catalog")
        key = f"{actor.id}:{command_id}" if command_id else None
        for _ in range(MAX_ISSUE_ATTEMPTS):
            catalog = self._get_or_none(RegionCatalog.create_id(region))
            if not isinstance(catalog, RegionCatalog):
                catalog = RegionCatalog(region)
            if key is not None and key in catalog.command_ids:
                first = catalog.history[catalog.command_ids[key] - 1]
                if (first.effective_from, first.benefits, first.withdrawn) != (day, parsed, gone):
                    raise IdempotencyMismatch(
                        "Idempotency-Key reused with a different catalog version"
                    )
                return first.number
            number = catalog.publish(
                day,
                [b.to_dict() for b in parsed],
                published_at=self.now(),
                actor=actor.as_dict(),
                withdrawn=gone,
                command_id=key,
            )
            try:
                self.save(catalog)
            except IntegrityError:
                continue  # another version (or this retry) was saved meanwhile: decide again
            return number
        raise Conflict("the catalog is being changed concurrently; try again")

    def catalog_history(self, region: str) -> list[CatalogVersion]:
        """A region's own versions, oldest first, from its aggregate (read-your-writes)."""
        found = self._get_or_none(RegionCatalog.create_id(region))
        return list(found.history) if isinstance(found, RegionCatalog) else []

    def catalog_chains(self, region: str) -> list[list[CatalogVersion]]:
        """The histories along the region's chain, root first (the fold's input)."""
        require_region(region)
        chain = region_table.regions().ancestors(region)
        return [self.catalog_history(code) for code in reversed(chain)]

    def effective_catalog(
        self, region: str, at: date | None = None, as_of: datetime | None = None
    ) -> CatalogAt:
        """What applies in `region` on `at` (today by default), as published by `as_of`."""
        day = at or self.today()
        chains = self.catalog_chains(region)
        return CatalogAt(
            region=region,
            at=day,
            as_of=as_of,
            benefits=effective_benefits(chains, day, as_of),
            upcoming=upcoming_benefits(chains, day, as_of),
            versions=versions_in_force(chains, day, as_of),
        )

    def catalog_versions(self, region: str) -> list[tuple[CatalogVersion, VersionDiff]]:
        require_region(region)
        return versions_with_diffs(self.catalog_history(region))

    # -- merchants -------------------------------------------------------------------------
    def register_merchant(
        self,
        *,
        name: str,
        region: str,
        kind: str,
        categories: list[str],
        a_level: int | None,
        require_device_binding: bool,
        actor: Actor,
        command_id: str | None = None,
        request_digest: str = "",
    ) -> RegisteredMerchant:
        """Register a merchant; its API key is returned once and only its hash is kept."""
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise InvalidInput("name must be 1 to 100 characters")
        if kind not in KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(KINDS)}")
        if a_level is not None and not 1 <= a_level <= 5:
            raise InvalidInput("a_level must be 1 to 5")
        if len(categories) > 20 or any(not c or len(c) > 40 for c in categories):
            raise InvalidInput("categories: at most 20, each 1 to 40 characters")
        require_region(region)
        require_scope(actor, region, "merchants")
        merchant_id = command_uuid(actor, command_id, "merchant") if command_id else uuid.uuid4()
        if command_id:
            existing = self._get_or_none(merchant_id, version=1)
            if existing is not None:
                if existing.request_digest != request_digest:
                    raise IdempotencyMismatch(
                        "Idempotency-Key reused with a different request body"
                    )
                return RegisteredMerchant(merchant=existing, api_key=None)
        api_key = new_secret_token("mk")
        merchant = Merchant(
            merchant_id=merchant_id,
            name=name,
            region=region,
            kind=kind,
            categories=sorted(set(categories)),
            a_level=a_level,
            require_device_binding=require_device_binding,
            key_hash=token_hash(api_key),
            actor=actor.as_dict(),
            at=self.now(),
            command_id=command_id or "",
            request_digest=request_digest,
        )
        try:
            self.save(merchant)
        except IntegrityError:
            raise Conflict("a concurrent request registered this merchant") from None
        return RegisteredMerchant(merchant=merchant, api_key=api_key)

    def merchant(self, merchant_id: UUID) -> Merchant:
        merchant = self._get_or_none(merchant_id)
        if not isinstance(merchant, Merchant):
            raise NotFound(f"no merchant {merchant_id}")
        return merchant

    def deactivate_merchant(self, merchant_id: UUID, reason: str, actor: Actor) -> Merchant:
        merchant = self.merchant(merchant_id)
        require_scope(actor, merchant.region, "merchants")
        merchant.deactivate(reason, actor.as_dict(), self.now())
        self.save(merchant)
        return merchant

    def rotate_merchant_key(self, merchant_id: UUID, actor: Actor) -> str:
        merchant = self.merchant(merchant_id)
        require_scope(actor, merchant.region, "merchants")
        api_key = new_secret_token("mk")
        merchant.rotate_key(token_hash(api_key), actor.as_dict(), self.now())
        self.save(merchant)
        return api_key

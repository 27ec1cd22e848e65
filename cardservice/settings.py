"""The one settings object, read from the environment.

Everything configurable lives here so a deployment is described by its environment alone;
`eventsourcing_env` maps it onto the variables the eventsourcing library reads.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cardservice.domain.policy import CLOCK_SKEW_SECONDS, PRESENTATION_WINDOW_SECONDS

# On SQLite each event-sourced application keeps its own file beside the views' database.
EVENT_STORE_FILES = {
    "CardLedger": "events-ledger.sqlite3",
    "CatalogAdmin": "events-catalog.sqlite3",
    "Redemptions": "events-redemptions.sqlite3",
}

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
POSTGRES_DEFAULTS = {
    "host": "127.0.0.1",
    "port": "5432",
    "user": "postgres",
    "password": "",
    "dbname": "postgres",
}


class Settings(BaseSettings):
    """Service configuration; env names are the contract's (DESIGN §3)."""

    # hide_input_in_errors: a refused value (a URL with its password, the secret) is never echoed.
    model_config = SettingsConfigDict(
        env_prefix="CARDSERVICE_", extra="ignore", hide_input_in_errors=True
    )

    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    data_dir: Path = Path("var")
    admin_token: str | None = None
    # Master secret: wraps holder data keys, issuer private keys and peppers ID-number hashes.
    # Unset on SQLite: generated once into the data dir. PostgreSQL deployments must set it so
    # every replica shares it.
    secret: str | None = None
    merchant_rate: float = 20.0
    # Redis (redis://[:password@]host:port/db) shares the per-merchant buckets across
    # replicas; unset, each process keeps its own. Redis down: per process until it answers.
    redis_url: str | None = None
    # The merchant API's view reads from a PostgreSQL hot standby (optional); its writes
    # (verification log, redemptions) and the reads that must see them stay on DATABASE_URL.
    read_database_url: str | None = None
    # Offline-bundle downloads per merchant key (a 304 counts too): a token bucket of
    # `bundle_burst` refilled at `bundle_rate_per_minute`; `bundle_rate_per_minute = 0`
    # disables it.
    bundle_rate_per_minute: float = 6.0
    bundle_burst: int = 10
    # Activation-code attempts per client address (IPv6: per /64): a token bucket of
    # `activation_burst` refilled at `activation_rate` per second; a successful activation
    # is given back, so only failed guesses count. `activation_rate = 0` disables it.
    activation_rate: float = 0.1
    activation_burst: int = 10
    clock_skew_seconds: int = CLOCK_SKEW_SECONDS
    presentation_window_seconds: int = PRESENTATION_WINDOW_SECONDS
    default_valid_years: int = 10
    max_body_bytes: int = 16 * 1024
    # Connections per pool. Writers serialise on the event table's lock, so more writer
    # connections buy nothing; replicas × pools × size must stay under max_connections.
    pool_size: int = 3
    projection_poll_seconds: float = 0.05
    projection_batch_size: int = 500
    bundle_hours: int = 24
    # Proxies whose X-Forwarded-For names the client (comma-separated addresses or CIDRs);
    # empty: the socket's peer is the client, whatever a header says.
    forwarded_allow_ips: str = ""
    postgres_schema: str = ""
    # Apply pending schema migrations at start (serve, worker, merchant_api); with 0 a
    # start against a database behind this code's schema fails, and `cardservice migrate`
    # is run as its own step.
    auto_migrate: bool = True
    # When set, GET /metrics needs it as a Bearer token (CARDSERVICE_METRICS_TOKEN).
    metrics_token: str | None = None
    # Logs on stderr: "text" for people, "json" for collectors (one object a line).
    log_format: Literal["text", "json"] = "text"

    @field_validator("database_url", "read_database_url")
    @classmethod
    def _parse_database_url(cls, value: str | None) -> str | None:
        """A PostgreSQL URL libpq cannot parse fails at start (the message omits the URL,
        which may hold a password)."""
        if value and value.startswith(POSTGRES_SCHEMES):
            try:
                conninfo_to_dict(value)
            except Exception as exc:
                reason = str(exc).split(":")[0]
                raise ValueError(f"DATABASE_URL is not a valid PostgreSQL URL ({reason})") from None
        return value

    def for_view_reads(self) -> Settings | None:
        """These settings pointed at the hot standby, or None where there is none."""
        if not self.read_database_url:
            return None
        if not self.is_postgres or not self.read_database_url.startswith(POSTGRES_SCHEMES):
            raise ValueError("CARDSERVICE_READ_DATABASE_URL needs PostgreSQL on both sides")
        return self.model_copy(update={"database_url": self.read_database_url})

    # Holder notices to a messaging gateway (optional): POSTed through the outbox, retried
    # with back-off from `notify_backoff_seconds` doubling up to `notify_backoff_max_seconds`.
    notify_url: str | None = None
    notify_backoff_seconds: float = 1.0
    notify_backoff_max_seconds: float = 300.0

    @property
    def is_postgres(self) -> bool:
        return bool(self.database_url) and str(self.database_url).startswith(POSTGRES_SCHEMES)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "cardservice.sqlite3"

    @cached_property
    def master_secret(self) -> bytes:
        if self.secret:
            return hashlib.sha256(self.secret.encode()).digest()
        if self.is_postgres:
            raise RuntimeError("CARDSERVICE_SECRET must be set when DATABASE_URL is PostgreSQL")
        path = self.data_dir / "secret.key"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32))
        return hashlib.sha256(path.read_text().strip().encode()).digest()

    def derived_key(self, purpose: str, length: int = 32) -> bytes:
        """A key for one purpose, so a leak of one use does not expose the others."""
        return hmac.new(self.master_secret, purpose.encode(), hashlib.sha256).digest()[:length]

    def postgres_params(self) -> dict[str, str]:
        """Every libpq parameter of `DATABASE_URL` (psycopg's parser: `sslmode`,
        `sslrootcert`, multiple hosts, percent-encoding), with the project's defaults for
        the five the URL may leave out."""
        params = {str(k): str(v) for k, v in conninfo_to_dict(str(self.database_url)).items()}
        return {**POSTGRES_DEFAULTS, **params}

    def postgres_extra_conninfo(self) -> str:
        """The URL's parameters beyond host, port, user, password and dbname, as conninfo."""
        params = self.postgres_params()
        return make_conninfo(**{k: v for k, v in params.items() if k not in POSTGRES_DEFAULTS})

    def eventsourcing_env(self, store: str | None = None) -> dict[str, str]:
        """The eventsourcing library's environment for the write side's applications: the
        persistence of `persistence_env` with the event store's cipher."""
        return {
            "CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
            "CIPHER_KEY": base64.b64encode(self.derived_key("event-store-cipher")).decode(),
            "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor",
            **self.persistence_env(store),
        }

    def persistence_env(self, store: str | None = None) -> dict[str, str]:
        """Where an event store lives, with no key: what the read side may know. On SQLite
        each application has its own file (`EVENT_STORE_FILES`); `store` names it."""
        if self.is_postgres:
            pg = self.postgres_params()
            env = {
                "PERSISTENCE_MODULE": "cardservice.pgfactory:ConninfoPostgresFactory",
                "POSTGRES_CONNINFO_EXTRA": self.postgres_extra_conninfo(),
                "POSTGRES_HOST": pg["host"],
                "POSTGRES_PORT": pg["port"],
                "POSTGRES_USER": pg["user"],
                "POSTGRES_PASSWORD": pg["password"],
                "POSTGRES_DBNAME": pg["dbname"],
                "POSTGRES_POOL_SIZE": str(min(2, self.pool_size)),
                "POSTGRES_MAX_OVERFLOW": str(self.pool_size),
                "POSTGRES_CONNECT_TIMEOUT": "5",
                "POSTGRES_PRE_PING": "y",
                "POSTGRES_LOCK_TIMEOUT": "10",
                # The event stores' tables are made by `cardservice.migrations`, under its lock.
                "CREATE_TABLE": "n",
            }
            if self.postgres_schema:
                env["POSTGRES_SCHEMA"] = self.postgres_schema
            return env
        self.data_dir.mkdir(parents=True, exist_ok=True)
        file = EVENT_STORE_FILES.get(store or "")
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(self.data_dir / file if file else self.sqlite_path),
            "SQLITE_LOCK_TIMEOUT": "30",
            "CREATE_TABLE": "n",
        }

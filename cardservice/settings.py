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
from urllib.parse import unquote, urlparse

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Service configuration; env names are the contract's (DESIGN §3)."""

    model_config = SettingsConfigDict(env_prefix="CARDSERVICE_", extra="ignore")

    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    data_dir: Path = Path("var")
    admin_token: str | None = None
    # Master secret: wraps holder data keys, issuer private keys and peppers ID-number hashes.
    # Unset on SQLite: generated once into the data dir. PostgreSQL deployments must set it so
    # every replica shares it.
    secret: str | None = None
    merchant_rate: float = 20.0
    # Activation-code attempts per client address (IPv6: per /64): a token bucket of
    # `activation_burst` refilled at `activation_rate` per second; a successful activation
    # is given back, so only failed guesses count. `activation_rate = 0` disables it.
    activation_rate: float = 0.1
    activation_burst: int = 10
    clock_skew_seconds: int = 300
    presentation_window_seconds: int = 60
    default_valid_years: int = 10
    max_body_bytes: int = 16 * 1024
    # Connections per pool. Writers serialise on the event table's lock, so more writer
    # connections buy nothing; replicas × pools × size must stay under max_connections.
    pool_size: int = 3
    projection_poll_seconds: float = 0.05
    projection_batch_size: int = 500
    bundle_hours: int = 24
    postgres_schema: str = ""
    # Holder notices to a messaging gateway (optional): POSTed through the outbox, retried
    # with back-off from `notify_backoff_seconds` doubling up to `notify_backoff_max_seconds`.
    notify_url: str | None = None
    notify_backoff_seconds: float = 1.0
    notify_backoff_max_seconds: float = 300.0

    @property
    def is_postgres(self) -> bool:
        return bool(self.database_url) and str(self.database_url).startswith(
            ("postgresql://", "postgres://")
        )

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
        url = urlparse(str(self.database_url))
        return {
            "host": url.hostname or "127.0.0.1",
            "port": str(url.port or 5432),
            "user": unquote(url.username or "postgres"),
            "password": unquote(url.password or ""),
            "dbname": (url.path or "/").lstrip("/") or "postgres",
        }

    def eventsourcing_env(self) -> dict[str, str]:
        """The eventsourcing library's environment for this deployment."""
        env = {
            "CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
            "CIPHER_KEY": base64.b64encode(self.derived_key("event-store-cipher")).decode(),
            "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor",
        }
        if self.is_postgres:
            pg = self.postgres_params()
            env.update(
                {
                    "PERSISTENCE_MODULE": "eventsourcing.postgres",
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
                }
            )
            if self.postgres_schema:
                env["POSTGRES_SCHEMA"] = self.postgres_schema
        else:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            env.update(
                {
                    "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                    "SQLITE_DBNAME": str(self.sqlite_path),
                    "SQLITE_LOCK_TIMEOUT": "30",
                }
            )
        return env

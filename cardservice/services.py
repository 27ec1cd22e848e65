"""The composition root: settings in, wired applications and storage out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cardservice.application import CardLedger, CatalogAdmin
from cardservice.clock import Clock, SystemClock
from cardservice.settings import Settings
from cardservice.storage import SIDE_SCHEMA, Database


@dataclass
class Services:
    settings: Settings
    clock: Clock
    db: Database
    ledger: CardLedger
    catalog: CatalogAdmin
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings | None = None, clock: Clock | None = None) -> Services:
        settings = settings or Settings()
        clock = clock or SystemClock()
        db = Database(settings)
        from cardservice.bundles import OFFLINE_BUNDLES_SCHEMA

        db.create_tables([*SIDE_SCHEMA, *OFFLINE_BUNDLES_SCHEMA])
        base_env = settings.eventsourcing_env()

        def env_for(app_file: str) -> dict[str, str]:
            env = dict(base_env)
            if not settings.is_postgres:
                env["SQLITE_DBNAME"] = str(settings.data_dir / app_file)
            return env

        ledger = CardLedger(
            settings=settings, db=db, clock=clock, env=env_for("events-ledger.sqlite3")
        )
        catalog = CatalogAdmin(
            settings=settings, db=db, clock=clock, env=env_for("events-catalog.sqlite3")
        )
        svc = cls(settings=settings, clock=clock, db=db, ledger=ledger, catalog=catalog)
        from projections.catalog import install_reader  # the view-backed catalog reads

        install_reader(svc.extras, db)
        return svc

    def close(self) -> None:
        for closer in self.extras.get("closers", []):
            closer()
        self.ledger.close()
        self.catalog.close()
        self.db.close()

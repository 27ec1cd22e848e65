"""The composition root: settings in, wired applications and storage out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cardservice.application import CardLedger, CatalogAdmin
from cardservice.clock import Clock, SystemClock
from cardservice.settings import Settings
from cardservice.storage import Database

LEDGER_EVENTS_FILE = "events-ledger.sqlite3"
CATALOG_EVENTS_FILE = "events-catalog.sqlite3"


def app_env(settings: Settings, app_file: str) -> dict[str, str]:
    """An application's eventsourcing env; on SQLite each application has its own file."""
    env = settings.eventsourcing_env()
    if not settings.is_postgres:
        env["SQLITE_DBNAME"] = str(settings.data_dir / app_file)
    return env


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
        from cardservice.migrations import prepare_schema

        try:
            prepare_schema(db)  # migrate, or refuse a schema behind this code
        except BaseException:
            db.close()
            raise
        ledger = CardLedger(
            settings=settings, db=db, clock=clock, env=app_env(settings, LEDGER_EVENTS_FILE)
        )
        catalog = CatalogAdmin(
            settings=settings, db=db, clock=clock, env=app_env(settings, CATALOG_EVENTS_FILE)
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

"""The write side's composition root: settings in, the wired Applications and readers out.

Everything the admin and holder API, the CLI and the worker use is a typed field here; no
part looks another up by a string. The read side (`read`) is built on the same database
and probes when something mounts the merchant API.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cardservice.application import CardLedger, CatalogAdmin
from cardservice.bootstrap.lifecycle import Lifecycle
from cardservice.bootstrap.read import ReadSide, open_database
from cardservice.clock import Clock, SystemClock
from cardservice.settings import Settings
from cardservice.storage import Database
from projections.admin_cards import AdminCardReader
from projections.audit import AuditReader
from projections.catalog import CatalogReader
from projections.heads import application_heads
from projections.health import Probes
from projections.registry import all_views
from projections.service import Sources


@dataclass
class WriteSide:
    settings: Settings
    clock: Clock
    db: Database
    ledger: CardLedger
    catalog: CatalogAdmin
    catalog_reader: CatalogReader
    admin_cards: AdminCardReader
    audit: AuditReader
    probes: Probes
    lifecycle: Lifecycle
    _read: ReadSide | None = field(default=None, repr=False)

    @classmethod
    def build(cls, settings: Settings | None = None, clock: Clock | None = None) -> WriteSide:
        settings = settings or Settings()
        clock = clock or SystemClock()
        lifecycle = Lifecycle()
        db = open_database(settings)
        lifecycle.add("database", stop=db.close)
        ledger = CardLedger(
            settings=settings, db=db, clock=clock, env=settings.eventsourcing_env(CardLedger.name)
        )
        lifecycle.add("ledger", stop=ledger.close)
        catalog = CatalogAdmin(
            settings=settings, db=db, clock=clock, env=settings.eventsourcing_env(CatalogAdmin.name)
        )
        lifecycle.add("catalog", stop=catalog.close)
        probes = Probes(
            db,
            lambda: clock.now().timestamp(),
            application_heads([ledger, catalog]),
            all_views(),
            lifecycle.checks,
        )
        return cls(
            settings=settings,
            clock=clock,
            db=db,
            ledger=ledger,
            catalog=catalog,
            catalog_reader=CatalogReader(db),
            admin_cards=AdminCardReader(db),
            audit=AuditReader(db),
            probes=probes,
            lifecycle=lifecycle,
        )

    @property
    def read(self) -> ReadSide:
        """The merchant API's root on this process's database, probes and lifecycle."""
        if self._read is None:
            self._read = ReadSide.build(
                self.settings, self.clock, db=self.db, probes=self.probes, lifecycle=self.lifecycle
            )
        return self._read

    def sources(self) -> Sources:
        """What the projection runners read: this side's Applications."""
        apps = {self.ledger.name: self.ledger, self.catalog.name: self.catalog}
        return Sources(self.db, apps, self.settings, self.clock)

    def close(self) -> None:
        self.lifecycle.stop()

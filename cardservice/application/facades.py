"""The two applications the service runs, composed of the use-case families.

Each is one eventsourcing Application, so each keeps its one event store (the `name`
is what the store's location and environment are keyed by); the use cases live in the
family modules this composes.
"""

from __future__ import annotations

from typing import ClassVar

from cardservice.application.access import AdminAccess
from cardservice.application.appeals import Appeals
from cardservice.application.catalog import Catalogs
from cardservice.application.imports import HttpImports
from cardservice.application.merchants import Merchants
from cardservice.application.photos import HolderPhotos
from cardservice.application.unbinding import Unbinding


class CardLedger(HttpImports, Appeals, HolderPhotos, Unbinding):
    """Issuing, suspending, reinstating, revoking and reissuing cards; issuer keys; holders."""

    name = "CardLedger"
    SEALED_PERSONAL_CONTEXT: ClassVar[bytes] = b"holder-personal:"


class CatalogAdmin(AdminAccess, Catalogs, Merchants):
    """Regional catalogs, merchants and the administrator tokens that manage them."""

    name = "CatalogAdmin"

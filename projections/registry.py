"""Every view the runner maintains. Other packages add theirs with `register`.

A view factory is called once per process (a view object holds no state of its own), and
views are grouped by their source Application: one runner per source.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from projections.admin_cards import AdminCardView
from projections.appeals import AppealsView
from projections.audit import CatalogAuditView, LedgerAuditView
from projections.card_history import CardHistoryView
from projections.cards import CardStatusView, StatusListView
from projections.catalog import CatalogView
from projections.keys import IssuerKeyView
from projections.merchants import MerchantView
from projections.notices import NoticesView
from projections.photos import PhotoCardsView
from projections.sessions import HolderSessionView
from projections.tokens import TokenView
from projections.view import View

ViewFactory = Callable[[], View[Any]]

_FACTORIES: list[ViewFactory] = [
    CardStatusView,
    StatusListView,
    IssuerKeyView,
    MerchantView,
    CatalogView,
    LedgerAuditView,
    CatalogAuditView,
    NoticesView,
    AppealsView,
    PhotoCardsView,
    HolderSessionView,
    AdminCardView,
    TokenView,
    CardHistoryView,
]


def register(factory: ViewFactory) -> None:
    """Add a view (for example the effective catalog); registering twice is harmless."""
    if factory not in _FACTORIES:
        _FACTORIES.append(factory)


def all_views() -> list[View[Any]]:
    views = [factory() for factory in _FACTORIES]
    names = [v.name for v in views]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise RuntimeError(f"two views share the name(s) {sorted(duplicates)}")
    return views


def view_named(name: str) -> View[Any]:
    for view in all_views():
        if view.name == name:
            return view
    raise KeyError(name)

"""Read models: pure folds of domain events plus a thin runner that tracks its positions.

Views live in the side database (`cardservice.storage.Database`) beside their positions in
`projection_positions`, so each window of events and its position commit together.
"""

from projections.cards import (
    CardRow,
    CardStatusView,
    StatusEntries,
    StatusListView,
    apply_card,
    apply_status,
    status_code_at,
    status_list_bytes,
)
from projections.keys import IssuerKeyView, Keyring, KeyRow, apply_keyring
from projections.merchants import MerchantRow, MerchantView, apply_merchant
from projections.registry import all_views, register, view_named
from projections.runner import BatchFailed, PositionMoved, Runner
from projections.view import ProjectionError, View

__all__ = [
    "BatchFailed",
    "CardRow",
    "CardStatusView",
    "IssuerKeyView",
    "KeyRow",
    "Keyring",
    "MerchantRow",
    "MerchantView",
    "PositionMoved",
    "ProjectionError",
    "Runner",
    "StatusEntries",
    "StatusListView",
    "View",
    "all_views",
    "apply_card",
    "apply_keyring",
    "apply_merchant",
    "apply_status",
    "register",
    "status_code_at",
    "status_list_bytes",
    "view_named",
]

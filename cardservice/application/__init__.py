"""The service layer: eventsourcing Applications whose methods are the use cases.

One module per use-case family (keys, personal data, issuance, bulk issuance, activation,
cards, catalog, merchants, access); `CardLedger` and `CatalogAdmin` compose them, one
event store each. The HTTP routes and the CLI only parse input, call a method here and
render the result (presentation lives beside the routes, in `cardservice.api.presenters`).
"""

from cardservice.application.access import AdminAccess
from cardservice.application.activation import (
    Activation,
    ActivationGrant,
    Activations,
    NewActivation,
)
from cardservice.application.base import (
    COMMAND_NAMESPACE,
    MAX_ISSUE_ATTEMPTS,
    DateAsISO,
    IdempotencyMismatch,
    ServiceApplication,
    add_years,
    command_uuid,
    end_of_day,
    require_region,
    require_scope,
    retrying,
)
from cardservice.application.bulk import BulkIssuance, BulkOutcome
from cardservice.application.cards import CardLifecycle
from cardservice.application.catalog import CatalogAt, Catalogs
from cardservice.application.facades import CardLedger, CatalogAdmin
from cardservice.application.issuance import Issuance, IssueCardRequest, IssuedCard
from cardservice.application.keys import KID_CACHE_SECONDS, IssuerKeys
from cardservice.application.merchants import Merchants, RegisteredMerchant
from cardservice.application.personal import HolderData
from cardservice.application.sessions import HolderSessions

__all__ = [
    "COMMAND_NAMESPACE",
    "KID_CACHE_SECONDS",
    "MAX_ISSUE_ATTEMPTS",
    "Activation",
    "ActivationGrant",
    "Activations",
    "AdminAccess",
    "BulkIssuance",
    "BulkOutcome",
    "CardLedger",
    "CardLifecycle",
    "CatalogAdmin",
    "CatalogAt",
    "Catalogs",
    "DateAsISO",
    "HolderData",
    "HolderSessions",
    "IdempotencyMismatch",
    "Issuance",
    "IssueCardRequest",
    "IssuedCard",
    "IssuerKeys",
    "Merchants",
    "NewActivation",
    "RegisteredMerchant",
    "ServiceApplication",
    "add_years",
    "command_uuid",
    "end_of_day",
    "require_region",
    "require_scope",
    "retrying",
]

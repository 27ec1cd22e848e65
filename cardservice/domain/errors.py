"""Domain errors. The API maps each to one HTTP status in one place (api/errors.py)."""

from __future__ import annotations


class DomainError(Exception):
    """Base of the errors a command can refuse with; `code` is the machine reason."""

    code = "domain_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(DomainError):
    code = "invalid"


class NotFound(DomainError):
    code = "not_found"


class Forbidden(DomainError):
    code = "forbidden"


class Gone(DomainError):
    """It existed but no longer works: a one-time code already used, expired or replaced."""

    code = "gone"


class Conflict(DomainError):
    """The command does not fit the current state (a second card, a revoked card...)."""

    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class RateLimited(DomainError):
    """Too many of these commands for now; `retry_after` says in how many seconds to retry."""

    code = "rate_limited"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)

"""Domain and protocol errors to HTTP: RFC 9457 problem details (see `cardservice.http`).

Kept as the admin API's name for them; the definitions live in `cardservice.http.problems`
so the merchant API shares them without importing this package.
"""

from __future__ import annotations

from fastapi import FastAPI

from cardservice.http.problems import (
    CODES_BY_STATUS,
    STATUS_BY_ERROR,
    ApiError,
    install_problem_handlers,
    problem_response,
)

error_response = problem_response

__all__ = [
    "CODES_BY_STATUS",
    "STATUS_BY_ERROR",
    "ApiError",
    "error_response",
    "install_error_handlers",
]


def install_error_handlers(app: FastAPI) -> None:
    install_problem_handlers(app)

"""Errors of the credential codec.

Verification code branches on the class only: anything unreadable is `MalformedCredential`
(a verdict, never a crash), a bad holder key from an API body is `InvalidDeviceKey`.
"""

from __future__ import annotations


class CredentialError(Exception):
    """Base class of every error this package raises on purpose."""


class MalformedCredential(CredentialError):
    """The QR text or COSE bytes cannot be read as a PTC1/PTP1 credential."""


class InvalidDeviceKey(CredentialError):
    """A holder device key (JWK or COSE_Key) is not a valid P-256 public key."""


class InvalidClaims(CredentialError, ValueError):
    """Claims that must not be signed: they would not parse back (or not fit the QR)."""

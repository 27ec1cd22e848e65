"""Card credentials: CBOR/COSE encoding, Ed25519 signing, verification and QR rendering.

Pure functions only (no I/O, no application imports), so the issuing side, the stateless
verification service and the offline CLI share one exact reading of the contract (DESIGN §3).
"""

from cardservice.credentials._base45 import b45decode, b45encode
from cardservice.credentials.claims import (
    CATEGORIES,
    CardClaims,
    mask_name,
    validation_problem,
)
from cardservice.credentials.codec import (
    MAX_DECODED_BYTES,
    MAX_TEXT_LENGTH,
    PTC1_PREFIX,
    PTP1_PREFIX,
    ParsedCredential,
    credential_digest,
    encode_ptc1,
    encode_ptp1,
    issue_ptc1,
    parse_card,
    parse_credential,
    sign_card,
    verify_holder_signature,
    verify_issuer_signature,
)
from cardservice.credentials.cose import CoseSign1, parse_sign1, sign1, verify_sign1
from cardservice.credentials.errors import (
    CredentialError,
    InvalidClaims,
    InvalidDeviceKey,
    MalformedCredential,
)
from cardservice.credentials.keys import DeviceKey, fingerprint, kid_for
from cardservice.credentials.qr import qr_version, render_png, render_svg

__all__ = [
    "CATEGORIES",
    "MAX_DECODED_BYTES",
    "MAX_TEXT_LENGTH",
    "PTC1_PREFIX",
    "PTP1_PREFIX",
    "CardClaims",
    "CoseSign1",
    "CredentialError",
    "DeviceKey",
    "InvalidClaims",
    "InvalidDeviceKey",
    "MalformedCredential",
    "ParsedCredential",
    "b45decode",
    "b45encode",
    "credential_digest",
    "encode_ptc1",
    "encode_ptp1",
    "fingerprint",
    "issue_ptc1",
    "kid_for",
    "mask_name",
    "parse_card",
    "parse_credential",
    "parse_sign1",
    "qr_version",
    "render_png",
    "render_svg",
    "sign1",
    "sign_card",
    "validation_problem",
    "verify_holder_signature",
    "verify_issuer_signature",
    "verify_sign1",
]

"""`cardservice verify --bundle FILE --trust KEYS.json QR`: verification with no network.

Exit codes: 0 valid, 1 not valid (the status is printed), 2 bundle refused (bad signature,
unknown or wrong-use signer, expired, unreadable; also an unreadable trust file).

KEYS.json pins the keys: the bundle's signer must be one of its `bundle` keys; the keys the
bundle lists then have the newer word on statuses (and vouch for new keys), and the card's
signer must be a `card` key. The merchant's policy is not in the bundle: a device-binding
merchant passes `--require-device-binding`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cardservice.domain.policy import CLOCK_SKEW_SECONDS, PRESENTATION_WINDOW_SECONDS
from merchant_api.bundle import BundleRefused, open_bundle, pinned_keys, verify_offline
from merchant_api.core import Policy, card_summary

EXIT_VALID, EXIT_NOT_VALID, EXIT_REFUSED = 0, 1, 2


def run(
    bundle_path: Path,
    trust_path: Path,
    qr: str,
    *,
    now: int,
    clock_skew_seconds: int = CLOCK_SKEW_SECONDS,
    presentation_window_seconds: int = PRESENTATION_WINDOW_SECONDS,
    require_device_binding: bool = False,
    out: Callable[[str], None] = print,
) -> int:
    try:
        data = bundle_path.read_bytes()
    except OSError as exc:
        out(f"bundle refused: unreadable ({exc.strerror or exc})")
        return EXIT_REFUSED
    try:
        trusted = pinned_keys(json.loads(trust_path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        out(f"bundle refused: unreadable trust file ({exc})")
        return EXIT_REFUSED
    except BundleRefused as exc:
        out(f"bundle refused: {exc}")
        return EXIT_REFUSED
    try:
        bundle = open_bundle(data, trusted, now)
    except BundleRefused as exc:
        out(f"bundle refused: {exc}")
        return EXIT_REFUSED
    if qr == "-":
        qr = sys.stdin.read()
    policy = Policy(
        clock_skew_seconds=clock_skew_seconds,
        presentation_window_seconds=presentation_window_seconds,
        require_device_binding=require_device_binding,
    )
    status, checked = verify_offline(qr, bundle, now, policy)
    verdict: dict[str, Any] = {
        "valid": status == "valid",
        "status": status,
        "card": card_summary(checked.parsed, status),
        "presentation": checked.presentation,
        "checked_at": datetime.fromtimestamp(now, UTC).isoformat(),
        "bundle": {
            "signer": bundle.signer,
            "merchant_region": bundle.merchant_region,
            "issued_at": datetime.fromtimestamp(bundle.issued_at, UTC).isoformat(),
            "expires": datetime.fromtimestamp(bundle.expires, UTC).isoformat(),
        },
    }
    out(status if status == "valid" else f"not valid: {status}")
    out(json.dumps(verdict, ensure_ascii=False, indent=2))
    return EXIT_VALID if status == "valid" else EXIT_NOT_VALID

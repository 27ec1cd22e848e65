"""Coverage-guided fuzzing of the credential decoder and the verification core (atheris).

    python -m tests.reliability.fuzz_decoder -runs=100000 -seed=1 [CORPUS_DIR]

Every input becomes a QR text (raw text, or bytes behind the PTC1:/PTP1: prefixes in
base45) and goes through `check_credential` with a real issuer key. A crash is any
exception escaping it; an acceptance is any input whose issuer signature verifies but whose
card bytes are not ones this harness signed (or a device presentation it did not make).
Both abort the run with a non-zero exit. Seeds: genuine static, device-bound and
presentation credentials, so mutations start from deep inside the format.
"""

from __future__ import annotations

import contextlib
import sys
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

FUZZING = __name__ == "__main__"
instrumented: Any = contextlib.nullcontext()
if FUZZING:  # coverage feedback from our decoder only, not from every library loaded
    import atheris

    instrumented = atheris.instrument_imports(include=["cardservice", "merchant_api"])

with instrumented:
    from cardservice import credentials
    from cardservice.credentials import CardClaims, DeviceKey
    from cardservice.domain.identity import card_number
    from cardservice.security import b64u
    from merchant_api.core import Policy, TrustedKey, check_credential

ISSUER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
PHONE = ec.derive_private_key(0xF022_5EED, ec.SECP256R1())
RAW = ISSUER.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
KID = b64u(credentials.kid_for(RAW))
KEYS = {KID: TrustedKey(KID, RAW, "active")}
NOW = 1_780_000_000
POLICY = Policy()
MODES = ("text", "PTC1:", "PTP1:")


def claims(n: int, device: DeviceKey | None) -> CardClaims:
    return CardClaims(
        issuer_region="500112",
        issued_at=NOW - 86_400,
        expires_at=NOW + 86_400 * 365,
        card_id=uuid.UUID(int=n + 1),
        card_number=card_number("500112", 2026, n + 1),
        category=credentials.CATEGORIES[n % len(credentials.CATEGORIES)],
        region="500112",
        masked_name="张*明" if n % 2 else "李*",
        version=1 + n,
        status_index=n * 1000,
        device_key=device,
    )


def genuine() -> tuple[list[str], set[bytes], set[tuple[bytes, int]]]:
    """Genuine credentials, the card bytes signed, the (card, t) presentations made."""
    device = DeviceKey.from_public_key(PHONE.public_key())
    texts, cards, presentations = [], set(), set()
    for n in range(4):
        text = credentials.issue_ptc1(claims(n, device if n >= 2 else None), ISSUER)
        card = credentials.parse_credential(text).card_bytes
        texts.append(text)
        cards.add(card)
        if n >= 2:
            t = NOW - 5
            texts.append(credentials.encode_ptp1(card, t, PHONE))
            presentations.add((card, t))
    return texts, cards, presentations


TEXTS, CARDS, PRESENTATIONS = genuine()


class Accepted(AssertionError):
    """The decoder accepted something nobody signed."""


def text_of(data: bytes) -> str:
    if not data:
        return ""
    mode = MODES[data[0] % len(MODES)]
    body = data[1:]
    if mode == "text":
        return body.decode("utf-8", errors="replace")
    return mode + credentials.b45encode(body)


def one_input(data: bytes) -> None:
    checked = check_credential(text_of(data), KEYS, NOW, POLICY)
    parsed = checked.parsed
    signature_verified = checked.status is None or checked.status == "stale_presentation"
    if not signature_verified or parsed is None:
        return
    if parsed.card_bytes not in CARDS:
        raise Accepted(f"unsigned card bytes accepted: {parsed.card_bytes.hex()}")
    if parsed.presentation == "device_bound" and (
        (parsed.card_bytes, parsed.presented_at) not in PRESENTATIONS
    ):
        raise Accepted(f"unmade presentation accepted at t={parsed.presented_at}")


def seed_corpus(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(TEXTS):
        prefix, body = text[:5], text[5:]
        raw = credentials.b45decode(body)
        (folder / f"seed-{i}-b45").write_bytes(bytes([MODES.index(prefix)]) + raw)
        (folder / f"seed-{i}-text").write_bytes(b"\x00" + text.encode())


def main() -> None:
    import atheris

    args = [a for a in sys.argv if not a.startswith("--corpus=")]
    corpus = [a.split("=", 1)[1] for a in sys.argv if a.startswith("--corpus=")]
    if corpus:
        seed_corpus(Path(corpus[0]))
        args.append(corpus[0])
    atheris.Setup(args, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

"""Strict CBOR decoding for untrusted QR content, and canonical encoding.

cbor2 is fast (C) but generous: it ignores trailing bytes in `loads`, turns dozens of tags
into Python objects (datetimes, regexes, shared references that can even build cycles),
accepts indefinite lengths and duplicate keys. Here every built-in tag decoder is replaced
by a refusal, only tag 18 (COSE_Sign1) survives as a `CBORTag`, and the decoded tree is
bounded again in depth and item count before any field is looked at.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import cbor2

from cardservice.credentials.errors import MalformedCredential

COSE_SIGN1_TAG = 18
MAX_DEPTH = 4
"""Deepest legitimate nesting: payload map → cnf map → COSE_Key map (tags count as a level)."""
MAX_ITEMS = 64
"""Array elements plus map keys and values in one decoded item; a card payload has about 40."""

# Every tag cbor2 6.x decodes on its own (measured by probing tags 0..69999 and 2**32, 2**64-1).
_BUILTIN_TAGS = (
    0,
    1,
    2,
    3,
    4,
    5,
    25,
    28,
    29,
    30,
    35,
    36,
    37,
    52,
    54,
    100,
    256,
    258,
    260,
    261,
    1004,
    43000,
    55799,
)


class _TagRefused(Exception):
    pass


def _refuse(*_args: Any) -> Any:
    raise _TagRefused


def _tag_hook(tag: cbor2.CBORTag, _immutable: bool) -> Any:
    if tag.tag == COSE_SIGN1_TAG:
        return tag
    raise _TagRefused


_SEMANTIC_REFUSALS: dict[int, Any] = dict.fromkeys(_BUILTIN_TAGS, _refuse)


def decode(data: bytes, what: str) -> object:
    """Decode exactly one bounded CBOR item that fills `data`; else MalformedCredential."""
    stream = io.BytesIO(data)
    try:
        item = cbor2.CBORDecoder(
            stream,
            tag_hook=_tag_hook,
            semantic_decoders=_SEMANTIC_REFUSALS,
            max_depth=MAX_DEPTH,
            allow_indefinite=False,
            allow_duplicate_keys=False,
        ).decode(immutable=True)
    except Exception as exc:  # the C decoder's error types are not a stable contract
        raise MalformedCredential(f"{what}: not decodable as CBOR") from exc
    if stream.tell() != len(data):
        raise MalformedCredential(f"{what}: trailing bytes after the CBOR item")
    check_bounds(item, what)
    return item


def check_bounds(item: object, what: str) -> None:
    """Walk the decoded tree (iteratively) and refuse it if too deep or too large.

    Dispatches on the exact types cbor2 returns (tuple, frozendict, CBORTag) before falling
    back to the abc checks: abc isinstance on every leaf made this walk cost more than the
    decode itself.
    """
    stack: list[tuple[object, int]] = [(item, 1)]  # leaves are never pushed
    items = 0
    while stack:
        node, depth = stack.pop()
        kind = type(node)
        if kind is tuple or kind is list:
            children: Sequence[object] = node  # type: ignore[assignment]
        elif kind is cbor2.frozendict or kind is dict:
            children = [*node.keys(), *node.values()]  # type: ignore[attr-defined]
        elif kind is cbor2.CBORTag:
            children = (node.value,)  # type: ignore[attr-defined]
        elif isinstance(node, Mapping):
            children = [*node.keys(), *node.values()]
        elif isinstance(node, Sequence) and not isinstance(node, str | bytes):
            children = node
        else:
            continue
        if depth > MAX_DEPTH:
            raise MalformedCredential(f"{what}: nested deeper than {MAX_DEPTH}")
        items += len(children)
        if items > MAX_ITEMS:
            raise MalformedCredential(f"{what}: more than {MAX_ITEMS} items")
        stack.extend([(child, depth + 1) for child in children if type(child) not in _LEAF_TYPES])


_LEAF_TYPES = frozenset({int, str, bytes, bool, float, type(None)})


def encode(obj: object) -> bytes:
    """Canonical CBOR (RFC 7049 §3.9 order), so equal inputs always give equal bytes."""
    return cbor2.dumps(obj, canonical=True)


def head(major: int, length: int) -> bytes:
    """The shortest CBOR head for `major` type and argument `length` (for framing checks)."""
    mt = major << 5
    if length < 24:
        return bytes((mt | length,))
    if length < 0x100:
        return bytes((mt | 24, length))
    if length < 0x10000:
        return bytes((mt | 25,)) + length.to_bytes(2, "big")
    if length < 0x100000000:
        return bytes((mt | 26,)) + length.to_bytes(4, "big")
    return bytes((mt | 27,)) + length.to_bytes(8, "big")

"""OpenAPI that states what the server enforces: examples from one table, shared parameter
schemas by name, and a check that finds every operation still undocumented.

Each app keeps its table of examples on its own state (`add_examples`), keyed by
(METHOD, path template), so documenting a new route is one line in that table; the
post-processing step (`document`) copies them into `/openapi.json`. Parameters are
described by name (`region` is a GB/T 2260 code from the shipped table, `at` a date, ...)
in `PARAMETER_SCHEMAS`, so every route that takes one says the same.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from cardservice.domain import regions as region_table

NO_BODY: Any = object()
"""An operation whose answer has no body (204, 304) or takes no request body."""

BINARY_MEDIA = frozenset({"image/png", "image/jpeg", "application/cose", "application/pdf"})
"""Media types documented as `format: binary`: an example cannot be shown as text."""

REGION_REF = {"$ref": "#/components/schemas/RegionCode"}
REGION_MARK = "x-region-code"
REGION_FIELD = {"type": "string", "pattern": r"^[0-9]{6}$", REGION_MARK: True}
"""What a body model's region field documents; `document` turns it into REGION_REF
(pydantic cannot emit a reference to a component it does not generate)."""
ID_NUMBER_FORMAT = "gb11643-id-number"
CARD_NUMBER_FORMAT = "card-number"
"""18 characters: region, year, sequence and the ISO 7064 MOD 11-2 check character."""
REGION_PATTERN = r"^[0-9]{6}$"
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]([ -~]{0,198}[!-~])?$"
"""1-200 printable ASCII characters without surrounding spaces (the server trims them)."""


@dataclass(frozen=True)
class Example:
    """One operation's request and response example (`NO_BODY` where there is none)."""

    response: Any
    request: Any = NO_BODY
    status: int | None = None  # the documented 2xx (default: the first one)


ExampleTable = Mapping[tuple[str, str], Example]


def add_examples(
    app: FastAPI, table: ExampleTable, parameters: Mapping[str, Mapping[str, Any]] | None = None
) -> None:
    """Register an app's (or a mounted router's) examples, and its routes' own parameter
    rules ("path name" or "name" → schema), on that app's own state."""
    known: dict[tuple[str, str], Example] = getattr(app.state, "openapi_examples", {})
    app.state.openapi_examples = {**known, **table}
    rules: dict[str, Mapping[str, Any]] = getattr(app.state, "openapi_parameters", {})
    app.state.openapi_parameters = {**rules, **(parameters or {})}


def region_schema() -> dict[str, Any]:
    """Every code of the shipped GB/T 2260 table: a well-formed code missing from it is 422."""
    codes = sorted(region_table.regions())
    return {
        "title": "RegionCode",
        "type": "string",
        "pattern": REGION_PATTERN,
        "enum": codes,
        "description": "A 6-digit GB/T 2260 administrative division code from the shipped "
        "table (000000 national, 500000 Chongqing, 500112 Yubei District).",
        "example": "500112",
    }


UUID_SCHEMA = {"type": "string", "format": "uuid"}
DATE_SCHEMA = {"type": "string", "format": "date", "description": "YYYY-MM-DD, Asia/Shanghai"}
INSTANT_SCHEMA = {
    "type": "string",
    "format": "date-time",
    "description": "RFC 3339 timestamp (without an offset: Asia/Shanghai)",
}

PARAMETER_SCHEMAS: dict[str, dict[str, Any]] = {
    "region": REGION_REF,
    "at": DATE_SCHEMA,
    "from": DATE_SCHEMA,
    "to": DATE_SCHEMA,
    "as_of": INSTANT_SCHEMA,
    "since": INSTANT_SCHEMA,
    "until": INSTANT_SCHEMA,
    "card_id": UUID_SCHEMA,
    "card": UUID_SCHEMA,
    "merchant_id": UUID_SCHEMA,
    "token_id": UUID_SCHEMA,
    "appeal_id": UUID_SCHEMA,
    "import_id": UUID_SCHEMA,
    "Idempotency-Key": {
        "type": "string",
        "pattern": IDEMPOTENCY_KEY_PATTERN,
        "description": "Replays within 24 h answer the first 2xx again; scope: caller, "
        "method and path. The same key with another body is 422 `idempotency_mismatch`.",
    },
}
"""A parameter's schema by name, for every route that takes it (query, path or header)."""


def document(
    schema: dict[str, Any],
    examples: ExampleTable,
    parameters: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Add examples, shared parameter schemas and the RegionCode component to `schema`.

    `parameters`: extra schemas by name or by "path name" (a route's own rule, such as
    its page limit), consulted before `PARAMETER_SCHEMAS`."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["RegionCode"] = region_schema()
    _link_regions(schema)
    own = parameters or {}
    for path, method, operation in operations(schema):
        for param in operation.get("parameters", []):
            name = param.get("name", "")
            rule = own.get(f"{path} {name}") or own.get(name) or PARAMETER_SCHEMAS.get(name)
            if rule is not None:
                param["schema"] = dict(rule)
        example = examples.get((method.upper(), path))
        if example is not None:
            _apply(operation, example)
    return schema


def _link_regions(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if isinstance(value, dict) and value.get(REGION_MARK):
                node[key] = dict(REGION_REF)
            else:
                _link_regions(value)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, dict) and value.get(REGION_MARK):
                node[index] = dict(REGION_REF)
            else:
                _link_regions(value)


def _apply(operation: dict[str, Any], example: Example) -> None:
    if example.request is not NO_BODY and "requestBody" in operation:
        for media in operation["requestBody"].get("content", {}).values():
            media["example"] = example.request
    status = str(example.status) if example.status is not None else _success(operation)
    answer = operation.get("responses", {}).get(status)
    if answer is None:
        return
    if example.response is NO_BODY:
        answer.pop("content", None)
        return
    for media_type, media in answer.setdefault("content", {}).items():
        if media_type in BINARY_MEDIA:
            media["schema"] = {"type": "string", "format": "binary"}
        else:
            media["example"] = example.response


def _success(operation: dict[str, Any]) -> str:
    codes = sorted(code for code in operation.get("responses", {}) if code.startswith("2"))
    return codes[0] if codes else "200"


def operations(schema: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield path, method, operation


def undocumented(schema: Mapping[str, Any], models_required: tuple[str, ...] = ()) -> list[str]:
    """What each operation still lacks: a request example (when it takes a body), a response
    example on its 2xx, and, under the `models_required` prefixes, a response schema.

    The coverage test asserts this is empty, so a route added without them fails it."""
    missing = []
    for path, method, operation in operations(schema):
        name = f"{method.upper()} {path}"
        for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
            shown = "example" in media or "examples" in media
            if not shown and not _is_binary(media):  # bytes cannot be shown as text
                missing.append(f"{name}: request example ({media_type})")
        answer = operation.get("responses", {}).get(_success(operation), {})
        content = answer.get("content")
        if content is None and _success(operation) not in ("204", "304"):
            missing.append(f"{name}: response example (no content documented)")
        for media_type, media in (content or {}).items():
            shown = "example" in media or "examples" in media
            if not shown and not (media_type in BINARY_MEDIA or _is_binary(media)):
                missing.append(f"{name}: response example ({media_type})")
            json = media_type == "application/json"
            if (
                json
                and path.startswith(models_required)
                and not _has_model(media.get("schema", {}))
            ):
                missing.append(f"{name}: response model")
    return missing


def _is_binary(media: Mapping[str, Any]) -> bool:
    return bool(media.get("schema", {}).get("format") == "binary")


def _has_model(schema: Mapping[str, Any]) -> bool:
    return "$ref" in schema or bool(schema.get("properties"))

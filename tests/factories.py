"""Valid test inputs: real-format resident ID numbers and card bodies."""

from __future__ import annotations

from typing import Any

from cardservice.domain.identity import mod11_2_check


def id_number(seq: int, region: str = "500112", born: str = "19600101") -> str:
    body = f"{region}{born}{seq % 1000:03d}"
    return body + mod11_2_check(body)


def card_body(
    seq: int = 1,
    *,
    name: str = "张三明",
    category: str = "veteran",
    region: str = "500112",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "holder": {"name": name, "id_number": id_number(seq), "category": category},
        "region": region,
    }
    body.update(extra)
    return body

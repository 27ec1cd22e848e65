"""Imports over HTTP on both engines: every reject saved once, in file order, whichever
step refused it; progress observed while an import runs."""

from __future__ import annotations

from typing import Any

from tests.e2e.test_console_http import HEADER, post_csv, wait_done
from tests.e2e.test_console_search import mint, views
from tests.factories import id_number

Headers = dict[str, str]
__all__ = ["views"]


def test_each_reject_is_saved_once_in_file_order(client: Any, admin_headers: Headers) -> None:
    """A row outside the subtree is refused when its batch is issued, bad ID numbers as
    they are read: 500 of those first fill a progress record before the batch is issued."""
    issuer = mint(client, admin_headers, "issuer", "500000")
    rows = [f"王五,{id_number(3)},veteran,110101"]
    rows += [f"坏行,12{n:04d},veteran,500112" for n in range(500)]
    resp = post_csv(client, issuer, HEADER + "\n".join(rows) + "\n")
    import_id = resp.json()["import_id"]
    state = wait_done(client, issuer, import_id)
    assert (state["status"], state["total"], state["rejected"]) == ("done", 501, 501)
    text = client.get(f"/v1/admin/imports/{import_id}/rejects.csv", headers=issuer).text
    lines = [row.split(",")[-2] for row in text.strip().split("\n")[1:]]
    assert lines == [str(n) for n in range(2, 503)]
    assert text.split("\n")[1].startswith(f"王五,{id_number(3)},veteran,110101,2,")

"""Imports over HTTP on both engines: every reject saved once, in file order, whichever
step refused it; progress observed while an import runs."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

from cardservice.domain.imports import Import
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


def test_progress_while_running(client: Any, admin_headers: Headers) -> None:
    """Progress is recorded every 500 rows: a file of three batches is seen `running`
    with counts between none and all, then `done` with all."""
    rows = [
        f"张三明,{id_number(n % 1000, born=f'19{60 + n // 1000}0101')},veteran,500112"
        for n in range(1500)
    ]
    resp = post_csv(client, admin_headers, HEADER + "\n".join(rows) + "\n")
    import_id = resp.json()["import_id"]
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while (not seen or seen[-1]["status"] == "running") and time.monotonic() < deadline:
        seen.append(client.get(f"/v1/admin/imports/{import_id}", headers=admin_headers).json())
    partial = [s for s in seen if s["status"] == "running" and 0 < s["imported"] < s["total"]]
    assert partial, seen
    assert all(s["imported"] % 500 == 0 for s in partial)
    assert (seen[-1]["status"], seen[-1]["imported"], seen[-1]["total"]) == ("done", 1500, 1500)


def test_an_interrupted_import_is_answered_failed(
    client: Any, services: Any, clock: Any, admin_headers: Headers
) -> None:
    """A process that stopped mid-import leaves only its `Started` event: the import is
    `running` while it could still be alive, then `failed` (interrupted) with its counts;
    the file sent again issues every row."""
    header = HEADER.strip().split(",")
    job = Import(
        import_id=uuid.uuid4(),
        actor={"kind": "admin", "id": "x", "role": "admin", "region": "000000"},
        at=clock.now(),
        total=2,
        header=header,
        file_digest="0" * 64,
        command_id="",
    )
    services.ledger.save(job)
    url = f"/v1/admin/imports/{job.id}"
    clock.advance(timedelta(minutes=5))
    assert client.get(url, headers=admin_headers).json()["status"] == "running"
    clock.advance(timedelta(seconds=1))
    state = client.get(url, headers=admin_headers).json()
    assert (state["status"], state["imported"], state["total"]) == ("failed", 0, 2)
    assert "interrupted" in state["reason"]
    rows = [f"张三明,{id_number(n)},veteran,500112" for n in range(2)]
    again = post_csv(client, admin_headers, HEADER + "\n".join(rows) + "\n")
    done = wait_done(client, admin_headers, again.json()["import_id"])
    assert (done["status"], done["imported"]) == ("done", 2)

"""JSON logs of a real `cardservice serve`: request ids, access lines, and not one secret.

A full flow (issue with a name, ID number and phone, activate, bind nothing, verify, a
photo uploaded and fetched through the verdict's link, hostile requests carrying the
secrets in headers, bodies and query strings) runs with `CARDSERVICE_LOG_FORMAT=json`;
the whole log is then searched for every secret it used, and for the photo's bytes raw
and base64.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from cardservice.logs import JsonFormatter, RequestIdFilter, request_id_var
from tests.conftest import ADMIN_TOKEN, make_settings
from tests.factories import card_body, id_number
from tests.reliability.test_processes import CLI, free_port, wait_http
from tests.reliability.test_worker_crash import process_env

pytestmark = pytest.mark.slow

NAME = "欧阳建国"
ID_NUMBER = id_number(417, born="19580317").replace("X", "x")
PHONE = "13912345678"
SECRET = "log-test-master-secret-7f3a9c"
ACCESS_KEYS = ("ts", "level", "msg", "request_id", "method", "path", "status", "duration_ms")


def lines_of(log: Path) -> list[dict[str, Any]]:
    entries = []
    for line in log.read_text(encoding="utf-8").splitlines():
        if line.strip():
            entries.append(json.loads(line))  # every line is one JSON object
    return entries


def test_json_logs_carry_request_ids_and_no_secret(tmp_path: Path) -> None:
    settings, _ = make_settings("sqlite", tmp_path, secret=SECRET)
    env = {
        **process_env(settings),
        "CARDSERVICE_ADMIN_TOKEN": ADMIN_TOKEN,
        "CARDSERVICE_LOG_FORMAT": "json",
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    stdout = tmp_path / "serve.out"
    with log.open("wb") as err, stdout.open("wb") as out:
        args = [*CLI, "serve", "--port", str(port)]
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=err)
    try:
        wait_http(url + "/healthz", proc, log)
        secrets, photo = run_flow(url)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    entries = lines_of(log)
    text = log.read_text(encoding="utf-8")
    for label, value in secrets.items():
        assert value not in text, f"{label} reached the log"
        assert value.upper() not in text and value.lower() not in text, label
    assert SECRET not in text and ADMIN_TOKEN not in text
    raw = log.read_bytes() + stdout.read_bytes()
    for form in photo_forms(photo):
        assert form not in raw, f"the photo reached the log ({form[:12]!r}…)"

    access = [e for e in entries if e.get("logger") == "cardservice.access"]
    assert len(access) >= 8
    for entry in access:
        assert set(ACCESS_KEYS) <= set(entry)
        assert entry["ts"].endswith("+00:00") and entry["level"] == "info"
        assert "?" not in entry["path"]
        assert isinstance(entry["status"], int) and entry["duration_ms"] >= 0
    verifies = [e for e in access if e["request_id"] == "flow-verify-1"]
    assert ("POST", "/v1/verify", 200) in {(e["method"], e["path"], e["status"]) for e in verifies}
    statuses = {e["status"] for e in access}
    assert {200, 201, 401, 422} <= statuses
    # A hostile id was replaced by a fresh one, never written as sent.
    assert "evil" not in text
    assert all(e["request_id"] for e in access)


def photo_forms(photo: bytes) -> list[bytes]:
    """The photo as a log could carry it: raw, base64 (standard, URL-safe, a slice from the
    middle, so a truncated line is caught too) and hex."""
    b64 = base64.b64encode(photo)
    middle = len(b64) // 2
    return [
        photo,
        b64,
        base64.urlsafe_b64encode(photo).rstrip(b"="),
        b64[middle : middle + 48],
        photo.hex().encode(),
    ]


def noisy_png() -> bytes:
    """A small PNG of random pixels: its bytes occur nowhere by chance."""
    out = io.BytesIO()
    Image.frombytes("RGB", (24, 24), os.urandom(24 * 24 * 3)).save(out, "PNG")
    return out.getvalue()


def run_flow(url: str) -> tuple[dict[str, str], bytes]:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}", "X-Request-ID": "flow-issue-1"}
    body = card_body(name=NAME)
    body["holder"]["id_number"] = ID_NUMBER
    body["holder"]["phone"] = PHONE
    with httpx.Client(base_url=url, timeout=10) as http:
        resp = http.post("/v1/admin/cards", json=body, headers=admin)
        assert resp.status_code == 201, resp.text
        assert resp.headers["x-request-id"] == "flow-issue-1"
        card = resp.json()
        dup = http.post("/v1/admin/cards", json=body, headers=admin)  # 409, echoes nothing
        assert dup.status_code == 409
        bad = dict(body, holder={**body["holder"], "id_number": ID_NUMBER[:-1] + "Q"})
        assert http.post("/v1/admin/cards", json=bad, headers=admin).status_code == 422
        activated = http.post("/v1/activate", json={"code": card["activation_code"]})
        assert activated.status_code == 200, activated.text
        made = activated.headers["x-request-id"]
        assert made and made != "flow-issue-1"
        holder_token = activated.json()["holder_token"]
        holder = {"Authorization": f"Bearer {holder_token}"}
        assert http.get(f"/v1/cards/{card['card_id']}", headers=holder).status_code == 200
        assert http.get(f"/v1/cards/{card['card_id']}/qr.png", headers=holder).status_code == 200
        merchant = http.post(
            "/v1/admin/merchants",
            json={"name": "老兵饭店", "region": "500112", "kind": "merchant", "categories": []},
            headers=admin,
        ).json()
        key = {"Authorization": f"Bearer {merchant['api_key']}", "X-Request-ID": "flow-verify-1"}
        deadline = time.monotonic() + 30
        while True:
            resp = http.post("/v1/verify", json={"qr": card["qr"]}, headers=key)
            if resp.status_code == 200 and resp.json()["status"] == "valid":
                break
            assert time.monotonic() < deadline, resp.text
            time.sleep(0.05)
        photo = upload_and_fetch_photo(http, card["card_id"], card["qr"], admin, key)
        # Secrets in places a careless logger would copy: query strings, wrong headers, bodies.
        http.get(f"/v1/verifications?cursor={holder_token}&limit=5", headers=key)
        wrong = {"Authorization": f"Bearer {merchant['api_key']}x"}
        wrong["X-Request-ID"] = 'evil" {"a": 1}'
        assert http.post("/v1/verify", json={"qr": card["qr"]}, headers=wrong).status_code == 401
        assert http.post("/v1/activate", json={"code": card["activation_code"]}).status_code in (
            401, 404, 410, 429,
        )  # fmt: skip
        http.get(f"/v1/cards/{card['card_id']}?name={NAME}&id={ID_NUMBER}", headers=holder)
        http.post("/v1/verify", content=f"qr={card['qr']}&n={NAME}", headers=key)
    return {
        "name": NAME,
        "id_number": ID_NUMBER,
        "phone": PHONE,
        "holder_token": holder_token,
        "activation_code": card["activation_code"],
        "merchant_key": merchant["api_key"],
        "qr": card["qr"],
        "qr_payload": card["qr"][5:40],
    }, photo


def upload_and_fetch_photo(
    http: httpx.Client, card_id: str, qr: str, admin: dict[str, str], key: dict[str, str]
) -> bytes:
    """The bureau uploads a photo (and one refused for its type), the merchant fetches it
    through a valid verdict's link."""
    photo = noisy_png()
    path = f"/v1/admin/cards/{card_id}/photo"
    refused = http.put(path, content=photo, headers={**admin, "Content-Type": "image/gif"})
    assert refused.status_code == 415
    done = http.put(path, content=photo, headers={**admin, "Content-Type": "image/png"})
    assert done.status_code == 204, done.text
    deadline = time.monotonic() + 30
    while True:
        verdict = http.post("/v1/verify", json={"qr": qr}, headers=key).json()
        if verdict.get("photo_url"):
            break
        assert time.monotonic() < deadline, verdict
        time.sleep(0.05)
    got = http.get(verdict["photo_url"], headers=key)
    assert got.status_code == 200 and got.content == photo
    return photo


def test_formatter_fields_and_request_id_outside_requests() -> None:
    record = logging.makeLogRecord(
        {"name": "x", "levelno": logging.WARNING, "levelname": "WARNING", "msg": "a %s",
         "args": ("b",), "path": "/v1/verify", "status": 200}
    )  # fmt: skip
    RequestIdFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["msg"] == "a b" and entry["level"] == "warning"
    assert entry["request_id"] is None and entry["status"] == 200
    token = request_id_var.set("r-1")
    try:
        inside = logging.makeLogRecord({"msg": "m"})
        RequestIdFilter().filter(inside)
        assert json.loads(JsonFormatter().format(inside))["request_id"] == "r-1"
    finally:
        request_id_var.reset(token)

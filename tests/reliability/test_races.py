"""Concurrent commands on one card: one linear history, a final state that matches it, no 5xx."""

from __future__ import annotations

import random
import threading
from typing import Any

from tests.factories import card_body


def test_fifty_concurrent_status_commands_on_one_card(
    client: Any, admin_headers: dict[str, str]
) -> None:
    card = client.post("/v1/admin/cards", json=card_body(), headers=admin_headers).json()
    url = f"/v1/admin/cards/{card['card_id']}"
    actions = ["suspend", "reinstate"] * 24 + ["revoke", "revoke"]
    random.Random(7).shuffle(actions)
    statuses: list[tuple[str, int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(actions))

    def send(action: str) -> None:
        barrier.wait()
        resp = client.post(f"{url}/{action}", json={"reason": "race"}, headers=admin_headers)
        with lock:
            statuses.append((action, resp.status_code))

    threads = [threading.Thread(target=send, args=(a,)) for a in actions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert all(code in (200, 409) for _, code in statuses), statuses
    history = client.get(url, headers=admin_headers).json()["history"]
    # Replay the history by the life-cycle rules: every step must have been allowed.
    state = "active"
    allowed = {
        ("active", "Suspended"): "suspended",
        ("suspended", "Reinstated"): "active",
        ("active", "Revoked"): "revoked",
        ("suspended", "Revoked"): "revoked",
    }
    assert history[0]["type"] == "Issued"
    versions = [h["version"] for h in history]
    assert versions == list(range(1, len(history) + 1))
    # Issuance also records the activation code (not a status change).
    steps = [h for h in history[1:] if h["type"] != "ActivationCodeIssued"]
    for step in steps:
        state = allowed[(state, step["type"])]
    final = client.get(url, headers=admin_headers).json()["status"]
    assert final == state
    accepted = sum(1 for _, code in statuses if code == 200)
    assert accepted == len(steps)

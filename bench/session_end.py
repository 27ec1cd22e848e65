"""How soon a lost phone's holder token is refused on the merchant API's holder log after the
card is activated on a new phone (contract goal: within 1 s). The write side refuses it at
once; the read side follows the holder-session view, so this measures the view's lag.

    python -m bench.session_end [--backend sqlite|postgres] [--cards 20] [--poll 0.05]

`--poll` is the projection runner's poll interval (the default setting is 0.05 s).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from bench.cluster import ADMIN_TOKEN, pg_schema, pg_settings
from bench.issuance import id_number
from cardservice.bootstrap.serve import served_app
from cardservice.bootstrap.write import WriteSide
from cardservice.settings import Settings
from projections.service import ProjectionService

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def measure(client: TestClient, seq: int) -> float:
    body = {
        "holder": {"name": "张三明", "id_number": id_number(seq), "category": "veteran"},
        "region": "500112",
    }
    card = client.post("/v1/admin/cards", json=body, headers=ADMIN).json()
    lost = client.post("/v1/activate", json={"code": card["activation_code"]}).json()
    log = f"/v1/cards/{card['card_id']}/verifications"
    old = {"Authorization": f"Bearer {lost['holder_token']}"}
    while client.get(log, headers=old).status_code != 200:  # the first phone, seen
        time.sleep(0.002)
    url = f"/v1/admin/cards/{card['card_id']}/activation"
    code = client.post(url, json={"reason": "lost phone"}, headers=ADMIN).json()
    started = time.monotonic()
    assert client.post("/v1/activate", json={"code": code["activation_code"]}).status_code == 200
    while client.get(log, headers=old).status_code != 401:
        time.sleep(0.002)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--cards", type=int, default=20)
    parser.add_argument("--poll", type=float, default=0.05)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend == "postgres":
            with pg_schema() as schema:
                run(pg_settings(schema, Path(tmp), projection_poll_seconds=args.poll), args)
        else:
            settings = Settings(
                database_url=None,
                data_dir=Path(tmp),
                admin_token=ADMIN_TOKEN,
                secret="bench-secret",
                projection_poll_seconds=args.poll,
            )
            run(settings, args)


def run(settings: Settings, args: argparse.Namespace) -> None:
    svc = WriteSide.build(settings)
    projections = ProjectionService(svc.sources())
    projections.start()
    try:
        app = served_app(svc, run_projections=False, own=False)
        with TestClient(app) as client:
            lags = sorted(measure(client, n) for n in range(args.cards))
    finally:
        projections.stop()
        svc.close()
    print(
        f"{args.backend}: lost phone refused on the holder log after re-activation, "
        f"n={len(lags)} poll={args.poll}s median={statistics.median(lags) * 1000:.0f} ms "
        f"max={lags[-1] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()

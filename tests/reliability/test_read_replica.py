"""The merchant API reads its views from a real PostgreSQL hot standby.

The test builds its own primary and a streaming standby (initdb, pg_basebackup) in a
temporary folder on free ports, as the postgres user (CI runs as root), and stops them
afterwards. The write side and its projections run on the primary; a merchant API replica,
given `DATABASE_URL` (the primary, for its own writes) and `CARDSERVICE_READ_DATABASE_URL`
(the standby) and nothing secret, verifies. The time from a revocation on the write side to
the verdict `revoked` through the standby is measured: the goal is p99 under a second.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from cardservice.application import IssueCardRequest
from cardservice.bootstrap.serve import add_background
from cardservice.bootstrap.write import WriteSide
from cardservice.clock import SystemClock
from cardservice.settings import Settings
from tests.factories import id_number
from tests.integration.test_projections import NATIONAL
from tests.reliability.support import free_port
from tests.reliability.test_processes import Procs, poll_status, wait_http

pytestmark = pytest.mark.slow

REVOCATIONS = 20


def pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if found:
        return str(found[-1])
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (PostgreSQL server binaries)")
    return path


def as_postgres(args: list[str], **kw: object) -> subprocess.CompletedProcess[bytes]:
    """Run a server binary as the postgres user when we are root (initdb refuses root)."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    done = subprocess.run(args, capture_output=True, timeout=120, check=False, **kw)  # type: ignore[call-overload]
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return done  # type: ignore[no-any-return]


class Cluster:
    def __init__(self, data: Path, port: int) -> None:
        self.data, self.port = data, port

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        log = self.data.parent / f"{self.data.name}.log"
        as_postgres([pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(log), "-w", "start"])

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            as_postgres([pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"])


def configure(data: Path, port: int, sockets: Path) -> None:
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"\nport = {port}\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{sockets}'\nmax_connections = 60\n"
            "wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\n"
            "fsync = off\n"
        )


@pytest.fixture
def primary_and_standby() -> Iterator[tuple[Cluster, Cluster]]:
    # Not under pytest's own folder: the postgres user cannot enter root's.
    with tempfile.TemporaryDirectory(prefix="cardservice-standby-") as folder:
        base = Path(folder)
        if os.geteuid() == 0:
            shutil.chown(base, "postgres", "postgres")
        yield from _clusters(base)


def _clusters(base: Path) -> Iterator[tuple[Cluster, Cluster]]:
    primary = Cluster(base / "primary", free_port())
    standby = Cluster(base / "standby", free_port())
    as_postgres([pg_bin("initdb"), "-D", str(primary.data), "-U", "postgres", "--auth=trust"])
    configure(primary.data, primary.port, base)
    primary.start()
    try:
        as_postgres(
            [
                pg_bin("pg_basebackup"),
                *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
                *("-D", str(standby.data), "-R", "-X", "stream"),
            ]
        )
        with (standby.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {standby.port}\n")
        standby.start()
        try:
            yield primary, standby
        finally:
            standby.stop()
    finally:
        primary.stop()


def replica_env(data_dir: Path, primary: Cluster, standby: Cluster) -> dict[str, str]:
    """What a merchant API replica is given: two URLs, no secret."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDSERVICE_")}
    env.pop("DATABASE_URL", None)
    env.update(
        {
            "DATABASE_URL": primary.url,
            "CARDSERVICE_READ_DATABASE_URL": standby.url,
            "CARDSERVICE_DATA_DIR": str(data_dir),
            "CARDSERVICE_POOL_SIZE": "4",
            "CARDSERVICE_MERCHANT_RATE": "0",
        }
    )
    return env


def test_revocations_reach_the_verdict_through_a_hot_standby(
    tmp_path: Path, primary_and_standby: tuple[Cluster, Cluster]
) -> None:
    primary, standby = primary_and_standby
    settings = Settings(
        database_url=primary.url,
        data_dir=tmp_path / "write",
        secret="standby-test-secret",
        projection_poll_seconds=0.01,
        pool_size=4,
    )
    write = WriteSide.build(settings, SystemClock())
    add_background(write)
    procs = Procs(tmp_path)
    try:
        write.lifecycle.start()
        merchant = write.catalog.register_merchant(
            name="景区",
            region="500112",
            kind="scenic_site",
            categories=[],
            a_level=4,
            require_device_binding=False,
            actor=NATIONAL,
        )
        assert merchant.api_key is not None
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = procs.start(
            "replica",
            [
                *(sys.executable, "-m", "uvicorn", "merchant_api.app:create_app", "--factory"),
                *("--port", str(port), "--log-level", "warning"),
            ],
            replica_env(tmp_path / "replica", primary, standby),
        )
        wait_http(url + "/livez", proc, procs.log(proc))
        cards = [
            write.ledger.issue_card(
                IssueCardRequest(
                    name="赵六", id_number=id_number(seq), category="veteran", region="500112"
                ),
                NATIONAL,
            ).card
            for seq in range(1, REVOCATIONS + 1)
        ]
        qrs = [write.ledger.credential_for(card) for card in cards]
        for qr in qrs:
            poll_status(url, merchant.api_key, qr, "valid")

        delays = []
        for card, qr in zip(cards, qrs, strict=True):
            revoked_at = time.monotonic()
            write.ledger.change_status(card.id, "revoke", "standby test", NATIONAL)
            poll_status(url, merchant.api_key, qr, "revoked", timeout=10)
            delays.append(time.monotonic() - revoked_at)

        # The replica really read the standby: it is in recovery, and it holds the views.
        with psycopg.connect(standby.url, autocommit=True) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            assert row is not None and row[0] is True
        # Its own writes went to the primary (a standby refuses every write); the log is
        # written in batches, so it may take a moment.
        deadline = time.monotonic() + 10
        with psycopg.connect(primary.url, autocommit=True) as conn:
            while True:
                logged = conn.execute("SELECT COUNT(*) FROM verification_log").fetchone()
                if logged is not None and logged[0] >= 2 * REVOCATIONS:
                    break
                assert time.monotonic() < deadline, logged
                time.sleep(0.1)
        assert httpx.get(url + "/readyz").json()["status"] in ("ok", "degraded")

        delays.sort()
        p99 = delays[min(len(delays) - 1, int(0.99 * len(delays)))]
        print(
            f"\nrevocation → verdict through the standby: median "
            f"{statistics.median(delays) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms "
            f"({len(delays)} revocations)"
        )
        assert p99 <= 1.0, delays
        assert proc.poll() is None, procs.log(proc).read_text()[-3000:]
    finally:
        procs.stop()
        write.close()

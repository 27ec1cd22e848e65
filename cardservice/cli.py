"""The `cardservice` command line: serve, worker, migrate, demo, import, verify, keys, holders,
projections.

Each command is a thin shell over the service layer; failures print one clear line and
exit non-zero, never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table

from cardservice.domain.actors import Actor
from cardservice.domain.errors import DomainError
from cardservice.projections_cli import projections_app

app = typer.Typer(
    help="Electronic preferential-treatment card service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
keys_app = typer.Typer(help="Issuer signing keys.", no_args_is_help=True)
holders_app = typer.Typer(help="Holders' personal data.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(holders_app, name="holders")
app.add_typer(projections_app, name="projections")

# soft_wrap: ids, links and keys must stay on one line so they can be copied whole.
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])

CLI_ACTOR = Actor(kind="admin", id="cli", role="admin", region="000000")


def clean_errors(fn: F) -> F:
    """Domain refusals and bad configuration become one line on stderr and exit 1."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            err.print(f"[red]refused:[/red] {exc.detail}")
            raise typer.Exit(1) from None
        except (OSError, RuntimeError, ValueError) as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def build_services() -> Any:
    from cardservice.bootstrap.write import WriteSide

    return WriteSide.build()


@app.command()
@clean_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[bool, typer.Option(help="Run the projections in this process.")] = True,
) -> None:
    """Serve everything (admin, holder, merchant API, pages) in one process."""
    import uvicorn

    from cardservice.bootstrap.serve import served_app
    from cardservice.logs import configure_logging

    svc = build_services()
    configure_logging(svc.settings.log_format)
    application = served_app(svc, run_projections=workers)
    console.print(f"cardservice listening on http://{host}:{port}  (docs: /docs)")
    # Access lines come from RequestLogMiddleware (request id, no query string), so
    # uvicorn's own access log stays off; its other loggers go to the same handler.
    proxies = svc.settings.forwarded_allow_ips.strip()  # explicit: uvicorn trusts loopback
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_config=None,
        log_level="info",
        access_log=False,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies,
    )


@app.command()
@clean_errors
def migrate(
    show_status: Annotated[
        bool, typer.Option("--status", help="List applied and pending migrations; change nothing.")
    ] = False,
    reader_role: Annotated[
        str | None,
        typer.Option(
            help="PostgreSQL: create (if missing) and grant the merchant API's least-privilege "
            "role NAME, after migrating. Re-running is harmless.",
            metavar="NAME",
        ),
    ] = None,
) -> None:
    """Create or upgrade every table (event store and the project's own) to this version."""
    from cardservice import migrations
    from cardservice.settings import Settings
    from cardservice.storage import Database

    db = Database(Settings())
    try:
        if show_status:
            found = migrations.status(db)
            for version, (name, applied_at) in sorted(found.applied.items()):
                console.print(f"{version:>4}  {name:<24} applied {applied_at}")
            for pending in found.pending:
                console.print(f"{pending.version:>4}  {pending.name:<24} pending")
            return
        done = migrations.migrate(db)
        if done:
            for applied in done:
                console.print(f"applied {applied.version} {applied.name}")
        else:
            console.print(f"up to date (version {migrations.status(db).current})")
        if reader_role is not None:
            from cardservice.reader_role import grant_reader_role

            grant_reader_role(db, reader_role)
            console.print(f"reader role {reader_role}: grants applied")
    finally:
        db.close()


@keys_app.command("list")
@clean_errors
def keys_list() -> None:
    """List issuer keys and their states."""
    from cardservice.api import presenters

    svc = build_services()
    from cardservice.credentials import fingerprint
    from cardservice.security import b64u_decode

    table = Table("kid", "use", "status", "not_after", "fingerprint")
    for key in presenters.public_keys(svc.ledger.keyring()):
        shown = fingerprint(b64u_decode(key["x"]))
        table.add_row(key["kid"], key["use"], key["status"], key["not_after"] or "", shown)
    console.print(table)


@keys_app.command("rotate")
@clean_errors
def keys_rotate(
    use: Annotated[
        str, typer.Option(help="card (signs cards) or bundle (signs offline bundles).")
    ] = "card",
) -> None:
    """Activate a new issuer key of a use; the old one of that use retires but verifies."""
    svc = build_services()
    svc.ledger.keyring()
    kid = svc.ledger.rotate_key(CLI_ACTOR, use)
    console.print(f"new active {use} key: {kid}")


@keys_app.command("compromise")
@clean_errors
def keys_compromise(
    kid: str,
    reason: Annotated[str, typer.Option(help="Why the key is compromised.")] = "compromised",
) -> None:
    """Mark a key compromised: everything it signed verifies as key_compromised."""
    svc = build_services()
    svc.ledger.compromise_key(kid, reason, CLI_ACTOR)
    console.print(f"key {kid} marked compromised; active card key: {svc.ledger.active_kid()}")


@holders_app.command("erase")
@clean_errors
def holders_erase(
    holder_id: str,
    reason: Annotated[
        str, typer.Option(help="Why (e.g. the request reference).")
    ] = "erasure request",
) -> None:
    """Destroy a holder's data key (crypto-shredding) and revoke their cards."""
    try:
        parsed = UUID(holder_id)
    except ValueError:
        err.print(f"[red]error:[/red] not a holder id: {holder_id}")
        raise typer.Exit(1) from None
    svc = build_services()
    revoked = svc.ledger.erase_holder(parsed, reason, CLI_ACTOR)
    console.print(f"holder {holder_id} erased; cards revoked: {len(revoked)}")


@holders_app.command("reindex")
@clean_errors
def holders_reindex() -> None:
    """Record the console's search hashes of every holder not erased (holders issued
    before search existed); run it once the projections caught up."""
    svc = build_services()
    console.print(f"search hashes recorded: {svc.ledger.reindex_all()}")


@app.command()
@clean_errors
def demo(
    base_url: Annotated[str, typer.Option(help="Where the service will be reachable.")] = (
        "http://127.0.0.1:8000"
    ),
) -> None:
    """Seed demo data (idempotent) and print how to open each page."""
    from cardservice.demo import seed

    svc = build_services()
    result = seed(svc)
    console.print(
        "[bold]Demo data ready[/bold] (catalog versions: "
        + ", ".join(f"{r}: v{v}" for r, v in result.catalog_versions.items())
        + ")"
    )
    verifications, redemptions = result.usage
    console.print(
        f"Usage history written by this run: {verifications} verifications, "
        f"{redemptions} redemptions"
    )
    console.print("Cards (card_id  card number  holder  category  region):")
    for card in result.cards:
        console.print(
            f"  {card['card_id']}  {card['card_number']}  {card['masked_name']}  "
            f"{card['category']}  {card['region']}"
        )
    console.print("Holder activation links (one-time, 7 days; open on a phone, or type the code):")
    for card in result.cards:
        console.print(f"  {base_url}{card['activation_url']}  {card['activation_code']}")
    if result.first_run:
        console.print("Merchant API keys (shown once; stored hashed):")
        for merchant in result.merchants:
            console.print(f"  {merchant['name']} ({merchant['region']}): {merchant['api_key']}")
        if result.admin_token:
            console.print(f"National admin token (shown once): {result.admin_token}")
    else:
        console.print("Merchant keys and the admin token were printed on the first run only.")
    console.print(f"Pages: {base_url}/  {base_url}/holder  {base_url}/merchant  {base_url}/admin")


@app.command("import")
@clean_errors
def import_cards(
    file: Annotated[Path, typer.Argument(help="UTF-8 CSV: name,id_number,category,region[,phone]")],
    batch_size: Annotated[int, typer.Option(min=1, max=5000)] = 500,
) -> None:
    """Bulk-issue cards for existing certificate holders; bad rows go to FILE.rejects.csv."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from cardservice.importer import count_rows, import_csv, write_rejects

    if not file.is_file():
        err.print(f"[red]error:[/red] no such file: {file}")
        raise typer.Exit(2)
    svc = build_services()
    total = count_rows(file)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("importing", total=total)
        report = import_csv(
            svc.ledger,
            file,
            CLI_ACTOR,
            batch_size=batch_size,
            progress=lambda n: bar.advance(task, n),
        )
    console.print(f"imported: {report.imported}")
    if report.existing:
        console.print(f"already imported (skipped): {report.existing}")
    rejects = write_rejects(file, report)
    for line, _, reason in report.rejected:
        console.print(f"rejected line {line}: {reason}")
    if report.rejected:
        console.print(f"rejected: {len(report.rejected)} (written to {rejects})")
        raise typer.Exit(1)


@app.command()
@clean_errors
def worker() -> None:
    """Run the projections as their own process (production); stops on SIGTERM/SIGINT."""
    from cardservice.logs import configure_logging
    from cardservice.projections_cli import run_worker
    from cardservice.settings import Settings

    configure_logging(Settings().log_format)
    run_worker()


@app.command("verify")
def verify_offline(
    qr: Annotated[str, typer.Argument(help='The QR text (PTC1:... or PTP1:...); "-" reads stdin.')],
    bundle: Annotated[Path, typer.Option(help="A saved /v1/offline-bundle (application/cose).")],
    trust: Annotated[Path, typer.Option(help="A saved /v1/keys answer pinning the issuer keys.")],
    require_device_binding: Annotated[
        bool, typer.Option(help="Refuse static PTC1 codes (as a device-binding merchant).")
    ] = False,
) -> None:
    """Verify a QR code offline: exit 0 valid, 1 not valid, 2 bundle refused."""
    import time

    from cardservice.settings import Settings
    from merchant_api.offline import run

    settings = Settings()
    code = run(
        bundle,
        trust,
        qr,
        now=int(time.time()),
        clock_skew_seconds=settings.clock_skew_seconds,
        presentation_window_seconds=settings.presentation_window_seconds,
        require_device_binding=require_device_binding,
        out=print,
    )
    raise typer.Exit(code)


def main() -> None:
    try:
        app(prog_name="cardservice")  # the same name under `python -m cardservice`
    except KeyboardInterrupt:
        sys.exit(130)


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, default=str)


__all__ = ["Path", "app", "main"]

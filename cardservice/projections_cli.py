"""`cardservice worker` and `cardservice projections status|rebuild NAME`."""

from __future__ import annotations

import logging
import signal
import threading
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from cardservice.bootstrap.write import WriteSide

projections_app = typer.Typer(help="Read models (views) and their positions.", no_args_is_help=True)

SET_ASIDE_SHOWN = 50

console = Console()
err = Console(stderr=True)


def _services() -> WriteSide:
    from cardservice.bootstrap.write import WriteSide

    return WriteSide.build()


def run_worker(stop: threading.Event | None = None) -> None:
    """Run every projection (and the notice delivery) until SIGTERM/SIGINT, then stop."""
    from cardservice.bootstrap.serve import add_background

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    stop = stop or threading.Event()
    svc = _services()
    service = add_background(svc).projections
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        svc.lifecycle.start()
        names = ", ".join(v.name for r in service.runners for v in r.views)
        console.print(f"projection worker running: {names}")
        while not stop.wait(1.0):
            if not service.running:
                err.print("[red]projection threads stopped unexpectedly[/red]")
                raise typer.Exit(1)
    finally:
        svc.close()


@projections_app.command("status")
def status() -> None:
    """Each view's source, position, lag and set-aside events; then the events set aside."""
    from projections import setaside
    from projections.service import ProjectionService

    svc = _services()
    try:
        service = ProjectionService(svc.sources())
        service.setup()
        table = Table("view", "source", "position", "head", "lag", "set aside")
        for name, row in service.status().items():
            if "error" in row:
                table.add_row(name, row["source"], "?", "?", f"[red]{row['error']}[/red]", "?")
                continue
            aside = str(row["set_aside"])
            table.add_row(
                name,
                row["source"],
                str(row["position"]),
                str(row["head"]),
                str(row["lag"]),
                f"[red]{aside}[/red]" if row["set_aside"] else aside,
            )
        console.print(table)
        with svc.db.read() as tx:
            entries = setaside.entries(tx, limit=SET_ASIDE_SHOWN)
        if entries:
            listing = Table(
                "view", "notification", "topic", "error", "at", title="events set aside"
            )
            for e in entries:
                listing.add_row(
                    e.view,
                    str(e.notification_id),
                    e.topic,
                    f"{e.error_class}: {e.error_message}",
                    e.at,
                )
            console.print(listing)
            console.print(
                "fix the view, then `cardservice projections rebuild VIEW` tries them again"
            )
    finally:
        svc.close()


@projections_app.command("rebuild")
def rebuild(
    name: Annotated[str, typer.Argument(help="The view to rebuild (see `status`).")],
) -> None:
    """Empty one view and replay its source's events into it, with a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from projections.registry import all_views
    from projections.service import rebuild as rebuild_view

    views = {v.name: v for v in all_views()}
    if name not in views:
        err.print(f"[red]error:[/red] no view {name!r}; views: {', '.join(sorted(views))}")
        raise typer.Exit(2)
    svc = _services()
    try:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
        ) as bar:
            task = bar.add_task(f"rebuilding {name}", total=None)

            def progress(done: int, target: int) -> None:
                bar.update(task, completed=done, total=max(target, 1))

            rebuild_view(svc.sources(), views[name], progress)
        console.print(f"view {name} rebuilt")
    finally:
        svc.close()

"""`okr rebuild NAME... | --all`: rebuild views from the log, with a progress bar.

The work is `infra.views.rebuild.Rebuild`; this module is its command line: a rich progress bar
with events/s, Ctrl-C to stop (progress is saved; the same command resumes), and a summary.
"""

from __future__ import annotations

import time
from typing import Annotated

import psycopg
import typer
from eventsourcing.persistence import OperationalError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from infra.bootstrap import build_ledger
from infra.settings import get_settings
from infra.views.model import VIEWS
from infra.views.rebuild import Rebuild, RebuildBusy, RebuildReport

console = Console()
errors = Console(stderr=True)


def rebuild_command(
    names: Annotated[
        list[str] | None,
        typer.Argument(help=f"Views to rebuild: {', '.join(VIEWS)}.", show_default=False),
    ] = None,
    all_views: Annotated[bool, typer.Option("--all", help="Rebuild every view.")] = False,
    page: Annotated[int, typer.Option(help="Events read per page.")] = 5000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Processes, each folding one shard of the views (use the cores PostgreSQL "
            "leaves free).",
        ),
    ] = 1,
) -> None:
    """Rebuild views from the log into shadow tables and swap them in (live queries keep
    answering meanwhile). Ctrl-C saves progress; the same command resumes."""
    chosen = list(names or [])
    unknown = sorted(set(chosen) - set(VIEWS))
    if unknown or (not chosen and not all_views):
        errors.print(
            f"[red]Name views to rebuild ({', '.join(VIEWS)}) or pass --all.[/red]"
            + (f" Unknown: {', '.join(unknown)}." if unknown else "")
        )
        raise typer.Exit(2)
    settings = get_settings()
    try:
        ledger = build_ledger(settings)
    except (psycopg.OperationalError, OperationalError) as error:
        errors.print(f"[red]Cannot reach the event store:[/red] {error}")
        raise typer.Exit(2) from None
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>9,.0f} events/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    started = time.perf_counter()
    try:
        with Progress(*columns, console=console, transient=False) as bar:
            task: TaskID = bar.add_task("rebuild", total=None, rate=0.0)

            def progress(done: int, total: int, phase: str) -> None:
                elapsed = time.perf_counter() - started
                if phase == "scan" and elapsed:
                    bar.update(task, rate=done / elapsed)
                bar.update(
                    task,
                    completed=done,
                    total=max(total, done) or None,
                    description="reading the log" if phase == "scan" else phase,
                )

            job = Rebuild(ledger, settings, page_size=page, progress=progress, workers=workers)
            report = job.run(None if all_views else chosen)
    except KeyboardInterrupt:
        errors.print("[yellow]Stopped: progress is saved; run the same command to resume.[/yellow]")
        raise typer.Exit(130) from None
    except RebuildBusy as error:
        errors.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    finally:
        ledger.close()
    console.print(_summary(report))


def _summary(report: RebuildReport) -> Table:
    table = Table(title=f"Rebuilt: {', '.join(report.views)}", title_justify="left")
    table.add_column("phase", style="bold")
    table.add_column("seconds", justify="right")
    for phase, seconds in report.seconds.items():
        table.add_row(phase, f"{seconds:.2f}")
    table.add_section()
    table.add_row("events read", f"{report.events:,}")
    table.add_row("reading rate", f"{report.scan_rate:,.0f} events/s")
    table.add_row("overall rate", f"{report.rate:,.0f} events/s")
    table.add_row("views at position", f"{report.position:,}")
    if report.resumed_from is not None:
        table.add_row("resumed from", f"{report.resumed_from:,}")
    return table

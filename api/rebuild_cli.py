"""`okr rebuild NAME... | --all`: rebuild views from the log, with a progress bar.

The work is `infra.views.rebuild.Rebuild`; this module is its command line: a rich progress bar
with events/s, Ctrl-C to stop (progress is saved; the same command resumes), and a summary.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from api.cli_support import console, errors, progress_bar, store_reachable
from infra.bootstrap import build_ledger
from infra.settings import get_settings
from infra.views.model import VIEWS
from infra.views.rebuild import Rebuild, RebuildBusy, RebuildReport


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
    with store_reachable():
        ledger = build_ledger(settings)
    try:
        with progress_bar(
            "rebuild",
            "scan",
            shown={"scan": "reading the log"},
            transient=False,
            remaining=True,
        ) as progress:
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

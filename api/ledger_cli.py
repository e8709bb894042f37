"""`okr export --out DIR` and `okr import-ledger DIR`: the whole store out, and into an empty one.

The work is `infra.ledger_package`; this module is its command line: a progress bar with
events/s, a summary, and a refusal printed with its rule (exit 1: the package, the secret or
the store was refused and nothing was written; exit 2: the store cannot be reached).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from eventsourcing.persistence import OperationalError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from infra.bootstrap import build_ledger
from infra.ledger_package import (
    ExportReport,
    ImportReport,
    PackageError,
    export_ledger,
    import_ledger,
)
from infra.settings import get_settings

console = Console()
errors = Console(stderr=True)


@contextmanager
def _progress(phase: str) -> Iterator[Callable[[int, int, str], None]]:
    """A transient progress bar; yields the ``progress(done, total, phase)`` callback."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>9,.0f} events/s"),
        TimeElapsedColumn(),
    )
    started = time.perf_counter()
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(phase, total=None, rate=0.0)

        def progress(done: int, total: int, current: str) -> None:
            bar.update(task, completed=done, total=max(total, done) or None, description=current)
            if current == phase:
                elapsed = time.perf_counter() - started
                bar.update(task, rate=done / elapsed if elapsed else 0.0)

        yield progress


def _summary(title: str, report: ExportReport | ImportReport) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_row("events", f"{report.events:,}")
    table.add_row("person keys", f"{report.person_keys:,}")
    table.add_row("signed checkpoints", f"{report.checkpoints:,}")
    table.add_row("head position", str(report.head_position or "—"))
    table.add_row("head chain hash", report.head_hash or "—")
    return table


def _refused(error: PackageError) -> typer.Exit:
    errors.print(f"[red]Refused ({error.code}):[/red] {error}")
    return typer.Exit(1)


def _unreachable(error: Exception) -> typer.Exit:
    errors.print(f"[red]Cannot reach the event store:[/red] {error}")
    return typer.Exit(2)


def export_command(
    out: Annotated[
        Path,
        typer.Option("--out", help="A new or empty folder for the package.", show_default=False),
    ],
    compress: Annotated[
        bool, typer.Option("--gzip", help="Compress the events file (events.jsonl.gz).")
    ] = False,
) -> None:
    """Write the whole store as a ledger package (docs/ledger-format.md): every event exactly as
    stored with its chain link, the sealed person keys, the signed checkpoints, a manifest."""
    settings = get_settings()
    try:
        ledger = build_ledger(settings)
    except (psycopg.OperationalError, OperationalError) as error:
        raise _unreachable(error) from None
    try:
        with _progress("export") as progress:
            report = export_ledger(ledger, settings, out, compress=compress, progress=progress)
    except PackageError as error:
        raise _refused(error) from None
    finally:
        ledger.close()
    table = _summary(f"Exported to {report.directory}", report)
    table.add_row("rate", f"{report.rate:,.0f} events/s")
    console.print(table)


def import_ledger_command(
    directory: Annotated[
        Path, typer.Argument(help="A package folder written by okr export.", show_default=False)
    ],
    rebuild: Annotated[
        bool, typer.Option(help="Rebuild the views after loading (else: okr rebuild --all).")
    ] = True,
) -> None:
    """Load a ledger package into an EMPTY store: the manifest's hashes and the person-id secret
    are checked first, then every event keeps its position, commit time and chain link; the
    chain is verified and the views rebuilt. A refused package writes nothing."""
    settings = get_settings()
    try:
        with _progress("import") as progress:
            report = import_ledger(directory, settings, rebuild=rebuild, progress=progress)
    except PackageError as error:
        raise _refused(error) from None
    except (psycopg.OperationalError, OperationalError) as error:
        raise _unreachable(error) from None
    table = _summary(f"Imported {directory}", report)
    table.add_row("chain", "verified")
    table.add_row("load rate", f"{report.load_rate:,.0f} events/s")
    for phase, seconds in report.seconds.items():
        table.add_row(f"{phase} (s)", f"{seconds:.2f}")
    console.print(table)

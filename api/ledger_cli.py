"""`okr export --out DIR` and `okr import-ledger DIR`: the whole store out, and into an empty one.

The work is `infra.ledger_package`; this module is its command line: a progress bar with
events/s, a summary, and a refusal printed with its rule (exit 1: the package, the secret or
the store was refused and nothing was written; exit 2: the store cannot be reached).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from eventsourcing.persistence import OperationalError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from infra.bootstrap import build_ledger
from infra.ledger_package import PackageError, export_ledger, import_ledger
from infra.settings import get_settings

console = Console()
errors = Console(stderr=True)


def _bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>9,.0f} events/s"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


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
    started = time.perf_counter()
    try:
        with _bar() as bar:
            task = bar.add_task("export", total=None, rate=0.0)

            def progress(done: int, total: int, phase: str) -> None:
                elapsed = time.perf_counter() - started
                bar.update(task, completed=done, total=total or None, description=phase)
                bar.update(task, rate=done / elapsed if elapsed else 0.0)

            report = export_ledger(ledger, settings, out, compress=compress, progress=progress)
    except PackageError as error:
        raise _refused(error) from None
    finally:
        ledger.close()
    table = Table(title=f"Exported to {report.directory}", title_justify="left", show_header=False)
    table.add_row("events", f"{report.events:,}")
    table.add_row("person keys", f"{report.person_keys:,}")
    table.add_row("signed checkpoints", f"{report.checkpoints:,}")
    table.add_row("head position", str(report.head_position or "—"))
    table.add_row("head chain hash", report.head_hash or "—")
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
    started = time.perf_counter()
    try:
        with _bar() as bar:
            task = bar.add_task("import", total=None, rate=0.0)

            def progress(done: int, total: int, phase: str) -> None:
                elapsed = time.perf_counter() - started
                bar.update(task, completed=done, total=max(total, done) or None, description=phase)
                if phase == "import":
                    bar.update(task, rate=done / elapsed if elapsed else 0.0)

            report = import_ledger(directory, settings, rebuild=rebuild, progress=progress)
    except PackageError as error:
        raise _refused(error) from None
    except (psycopg.OperationalError, OperationalError) as error:
        raise _unreachable(error) from None
    table = Table(title=f"Imported {directory}", title_justify="left", show_header=False)
    table.add_row("events", f"{report.events:,}")
    table.add_row("person keys", f"{report.person_keys:,}")
    table.add_row("signed checkpoints", f"{report.checkpoints:,}")
    table.add_row("head position", str(report.head_position or "—"))
    table.add_row("head chain hash", report.head_hash or "—")
    table.add_row("chain", "verified")
    table.add_row("load rate", f"{report.load_rate:,.0f} events/s")
    for phase, seconds in report.seconds.items():
        table.add_row(f"{phase} (s)", f"{seconds:.2f}")
    console.print(table)

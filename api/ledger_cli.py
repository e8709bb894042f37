"""`okr export --out DIR` and `okr import-ledger DIR`: the whole store out, and into an empty one.

The work is `infra.ledger_package`; this module is its command line: a progress bar with
events/s, a summary, and a refusal printed with its rule (exit 1: the package, the secret or
the store was refused and nothing was written; exit 2: the store cannot be reached).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli_support import console, errors, progress_bar, store_reachable
from infra.bootstrap import build_ledger
from infra.ledger_package import (
    ExportReport,
    ImportReport,
    PackageError,
    export_ledger,
    import_ledger,
)
from infra.settings import get_settings


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
    with store_reachable():
        ledger = build_ledger(settings)
    try:
        with progress_bar("export", "export") as progress:
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
        with store_reachable(), progress_bar("import", "import") as progress:
            report = import_ledger(directory, settings, rebuild=rebuild, progress=progress)
    except PackageError as error:
        raise _refused(error) from None
    table = _summary(f"Imported {directory}", report)
    table.add_row("chain", "verified")
    table.add_row("load rate", f"{report.load_rate:,.0f} events/s")
    for phase, seconds in report.seconds.items():
        table.add_row(f"{phase} (s)", f"{seconds:.2f}")
    console.print(table)

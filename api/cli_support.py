"""What the `okr` commands share: the consoles, one answer to an unreachable event store
(said on stderr, exit code 2), and the progress bar of the long ones (events/s)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import psycopg
import typer
from eventsourcing.persistence import OperationalError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from api.usecases.identity import IdentityUseCases
from domain.application import OkrLedger
from domain.person import Person
from infra.bootstrap import build_ledger

console = Console()
errors = Console(stderr=True)


# ------------------------------------------------- options that stand in several commands

JsonStatus = Annotated[bool, typer.Option("--json", help="With --status: print JSON.")]
"""`--json` of a background command's `--status` (the relay, a worker)."""
AuditedReason = Annotated[str, typer.Option(help="Why (kept in the audit trail).")]
"""`--reason` of a change to a person (forget, change-email)."""


def status_flag(help: str) -> Any:
    """`--status` of a background command: print where it stands (`help`) and exit."""
    return typer.Option("--status", help=help)


def kafka_on(bootstrap: str | None) -> None:
    """Exit 2, saying so, unless Kafka is configured [OKR_KAFKA_BOOTSTRAP]."""
    if not bootstrap:
        errors.print("[red]Kafka is off:[/red] set OKR_KAFKA_BOOTSTRAP (host:port[,host:port])")
        raise typer.Exit(2)


@contextmanager
def store_reachable() -> Iterator[None]:
    """Run the block; an event store it cannot reach ends the command with exit code 2."""
    try:
        yield
    except (psycopg.OperationalError, OperationalError) as error:
        errors.print(f"[red]Cannot reach the event store:[/red] {error}")
        raise typer.Exit(2) from None


@contextmanager
def open_ledger() -> Iterator[OkrLedger]:
    """The application for one command, closed afterwards; an unreachable store exits 2."""
    with store_reachable():
        ledger = build_ledger()
    try:
        yield ledger
    finally:
        ledger.close()


@contextmanager
def refused(*kinds: type[Exception]) -> Iterator[None]:
    """Run the block; a refusal of one of these kinds is said on stderr and exits 1."""
    try:
        yield
    except kinds as error:
        errors.print(f"[red]{getattr(error, 'message', error)}[/red]")
        raise typer.Exit(1) from None


def registered(people: IdentityUseCases, email: str) -> Person:
    """The person with this e-mail; an address nobody holds ends the command (exit 1)."""
    person = people.holder_of(email)
    if person is None:
        errors.print(f"[red]{email} is not registered[/red]")
        raise typer.Exit(1)
    return person


Progressed = Callable[[int, int, str], None]
"""`progress(done, total, phase)`: how far a long command is."""


@contextmanager
def progress_bar(
    first: str,
    counted: str,
    *,
    shown: dict[str, str] | None = None,
    transient: bool = True,
    remaining: bool = False,
) -> Iterator[Progressed]:
    """A progress bar with events/s, yielding its `progress(done, total, phase)` callback: the
    bar starts as `first`, shows each phase by name (or as `shown` calls it), and the phase
    `counted` sets the rate; `remaining` adds the time left."""
    columns: list[ProgressColumn] = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>9,.0f} events/s"),
        TimeElapsedColumn(),
    ]
    if remaining:
        columns.append(TimeRemainingColumn())
    started = time.perf_counter()
    with Progress(*columns, console=console, transient=transient) as bar:
        task = bar.add_task(first, total=None, rate=0.0)

        def progress(done: int, total: int, phase: str) -> None:
            elapsed = time.perf_counter() - started
            if phase == counted and elapsed:
                bar.update(task, rate=done / elapsed)
            description = (shown or {}).get(phase, phase)
            bar.update(
                task, completed=done, total=max(total, done) or None, description=description
            )

        yield progress

"""What the `okr` commands share: the consoles, and one answer to an unreachable event store
(said on stderr, exit code 2)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import typer
from eventsourcing.persistence import OperationalError
from rich.console import Console

from api.usecases.identity import IdentityUseCases
from domain.application import OkrLedger
from domain.person import Person
from infra.bootstrap import build_ledger

console = Console()
errors = Console(stderr=True)


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

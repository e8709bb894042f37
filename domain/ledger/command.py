"""One piece for every ledger command that changes one aggregate: load it, check the expected
version (If-Match), make the change, commit.

A command is declared once, from the aggregate's own method, whose typed signature it keeps
(mypy checks every call's arguments against the aggregate's):

    rename_team = command(TEAM, Team.rename)        # ledger.rename_team(team_id, name, ctx)

or from a ledger method that needs more than the aggregate (another aggregate to load first):

    @change_of(TEAM)
    def move_team(self, team: Team, parent_id: UUID | None, ctx: CommandContext) -> None: ...

    # ledger.move_team(team_id, parent_id, ctx)

The objectives' commands, which also hand over the objective's cycle, are made the same way in
`domain/ledger/objectives.py` (`objective_command`, `objective_change`).

On a ledger, a command takes the aggregate's id, then the change's own arguments. The expected
version travels apart, so that no command can take it and drop it:
`ledger.rename_team.expecting(3)(team_id, name, ctx)` is refused (`version_mismatch`) unless the
team is at version 3. A child id the change answers (a key result, a check-in, an amendment) is
the result's `extra_id`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar, overload
from uuid import UUID

from domain.base import OkrAggregate
from domain.ledger.base import AggregateKind, CommandResult, LedgerBase

A = TypeVar("A", bound=OkrAggregate)
L = TypeVar("L", bound=LedgerBase)
P = ParamSpec("P")


class BoundCommand(Generic[P]):
    """A command of one ledger: call it with the aggregate's id and the command's arguments."""

    __slots__ = ("__signature__", "_expected", "_run")

    def __init__(
        self,
        run: Callable[Concatenate[UUID, int | None, P], CommandResult],
        signature: inspect.Signature,
        expected: int | None = None,
    ) -> None:
        self._run = run
        self.__signature__ = signature
        self._expected = expected

    def __call__(self, aggregate_id: UUID, /, *args: P.args, **kwargs: P.kwargs) -> CommandResult:
        return self._run(aggregate_id, self._expected, *args, **kwargs)

    def expecting(self, version: int | None) -> BoundCommand[P]:
        """The same command, refused (`version_mismatch`) unless the aggregate is at `version`
        when loaded (None: at whatever version)."""
        return BoundCommand(self._run, self.__signature__, version)


class Command(Generic[L, P]):
    """A ledger command (a descriptor on the ledger's class): ``run(ledger, aggregate_id,
    expected_version, *args)`` is the one "load → check the version → change → commit"."""

    def __init__(
        self,
        run: Callable[Concatenate[L, UUID, int | None, P], CommandResult],
        change: Callable[..., Any],
        takes: int,
        id_name: str,
    ) -> None:
        """`change`: what the command's arguments are passed to, after the first `takes`
        parameters (the ledger, the aggregate, the cycle) that the command hands it itself."""
        self._run = run
        self.__doc__ = change.__doc__
        self.__name__ = getattr(change, "__name__", "command")
        parameters = list(inspect.signature(change).parameters.values())[takes:]
        ledger = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
        aggregate_id = inspect.Parameter(
            id_name, inspect.Parameter.POSITIONAL_ONLY, annotation="UUID"
        )
        self.__signature__ = inspect.Signature(
            [ledger, aggregate_id, *parameters], return_annotation="CommandResult"
        )
        self._bound_signature = self.__signature__.replace(parameters=[aggregate_id, *parameters])

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.__name__ = name

    @overload
    def __get__(self, ledger: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, ledger: L, owner: type[Any] | None = None) -> BoundCommand[P]: ...

    def __get__(self, ledger: L | None, owner: type[Any] | None = None) -> Self | BoundCommand[P]:
        if ledger is None:
            return self
        run = self._run

        def bound(
            aggregate_id: UUID, expected: int | None, /, *args: P.args, **kwargs: P.kwargs
        ) -> CommandResult:
            return run(ledger, aggregate_id, expected, *args, **kwargs)

        return BoundCommand(bound, self._bound_signature)

    def __call__(
        self, ledger: L, aggregate_id: UUID, /, *args: P.args, **kwargs: P.kwargs
    ) -> CommandResult:
        """Called on the class, as a method is: ``OkrLedger.rename_team(ledger, team_id, ...)``."""
        return self._run(ledger, aggregate_id, None, *args, **kwargs)


def ledger_command(
    run: Callable[Concatenate[L, UUID, int | None, P], CommandResult],
) -> Command[L, P]:
    """A ledger method ``(self, kpi_id, expected_version, *args)`` that loads, checks and commits
    itself (a command that writes two aggregates), as a command."""
    id_name = list(inspect.signature(run).parameters)[1]
    return Command(run, run, 3, id_name)


def command(
    kind: AggregateKind[A],
    change: Callable[Concatenate[A, P], UUID | None],
    field: str | None = None,
) -> Command[LedgerBase, P]:
    """The command that makes the aggregate's own `change` (its method) on the `kind` loaded by
    id; `field` names the id in a 404 (`person_id`)."""

    def on_ledger(
        ledger: LedgerBase, aggregate: A, /, *args: P.args, **kwargs: P.kwargs
    ) -> UUID | None:
        return change(aggregate, *args, **kwargs)

    return _on(kind, field, on_ledger, change, 1)


def change_of(
    kind: AggregateKind[A], field: str | None = None
) -> Callable[[Callable[Concatenate[L, A, P], UUID | None]], Command[L, P]]:
    """A ledger method ``(self, aggregate, *args)`` as the command on the `kind` loaded by id;
    `field` names the id in a 404."""

    def decorate(change: Callable[Concatenate[L, A, P], UUID | None]) -> Command[L, P]:
        return _on(kind, field, change, change, 2)

    return decorate


def _on(
    kind: AggregateKind[A],
    field: str | None,
    change: Callable[Concatenate[L, A, P], UUID | None],
    described: Callable[..., Any],
    takes: int,
) -> Command[L, P]:
    """`change` on the ledger and the loaded aggregate as a command whose signature is
    `described`'s after its first `takes` parameters."""

    def run(
        ledger: L, aggregate_id: UUID, expected: int | None, /, *args: P.args, **kwargs: P.kwargs
    ) -> CommandResult:
        return ledger._on(
            kind,
            aggregate_id,
            expected,
            lambda aggregate: change(ledger, aggregate, *args, **kwargs),
            field=field,
        )

    return Command(run, described, takes, f"{kind.name}_id")

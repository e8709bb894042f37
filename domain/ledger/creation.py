"""One piece for the ledger's commands that create an aggregate and need nothing else: made from
the aggregate's own factory, whose typed signature the command keeps (mypy checks every call's
arguments against the factory's), as `domain/ledger/command.py` makes the commands that change
one:

    plan_cycle = creation(Cycle.plan)      # ledger.plan_cycle(name, starts_on, ends_on, ctx)

The command makes the aggregate and commits it; its result is the new aggregate's.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, Self, overload

from domain.base import OkrAggregate
from domain.ledger.base import CommandResult, LedgerBase

P = ParamSpec("P")


class Creation(Generic[P]):
    """A creating command (a descriptor on the ledger's class)."""

    def __init__(self, make: Callable[P, OkrAggregate]) -> None:
        self._make = make
        self.__doc__ = make.__doc__
        made = inspect.signature(make)
        ledger = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
        self.__signature__ = made.replace(
            parameters=[ledger, *made.parameters.values()], return_annotation="CommandResult"
        )

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.__name__ = name

    @overload
    def __get__(self, ledger: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(
        self, ledger: LedgerBase, owner: type[Any] | None = None
    ) -> Callable[P, CommandResult]: ...

    def __get__(
        self, ledger: LedgerBase | None, owner: type[Any] | None = None
    ) -> Self | Callable[P, CommandResult]:
        if ledger is None:
            return self
        make = self._make

        def create(*args: P.args, **kwargs: P.kwargs) -> CommandResult:
            return ledger._commit(make(*args, **kwargs))

        return create

    def __call__(self, ledger: LedgerBase, /, *args: P.args, **kwargs: P.kwargs) -> CommandResult:
        """Called on the class, as a method is: ``OkrLedger.plan_cycle(ledger, ...)``."""
        return ledger._commit(self._make(*args, **kwargs))


def creation(make: Callable[P, OkrAggregate]) -> Creation[P]:
    """The command that makes an aggregate with `make` (its factory) and commits it."""
    return Creation(make)

"""The use cases: the one door to the domain for the HTTP routes, the web UI and the CLI.

A use case takes the caller (`Caller`: services, principal, command context), authorizes
through `api/policy.py` (the one place that says who may do what), runs the ledger's command
with If-Match as its expected version (`api/deps.py` `execute` maps a stale one to 412 and a
lost race to 409) and answers the command's `CommandResult`. Routes and pages are adapters:
they parse, call a use case, and shape the answer (HTTP headers, a redirect).

Layering: `api.routes` and `api.web` import `api.usecases`; `api.usecases` imports neither
(import-linter contract in pyproject.toml).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Concatenate, ParamSpec, TypeVar
from uuid import UUID

from api.deps import Services, authorize, execute, visible_objective
from api.policy import ObjectiveFacts, Principal
from domain.application import CommandResult, OkrLedger
from domain.base import CommandContext
from projections.directory import DirectoryState

Command = Callable[[OkrLedger], CommandResult]
"""A ledger command, bound to its arguments."""
ObjectiveRule = Callable[[DirectoryState, Principal, ObjectiveFacts], bool]
P = ParamSpec("P")
U = TypeVar("U", bound="UseCases")


@dataclass(frozen=True)
class Caller:
    """Who asks, in what request, against which services."""

    services: Services
    principal: Principal
    ctx: CommandContext


class UseCases:
    """What every resource's use cases share: the caller, and running a command."""

    def __init__(self, caller: Caller) -> None:
        self.caller = caller
        self.services = caller.services
        self.principal = caller.principal
        self.ctx = caller.ctx

    def _run(self, aggregate_id: UUID | None, command: Command) -> CommandResult:
        """Run the command; a stale If-Match is a 412 and a lost race a 409 (on
        `aggregate_id`, with its current version)."""
        ledger = self.services.ledger
        return execute(ledger, aggregate_id, lambda: command(ledger))

    def _on_objective(
        self, objective_id: UUID, rule: ObjectiveRule, refusal: str, command: Command
    ) -> CommandResult:
        """A command on an objective the caller may see (else 404) and `rule` allows (else
        403 with `refusal`)."""
        objective = visible_objective(self.services, self.principal, objective_id)
        authorize(self.services, self.principal, objective, rule, refusal)
        return self._run(objective_id, command)


def on_objective(
    rule: ObjectiveRule, refusal: str
) -> Callable[
    [Callable[Concatenate[U, UUID, P], Command]], Callable[Concatenate[U, UUID, P], CommandResult]
]:
    """A use case on one objective, which the caller must see (else 404) and `rule` must allow
    (else 403 with `refusal`): the method answers the ledger command, this runs it."""

    def decorate(
        command: Callable[Concatenate[U, UUID, P], Command],
    ) -> Callable[Concatenate[U, UUID, P], CommandResult]:
        @functools.wraps(command)
        def use_case(
            self: U, objective_id: UUID, /, *args: P.args, **kwargs: P.kwargs
        ) -> CommandResult:
            return self._on_objective(
                objective_id, rule, refusal, command(self, objective_id, *args, **kwargs)
            )

        return use_case

    return decorate

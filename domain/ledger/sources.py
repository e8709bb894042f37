"""Key results that follow a data source: attaching and detaching it, and taking a fetched value."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.base import CommandContext
from domain.ledger.base import CommandResult
from domain.ledger.objectives import ObjectiveLedger


class SourceLedger(ObjectiveLedger):
    def attach_source(
        self,
        objective_id: UUID,
        key_result_id: UUID,
        definition: dict[str, Any],
        reason: str,
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        """The key result follows the source from now on; the result's `extra_id` is the
        source's id."""
        return self._on_objective(
            objective_id,
            expected_version,
            lambda o, c: o.attach_source(key_result_id, definition, c, ctx, reason),
        )

    def detach_source(
        self,
        objective_id: UUID,
        key_result_id: UUID,
        reason: str,
        ctx: CommandContext,
        expected_version: int | None = None,
    ) -> CommandResult:
        return self._on_objective(
            objective_id,
            expected_version,
            lambda o, c: o.detach_source(key_result_id, c, ctx, reason),
            extra_id=key_result_id,
        )

    def take_fetched_value(
        self,
        objective_id: UUID,
        key_result_id: UUID,
        source_id: UUID,
        value: float,
        ctx: CommandContext,
    ) -> CommandResult | None:
        """A fetched value as a check-in (`ctx` names the source as actor and carries the
        fetch's provenance); None when the value in force is that value already."""
        objective, cycle = self._objective_and_cycle(objective_id)
        check_in_id = objective.take_fetched_value(key_result_id, source_id, value, cycle, ctx)
        if check_in_id is None:
            return None
        return self._commit(objective, extra_id=check_in_id)

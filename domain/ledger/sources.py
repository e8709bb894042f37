"""Key results that follow a data source: attaching and detaching it, and taking a fetched value."""

from __future__ import annotations

from uuid import UUID

from domain.base import CommandContext
from domain.ledger.base import CommandResult
from domain.ledger.objectives import ObjectiveLedger, objective_command
from domain.objective import Objective


class SourceLedger(ObjectiveLedger):
    attach_source = objective_command(Objective.attach_source)
    """The key result follows the source from now on; the result's `extra_id` is the source's
    id."""
    detach_source = objective_command(Objective.detach_source)

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
        check_in_id = objective.take_fetched_value(cycle, key_result_id, source_id, value, ctx)
        if check_in_id is None:
            return None
        return self._commit(objective, extra_id=check_in_id)

"""Cycles: planning, starting, grading, closing, reopening."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from domain.base import CommandContext
from domain.cycle import Cadence, Cycle, Scoring
from domain.ledger.base import CYCLE, CommandResult, LedgerBase
from domain.ledger.command import command


class CycleLedger(LedgerBase):
    def get_cycle(self, cycle_id: UUID, version: int | None = None) -> Cycle:
        return self._load_version(CYCLE, cycle_id, version)

    def plan_cycle(
        self,
        name: str,
        starts_on: date,
        ends_on: date,
        ctx: CommandContext,
        cadence: Cadence = Cadence.WEEKLY,
        scoring: Scoring = Scoring.SCALE,
        success_threshold: float = 0.7,
    ) -> CommandResult:
        return self._commit(
            Cycle.plan(name, starts_on, ends_on, cadence, scoring, ctx, success_threshold)
        )

    start_cycle = command(CYCLE, Cycle.start)
    open_grading = command(CYCLE, Cycle.open_grading)
    close_cycle = command(CYCLE, Cycle.close)
    reopen_cycle = command(CYCLE, Cycle.reopen)

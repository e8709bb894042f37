"""Cycles: planning, starting, grading, closing, reopening."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from domain.base import CommandContext
from domain.cycle import Cadence, Cycle, Scoring
from domain.ledger.base import CYCLE, CommandResult, LedgerBase


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

    def start_cycle(self, cycle_id: UUID, ctx: CommandContext) -> CommandResult:
        return self._on(CYCLE, cycle_id, None, lambda c: c.start(ctx))

    def open_grading(self, cycle_id: UUID, ctx: CommandContext) -> CommandResult:
        return self._on(CYCLE, cycle_id, None, lambda c: c.open_grading(ctx))

    def close_cycle(self, cycle_id: UUID, ctx: CommandContext) -> CommandResult:
        return self._on(CYCLE, cycle_id, None, lambda c: c.close(ctx))

    def reopen_cycle(self, cycle_id: UUID, reason: str, ctx: CommandContext) -> CommandResult:
        return self._on(CYCLE, cycle_id, None, lambda c: c.reopen(reason, ctx))

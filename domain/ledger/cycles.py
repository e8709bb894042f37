"""Cycles: planning, starting, grading, closing, reopening."""

from __future__ import annotations

from uuid import UUID

from domain.cycle import Cycle
from domain.ledger.base import CYCLE, LedgerBase
from domain.ledger.command import command
from domain.ledger.creation import creation


class CycleLedger(LedgerBase):
    def get_cycle(self, cycle_id: UUID, version: int | None = None) -> Cycle:
        return self._load_version(CYCLE, cycle_id, version)

    plan_cycle = creation(Cycle.plan)

    start_cycle = command(CYCLE, Cycle.start)
    open_grading = command(CYCLE, Cycle.open_grading)
    close_cycle = command(CYCLE, Cycle.close)
    reopen_cycle = command(CYCLE, Cycle.reopen)

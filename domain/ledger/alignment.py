"""Objectives in the strategy: tagging a theme, following a KPI, checking in from it."""

from __future__ import annotations

from uuid import UUID

from domain.base import CommandContext
from domain.cycle import Cycle
from domain.errors import clean_text, require
from domain.ledger.base import KPI
from domain.ledger.objectives import ObjectiveLedger, objective_change
from domain.ledger.strategy import StrategyLedger
from domain.objective import Objective


class AlignmentLedger(ObjectiveLedger, StrategyLedger):
    @objective_change
    def tag_objective(
        self,
        objective: Objective,
        cycle: Cycle,
        theme_id: UUID | None,
        ctx: CommandContext,
        reason: str = "",
    ) -> None:
        if theme_id is not None:
            strategy = self.find_strategy()
            require(
                strategy is not None,
                "theme_not_found",
                "no strategy is defined yet, so there are no themes",
                "theme_id",
            )
            assert strategy is not None
            strategy.theme(theme_id)
        objective.tag_theme(cycle, theme_id, ctx, reason)

    @objective_change
    def link_key_result_to_kpi(
        self,
        objective: Objective,
        cycle: Cycle,
        key_result_id: UUID,
        kpi_id: UUID | None,
        ctx: CommandContext,
    ) -> UUID:
        """Link a key result to a KPI (None unlinks it)."""
        if kpi_id is None:
            objective.unlink_key_result_from_kpi(cycle, key_result_id, ctx)
            return key_result_id
        kpi = self._load(KPI, kpi_id, "kpi_id")
        require(not kpi.retired, "kpi_retired", f"KPI '{kpi.name}' is retired", "kpi_id")
        objective.link_key_result_to_kpi(cycle, key_result_id, kpi.id, kpi.unit, ctx)
        return key_result_id

    @objective_change
    def check_in_from_kpi(
        self,
        objective: Objective,
        cycle: Cycle,
        key_result_id: UUID,
        confidence: int,
        ctx: CommandContext,
        note: str = "",
    ) -> UUID:
        """A check-in with the value of the linked KPI's latest measurement, effective at the
        end of its period (or today, or the cycle's end, whichever comes first)."""
        kr = objective.key_result(key_result_id)
        require(
            kr.kpi_id is not None,
            "key_result_not_linked",
            f"key result '{kr.title}' follows no KPI",
            "key_result_id",
        )
        assert kr.kpi_id is not None
        kpi = self._load(KPI, kr.kpi_id, "kpi_id")
        latest = kpi.latest
        require(latest is not None, "kpi_not_measured", f"KPI '{kpi.name}' has no measurement yet")
        assert latest is not None
        effective = min(latest.ends_on, ctx.now().date(), cycle.ends_on)
        require(
            effective >= cycle.starts_on,
            "kpi_measurement_before_cycle",
            f"the latest measurement of '{kpi.name}' ({latest.period}) is from before the cycle",
            "key_result_id",
        )
        text = clean_text(note, "note") or f"From KPI '{kpi.name}', {latest.period}."
        return objective.check_in(
            cycle, key_result_id, latest.value, confidence, ctx, text, effective
        )

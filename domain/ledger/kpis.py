"""KPIs: defining, retagging, thresholds, measurements, retiring."""

from __future__ import annotations

from typing import Unpack
from uuid import UUID

from domain.base import CommandContext
from domain.kpi import Kpi, KpiChange, KpiDefinition
from domain.ledger.base import KPI, CommandResult
from domain.ledger.command import change_of, command, ledger_command
from domain.ledger.strategy import StrategyLedger


class KpiLedger(StrategyLedger):
    def get_kpi(self, kpi_id: UUID, version: int | None = None) -> Kpi:
        return self._load_version(KPI, kpi_id, version)

    def define_kpi(
        self,
        *,
        ctx: CommandContext,
        north_star: bool = False,
        **definition: Unpack[KpiDefinition],
    ) -> CommandResult:
        """A new KPI; as the north star, it takes over from the previous one in the same write."""
        self._owner_exists(None, definition["owner_person_id"])
        strategy = self.find_strategy()
        kpi = Kpi.define(ctx=ctx, strategy=strategy, **definition)
        if not north_star:
            return self._commit(kpi)
        strategy = strategy or self._strategy_for_north_star(ctx)
        strategy.choose_north_star(kpi.id, ctx)
        return self._commit(kpi, strategy)

    @change_of(KPI)
    def update_kpi(
        self,
        kpi: Kpi,
        ctx: CommandContext,
        **change: Unpack[KpiChange],
    ) -> None:
        """Rename, hand over and/or retag in one atomic change (PATCH /kpis/{id})."""
        name, description = change.get("name"), change.get("description")
        owner_person_id, reason = change.get("owner_person_id"), change.get("reason", "")
        if name is not None or description is not None:
            kpi.rename(name if name is not None else kpi.name, description, ctx, reason)
        if owner_person_id is not None:
            self._owner_exists(None, owner_person_id)
            kpi.change_owner(owner_person_id, ctx, reason)
        if change.get("retag", False):
            perspective, theme_id = change.get("perspective"), change.get("theme_id")
            kpi.retag(perspective, theme_id, self.find_strategy(), ctx, reason)

    change_kpi_thresholds = command(KPI, Kpi.change_thresholds)
    record_measurement = command(KPI, Kpi.record_measurement)
    correct_measurement = command(KPI, Kpi.correct_measurement)

    @ledger_command
    def retire_kpi(
        self, kpi_id: UUID, expected_version: int | None, reason: str, ctx: CommandContext
    ) -> CommandResult:
        """Retiring the north star leaves the strategy without one (in the same write)."""
        kpi = self._load(KPI, kpi_id)
        self._expect(kpi, expected_version)
        kpi.retire(ctx, reason)
        strategy = self.find_strategy()
        if strategy is not None and strategy.north_star_kpi_id == kpi.id:
            strategy.choose_north_star(None, ctx, reason)
            return self._commit(kpi, strategy)
        return self._commit(kpi)

    # Data sources.

    attach_kpi_source = command(KPI, Kpi.attach_source)
    """The KPI is measured from the source from now on; `extra_id` is the source's id."""
    detach_kpi_source = command(KPI, Kpi.detach_source)

    def take_kpi_fetched_value(
        self, kpi_id: UUID, source_id: UUID, value: float, ctx: CommandContext
    ) -> CommandResult | None:
        """A fetched value as the day's measurement; None when it is that value already."""
        kpi = self._load(KPI, kpi_id)
        measurement_id = kpi.take_fetched_value(source_id, value, ctx)
        if measurement_id is None:
            return None
        return self._commit(kpi, extra_id=measurement_id)

"""The strategy: mission, vision, values, themes, perspectives and the north star."""

from __future__ import annotations

from typing import Unpack
from uuid import UUID

from domain.base import CommandContext
from domain.errors import NotFound, require
from domain.ledger.base import KPI, STRATEGY, CommandResult, LedgerBase
from domain.strategy import DEFAULT_PERSPECTIVES, STRATEGY_ID, Strategy, StrategyStatement


class StrategyLedger(LedgerBase):
    def get_strategy(self, version: int | None = None) -> Strategy:
        return self._load_version(STRATEGY, STRATEGY_ID, version)

    def find_strategy(self) -> Strategy | None:
        try:
            return self.get_strategy()
        except NotFound:
            return None

    def put_strategy(
        self,
        ctx: CommandContext,
        *,
        reason: str = "",
        expected_version: int | None = None,
        **statement: Unpack[StrategyStatement],
    ) -> CommandResult:
        """Define the strategy, or make it say exactly this (PUT /strategy)."""
        strategy = self.find_strategy()
        if strategy is None:
            require(
                expected_version is None,
                "version_mismatch",
                f"expected version {expected_version}, but no strategy is defined yet",
            )
            perspectives = statement.get("perspectives")
            strategy = Strategy.define(
                ctx,
                mission=statement["mission"],
                vision=statement["vision"],
                values=statement["values"],
                perspectives=perspectives if perspectives is not None else DEFAULT_PERSPECTIVES,
                reason=reason,
            )
            statement["perspectives"] = None  # defined with them: the revision leaves them be
        else:
            self._expect(strategy, expected_version)
        strategy.revise(ctx, reason, **statement)
        return self._commit(strategy)

    def _strategy_for_north_star(self, ctx: CommandContext) -> Strategy:
        """The strategy names the north star; one with the default perspectives is started if
        none is defined yet."""
        return self.find_strategy() or Strategy.define(ctx, reason="started to name a north star")

    def choose_north_star(
        self, kpi_id: UUID | None, ctx: CommandContext, reason: str = ""
    ) -> CommandResult:
        if kpi_id is not None:
            kpi = self._load(KPI, kpi_id, "kpi_id")
            require(not kpi.retired, "kpi_retired", "a retired KPI cannot be the north star")
        strategy = self._strategy_for_north_star(ctx)
        strategy.choose_north_star(kpi_id, ctx, reason)
        return self._commit(strategy)

"""The strategy acts of the story: mission and themes, objectives placed in them, monthly KPI
measurements (one corrected, one bar raised) and initiatives that move through their states.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from uuid import UUID

from demo.data import (
    INITIATIVES,
    KPIS,
    MISSION,
    NORTH_STAR,
    THEME_OF,
    THEMES,
    VALUES,
    VISION,
    InitiativeSpec,
    KpiSpec,
    rounded,
)
from demo.stage import Stage, StoryCycle, StoryObjective, at
from domain.base import CommandContext
from domain.initiative import InitiativeStatus, KeyResultRef


class StrategyActs(Stage):
    # ------------------------------------------------------------- the strategy

    def sctx(self, actor: str) -> CommandContext:
        """As `ctx`, timed by the strategy layer's own generator."""
        self.now += timedelta(seconds=self.strategy_jitter.randrange(20, 180))
        self.advance_import_clock(self.now)
        return CommandContext(actor=str(self.person_ids[actor]), at=self.now)

    def plot_strategy(self) -> None:
        first, second = self.cycles[0], self.cycles[1]
        self.schedule(at(first.starts_on - timedelta(days=29), 9), self.define_strategy)
        month = first.starts_on.replace(day=1)
        while True:
            following = (month + timedelta(days=32)).replace(day=1)
            measured_on = following + timedelta(days=2)
            if measured_on >= self.cutoff.date():
                break
            self.schedule(at(measured_on, 10), self.measure_action(month))
            month = following
        self.schedule(at(second.starts_on + timedelta(days=6), 11), self.raise_nps_bar)
        for cycle in self.cycles:
            for spec in INITIATIVES:
                if spec.q == cycle.q:
                    self.schedule(
                        at(cycle.starts_on + timedelta(days=spec.launch_day), 14),
                        self.initiative_action(cycle, spec),
                    )

    def define_strategy(self) -> None:
        self.app.put_strategy(
            self.sctx("maya"),
            mission=MISSION,
            vision=VISION,
            values=list(VALUES),
            themes=[
                {"name": name, "perspective": perspective, "description": text, "drives": drives}
                for name, perspective, text, drives in THEMES
            ],
        )
        self.theme_ids = {t.name: t.id for t in self.app.get_strategy().live_themes}
        self.counts["themes"] = len(self.theme_ids)
        for spec in KPIS:
            result = self.app.define_kpi(
                name=spec.name,
                unit=spec.unit,
                direction=spec.direction,
                owner_person_id=self.pid(spec.owner),
                green=spec.green,
                amber=spec.amber,
                ctx=self.sctx("maya"),
                description=spec.description,
                theme_id=self.theme_ids[spec.theme],
                north_star=spec.key == NORTH_STAR,
            )
            self.kpi_ids[spec.key] = result.id
            self.counts["kpis"] += 1

    def place_in_strategy(self, obj: StoryObjective) -> None:
        """Tag the objective with its theme and let its KPI-shaped key results follow the KPI."""
        theme = THEME_OF.get(obj.spec.key)
        if theme is not None and theme in self.theme_ids:
            self.app.tag_objective(obj.id, self.theme_ids[theme], self.sctx(obj.author))
        for kr in obj.krs:
            kpi = next((k for k in KPIS if k.key_result == kr.title), None)
            if kpi is not None and kpi.key in self.kpi_ids:
                self.app.link_key_result_to_kpi(
                    obj.id, kr.id, self.kpi_ids[kpi.key], self.sctx(obj.author)
                )

    def kpi_reading(self, spec: KpiSpec, month: date) -> float:
        """The month's value: the KPI's own trend, with some noise."""
        first = self.cycles[0].starts_on.replace(day=1)
        months = (month.year - first.year) * 12 + month.month - first.month
        value = spec.start + spec.drift * months + self.strategy_rng.gauss(0, spec.noise)
        if spec.ceiling is not None:
            value = min(value, spec.ceiling)
        return rounded(value, spec.decimals)

    def measure_action(self, month: date) -> Callable[[], None]:
        def action() -> None:
            period = f"{month.year:04d}-{month.month:02d}"
            self.measured_months.add(period)
            index = len(self.measured_months)
            for spec in KPIS:
                value = self.kpi_reading(spec, month)
                typo = spec.key == "nps" and index == 4
                result = self.app.record_measurement(
                    self.kpi_ids[spec.key],
                    period,
                    value + 12 if typo else value,
                    self.sctx(spec.owner),
                    note=spec.note,
                )
                self.counts["measurements"] += 1
                if typo:
                    self.later(1, 10, self.correct_action(spec, result.extra_id, value))

        return action

    def correct_action(
        self, spec: KpiSpec, measurement_id: UUID | None, value: float
    ) -> Callable[[], None]:
        def action() -> None:
            assert measurement_id is not None
            self.app.correct_measurement(
                self.kpi_ids[spec.key],
                measurement_id,
                value,
                "The survey export counted the beta panel twice.",
                self.sctx(spec.owner),
            )

        return action

    def raise_nps_bar(self) -> None:
        self.app.change_kpi_thresholds(
            self.kpi_ids["nps"],
            42,
            32,
            "The industry benchmark moved up this year; green now means top quartile.",
            self.sctx("maya"),
        )

    def initiative_action(self, cycle: StoryCycle, spec: InitiativeSpec) -> Callable[[], None]:
        def action() -> None:
            refs = []
            for key, index in spec.key_results:
                obj = self.objectives.get((cycle.q, key))
                if obj is not None and obj.status != "abandoned" and index < len(obj.krs):
                    refs.append(KeyResultRef(obj.id, obj.krs[index].id))
            if not refs:
                return
            result = self.app.launch_initiative(
                title=spec.title,
                owner_person_id=self.pid(spec.owner),
                key_results=refs,
                ctx=self.sctx(spec.owner),
                description=spec.description,
            )
            self.counts["initiatives"] += 1
            for day, status, text in spec.steps:
                self.schedule(
                    at(cycle.starts_on + timedelta(days=day), 15),
                    self.initiative_step(result.id, spec.owner, status, text),
                )

        return action

    def initiative_step(
        self, initiative_id: UUID, owner: str, status: InitiativeStatus | None, text: str
    ) -> Callable[[], None]:
        def action() -> None:
            if status == InitiativeStatus.CANCELLED:
                self.app.update_initiative(
                    initiative_id, self.sctx(owner), status=status, reason=text
                )
            else:
                self.app.update_initiative(
                    initiative_id, self.sctx(owner), status=status, note=text
                )

        return action

"""Cycles (usually quarters): planning → active → grading → closed, reopened only with a reason."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar
from uuid import uuid4

from domain.base import CommandContext, OkrAggregate
from domain.errors import require, require_choice, require_text, require_value


class Phase(StrEnum):
    PLANNING = "planning"
    ACTIVE = "active"
    GRADING = "grading"
    CLOSED = "closed"


class Cadence(StrEnum):
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"

    @property
    def days(self) -> int:
        return {"weekly": 7, "biweekly": 14, "monthly": 31}[self.value]


class Scoring(StrEnum):
    YES_NO = "yes_no"
    SCALE = "scale"


class PhaseEntered(OkrAggregate.Event):
    """What the phase events share: each moves the cycle into its `PHASE`."""

    PHASE: ClassVar[Phase]

    def apply(self, cycle: Cycle) -> None:
        cycle.phase = self.PHASE


class Cycle(OkrAggregate):
    if TYPE_CHECKING:  # state set by events; not dataclass fields of the aggregate
        name: str
        starts_on: date
        ends_on: date
        cadence: Cadence
        scoring: Scoring
        success_threshold: float
        phase: Phase

    class Planned(OkrAggregate.Created):
        name: str
        starts_on: date
        ends_on: date
        cadence: str
        scoring: str
        success_threshold: float

        def apply(self, cycle: Cycle) -> None:
            cycle.name = self.name
            cycle.starts_on = self.starts_on
            cycle.ends_on = self.ends_on
            cycle.cadence = Cadence(self.cadence)
            cycle.scoring = Scoring(self.scoring)
            cycle.success_threshold = self.success_threshold
            cycle.phase = Phase.PLANNING

    class Started(PhaseEntered):
        PHASE = Phase.ACTIVE

    class GradingOpened(PhaseEntered):
        PHASE = Phase.GRADING

    class Closed(PhaseEntered):
        PHASE = Phase.CLOSED

    class Reopened(PhaseEntered):
        PHASE = Phase.GRADING

    @classmethod
    def plan(
        cls,
        name: str,
        starts_on: date,
        ends_on: date,
        ctx: CommandContext,
        cadence: Cadence = Cadence.WEEKLY,
        scoring: Scoring = Scoring.SCALE,
        success_threshold: float = 0.7,
    ) -> Cycle:
        require_value(
            ends_on > starts_on,
            "cycle_ends_before_start",
            "ends_on must be after starts_on",
            "ends_on",
        )
        require_value(
            0.0 < success_threshold <= 1.0,
            "threshold_out_of_range",
            "success_threshold must be in (0, 1]",
            "success_threshold",
        )
        return cls._create(
            cls.Planned,
            id=uuid4(),
            name=require_text(name, "name", max_length=100),
            starts_on=starts_on,
            ends_on=ends_on,
            cadence=require_choice(Cadence, cadence, "cadence").value,
            scoring=require_choice(Scoring, scoring, "scoring").value,
            success_threshold=success_threshold,
            **ctx.stamp(),
        )

    def _require_phase(self, *phases: Phase, doing: str) -> None:
        if self.phase in phases:
            return  # every command asks: the message is built for a refusal only
        require(
            self.phase in phases,
            "wrong_cycle_phase",
            f"cannot {doing} while cycle '{self.name}' is {self.phase}"
            f" (allowed: {', '.join(p.value for p in phases)})",
        )

    def start(self, ctx: CommandContext) -> None:
        self._require_phase(Phase.PLANNING, doing="start the cycle")
        self._trigger(self.Started, ctx)

    def open_grading(self, ctx: CommandContext) -> None:
        self._require_phase(Phase.ACTIVE, doing="open grading")
        self._trigger(self.GradingOpened, ctx)

    def close(self, ctx: CommandContext) -> None:
        self._require_phase(Phase.GRADING, doing="close the cycle")
        self._trigger(self.Closed, ctx)

    def reopen(self, reason: str, ctx: CommandContext) -> None:
        self._require_phase(Phase.CLOSED, doing="reopen the cycle")
        self._trigger(self.Reopened, ctx, reason=require_text(reason, "reason"))

    # Rules other aggregates ask of their cycle.

    def require_open_for(self, doing: str, *phases: Phase) -> None:
        """Raise unless the cycle is in one of `phases` (a closed cycle refuses every change)."""
        self._require_phase(*phases, doing=doing)

    def elapsed_share(self, today: date) -> float:
        total = (self.ends_on - self.starts_on).days
        return min(1.0, max(0.0, (today - self.starts_on).days / total)) if total else 1.0

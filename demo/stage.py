"""The story's stage: what it remembers of each cycle, objective and key result (the mirror),
its simulated clock and its agenda of actions due at simulated instants.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from demo.data import PEOPLE, TEAMS
from demo.objectives import KrSpec, ObjSpec
from demo.summary import PlantedWeakOkr
from domain.application import OkrLedger
from domain.base import CommandContext
from domain.objective import KeyResult, Kind
from domain.scoring import Direction, Measure

# ----------------------------------------------------------------------- the mirror


@dataclass
class StoryKr:
    """What the story remembers about a key result, to produce plausible check-ins."""

    id: UUID
    lineage_id: UUID
    title: str
    measure: Measure
    direction: Direction
    baseline: float | None
    target: float | None
    unit: str
    decimals: int
    spread: float
    cumulative: bool
    final: float
    shape: float
    stall_week: int | None
    p: float = 0.0
    confidence: int = 6
    last_value: float | None = None
    done: bool = False

    @property
    def metric_moves(self) -> bool:
        return self.measure == Measure.METRIC and self.direction in (
            Direction.INCREASE,
            Direction.DECREASE,
        )


@dataclass
class StoryObjective:
    spec: ObjSpec
    q: int
    id: UUID
    author: str
    approver: str
    krs: list[StoryKr]
    status: str = "draft"
    carried_from: StoryObjective | None = None
    amended: bool = False


@dataclass
class StoryCycle:
    q: int
    name: str
    starts_on: date
    ends_on: date
    id: UUID | None = None
    objectives: list[StoryObjective] = field(default_factory=list)
    corrections: int = 0


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def previous_quarter(start: date) -> date:
    return quarter_start(start - timedelta(days=1))


def quarter_end(start: date) -> date:
    next_start = quarter_start(start + timedelta(days=95))
    return next_start - timedelta(days=1)


def fridays(starts_on: date, ends_on: date) -> list[date]:
    first = starts_on + timedelta(days=(4 - starts_on.weekday()) % 7)
    return [first + timedelta(weeks=w) for w in range((ends_on - first).days // 7 + 1)]


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), UTC)


# ------------------------------------------------------------------------- the story


class Stage:
    """The story's state, clock and agenda; the acts are in its subclasses."""

    def __init__(self, app: OkrLedger, seed: int, today: date) -> None:
        self.app = app
        self.rng = random.Random(seed)
        self.jitter = random.Random(seed * 7919 + 17)
        """Timing only, so changing the timing never changes a value."""
        self.cutoff = at(today, 0)
        """Nothing happens on `today` itself: the story ends the day before."""
        self.now = datetime.min.replace(tzinfo=UTC)
        self.agenda: list[tuple[datetime, int, Callable[[], None]]] = []
        self.seq = 0

        active = quarter_start(today)
        starts = [previous_quarter(previous_quarter(active)), previous_quarter(active), active]
        self.cycles = [
            StoryCycle(q, f"Q{(s.month - 1) // 3 + 1} {s.year}", s, quarter_end(s))
            for q, s in enumerate(starts)
        ]
        if (today - active).days < 14:
            msg = "the demo needs today to be at least two weeks into its quarter"
            raise ValueError(msg)

        self.advance_import_clock: Callable[[datetime], None] = lambda _: None
        # Moves the history-import commit clock along with the story (see infra.chain).
        self.person_ids = {p.key: app.person_id_for(p.email) for p in PEOPLE}
        self.team_ids: dict[str, UUID] = {}
        self.members: dict[str, list[str]] = {key: [] for key, _, _ in TEAMS}
        self.active_people: list[str] = []
        self.objectives: dict[tuple[int, str], StoryObjective] = {}
        self.planted: list[PlantedWeakOkr] = []
        self.counts = {
            "people": 0,
            "teams": 0,
            "cycles": 0,
            "objectives": 0,
            "key_results": 0,
            "check_ins": 0,
            "corrections": 0,
            "amendments": 0,
            "carry_overs": 0,
            "themes": 0,
            "kpis": 0,
            "measurements": 0,
            "initiatives": 0,
        }
        # The strategy layer draws from its own generators, so the OKR story stays as it was.
        self.strategy_rng = random.Random(seed * 104_729 + 3)
        self.strategy_jitter = random.Random(seed * 31 + 7)
        self.theme_ids: dict[str, UUID] = {}
        self.kpi_ids: dict[str, UUID] = {}
        self.measured_months: set[str] = set()

    # ---------------------------------------------------------------- the machinery

    def schedule(self, when: datetime, action: Callable[[], None]) -> None:
        self.seq += 1
        heapq.heappush(self.agenda, (when, self.seq, action))

    def later(self, days: float, hour: int, action: Callable[[], None]) -> None:
        """Schedule `action` some days after the current instant, at about `hour` o'clock."""
        day = (self.now + timedelta(days=days)).date()
        self.schedule(at(day, hour, self.jitter.randrange(0, 50)), action)

    def run(self) -> None:
        while self.agenda:
            when, _, action = heapq.heappop(self.agenda)
            if when >= self.cutoff:
                continue  # still popped, so later follow-ups past the cutoff vanish too
            self.now = max(when, self.now + timedelta(seconds=1))
            action()

    def ctx(self, actor: str) -> CommandContext:
        """A command context for `actor` (a person key) at the next tick of the clock."""
        self.now += timedelta(seconds=self.jitter.randrange(20, 180))
        self.advance_import_clock(self.now)
        return CommandContext(actor=str(self.person_ids[actor]), at=self.now)

    def pid(self, key: str) -> UUID:
        return self.person_ids[key]

    def mirror_live(self, obj: StoryObjective, spec: KrSpec | None, live: KeyResult) -> StoryKr:
        """Mirror a key result the ledger already holds (carried over, or added by a change)."""
        return self.mirror_kr(
            obj,
            spec,
            live.id,
            live.lineage_id,
            live.baseline,
            live.target,
            measure=live.measure,
            direction=live.direction,
            title=live.title,
            unit=live.unit,
        )

    def mirror_kr(
        self,
        obj: StoryObjective,
        spec: KrSpec | None,
        kr_id: UUID,
        lineage_id: UUID,
        baseline: float | None,
        target: float | None,
        *,
        measure: Measure | None = None,
        direction: Direction | None = None,
        title: str = "",
        unit: str = "",
    ) -> StoryKr:
        """Draw how this key result will move over the quarter: where it ends, whether it stalls."""
        rng = self.rng
        measure = measure or (spec.measure if spec else Measure.METRIC)
        direction = direction or (spec.direction if spec else Direction.INCREASE)
        if obj.spec.kind == Kind.ASPIRATIONAL:
            final = rng.uniform(0.35, 0.95)
        else:
            final = rng.uniform(0.55, 1.1)
        if obj.spec.carry and obj.q < max(obj.spec.cycles):
            final = min(final, rng.uniform(0.5, 0.85))  # unfinished: it carries over
        stall: int | None = None
        roll = rng.random()
        if roll < 0.12:
            stall = rng.randint(2, 6)  # the owner stops checking in
        elif roll < 0.14:
            stall = 0  # never checked in
        span = abs((target or 1.0) - (baseline or 0.0))
        spread = spec.spread if spec and spec.spread is not None else max(span * 0.1, 0.1)
        return StoryKr(
            id=kr_id,
            lineage_id=lineage_id,
            title=spec.title_for(obj.q) if spec else title,
            measure=measure,
            direction=direction,
            baseline=baseline,
            target=target,
            unit=spec.unit if spec else unit,
            decimals=spec.decimals if spec else 1,
            spread=spread,
            cumulative=bool(spec and spec.trend == 0 and direction == Direction.INCREASE),
            final=final,
            shape=rng.uniform(0.7, 1.5),
            stall_week=stall,
            confidence=rng.randint(5, 8),
        )

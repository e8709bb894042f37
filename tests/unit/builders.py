"""Small builders that put a cycle, a team or an objective in a given state quickly.

In the spirit of cosmicpython's test builders: a test names the state it starts from
(`an_objective().approved().checked_in(0, 40).in_phase(Phase.GRADING).build()`), not the dozen
commands that lead there. Everything here is pure domain: no application, no database. Every
builder returns aggregates whose pending events were already collected, so a test's "then" sees
only the events its own "when" caused.

Time is fixed: "now" is mid-May 2025, inside the Q2 2025 cycle. Each context is a few
milliseconds later than the previous one, so check-ins recorded on the same day still have a
definite order.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

from domain.application import OkrLedger
from domain.base import CommandContext
from domain.cycle import Cadence, Cycle, Phase, Scoring
from domain.objective import KeyResult, Kind, Objective, Status
from domain.person import Person, person_id_for
from domain.scoring import Direction, Measure
from domain.team import MemberRole, Team
from tests.unit.gwt import refused

NOW = datetime(2025, 5, 15, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
Q2_START = date(2025, 4, 1)
Q2_END = date(2025, 6, 30)
Q3_START = date(2025, 7, 1)
Q3_END = date(2025, 9, 30)

# People are referred to by id; the actor on an event is the id as a string.
ALICE = person_id_for("alice@example.com")  # a contributor
BOB = person_id_for("bob@example.com")  # her manager, the usual approver
CAROL = person_id_for("carol@example.com")  # another manager
ADMIN = "admin"

T = TypeVar("T")
_tick = itertools.count(1)


def ctx(actor: UUID | str = ALICE, at: datetime | None = None) -> CommandContext:
    """A command context for `actor`, a little later than the previous one (still TODAY)."""
    when = at if at is not None else NOW + timedelta(milliseconds=next(_tick) % 3_600_000)
    return CommandContext(actor=str(actor), request_id=f"req-{uuid4().hex[:8]}", at=when)


def settled(aggregate: T) -> T:
    """The aggregate with its pending events collected: a "given" state."""
    aggregate.collect_events()  # type: ignore[attr-defined]
    return aggregate


# ----------------------------------------------------------------- people and teams


def a_person(name: str = "Alice", email: str = "alice@example.com") -> Person:
    return settled(Person.register(name, email, ctx(ADMIN)))


def a_team(
    name: str = "Platform",
    parent_id: UUID | None = None,
    members: dict[UUID, MemberRole] | None = None,
    disbanded: bool = False,
) -> Team:
    team = Team.form(name, parent_id, ctx(ADMIN))
    for person_id, role in (members or {}).items():
        team.add_member(person_id, role, ctx(ADMIN))
    if disbanded:
        team.disband("reorganised", ctx(ADMIN))
    return settled(team)


# -------------------------------------------------------------------------- cycles

_PHASE_ORDER = (Phase.PLANNING, Phase.ACTIVE, Phase.GRADING, Phase.CLOSED)


def advance(cycle: Cycle, phase: Phase) -> Cycle:
    """Move a cycle forward through its phases until it reaches `phase`."""
    while _PHASE_ORDER.index(cycle.phase) < _PHASE_ORDER.index(phase):
        if cycle.phase == Phase.PLANNING:
            cycle.start(ctx(ADMIN))
        elif cycle.phase == Phase.ACTIVE:
            cycle.open_grading(ctx(ADMIN))
        elif cycle.phase == Phase.GRADING:
            cycle.close(ctx(ADMIN))
    assert cycle.phase == phase, f"cannot move a {cycle.phase} cycle back to {phase}"
    return settled(cycle)


def a_cycle(
    phase: Phase = Phase.PLANNING,
    *,
    scoring: Scoring = Scoring.SCALE,
    starts_on: date = Q2_START,
    ends_on: date = Q2_END,
    name: str = "2025-Q2",
    success_threshold: float = 0.7,
) -> Cycle:
    cycle = Cycle.plan(
        name, starts_on, ends_on, ctx(ADMIN), Cadence.WEEKLY, scoring, success_threshold
    )
    return advance(settled(cycle), phase)


def next_quarter(phase: Phase = Phase.PLANNING) -> Cycle:
    return a_cycle(phase, starts_on=Q3_START, ends_on=Q3_END, name="2025-Q3")


# ---------------------------------------------------------------------- objectives


def metric(
    title: str = "Raise weekly active users",
    baseline: float | None = 100.0,
    target: float | None = 200.0,
    direction: Direction = Direction.INCREASE,
    weight: float = 1.0,
    unit: str = "users",
) -> dict[str, Any]:
    return {
        "title": title,
        "measure": Measure.METRIC,
        "baseline": baseline,
        "target": target,
        "direction": direction,
        "weight": weight,
        "unit": unit,
    }


def milestone(title: str = "Ship the new onboarding", weight: float = 1.0) -> dict[str, Any]:
    return {"title": title, "measure": Measure.MILESTONE, "weight": weight}


@dataclass
class Given:
    """An objective and its cycle in a known state, with its key results in the order added."""

    objective: Objective
    cycle: Cycle
    kr_ids: list[UUID]

    def kr(self, index: int = 0) -> KeyResult:
        return self.objective.key_results[self.kr_ids[index]]

    def check_in_ids(self, index: int = 0) -> list[UUID]:
        return [c.id for c in self.kr(index).check_ins]


NEGOTIATION_STATES = {
    "draft": Status.DRAFT,
    "submitted": Status.IN_REVIEW,
    "changes_requested": Status.CHANGES_REQUESTED,
    "countered": Status.COUNTERED,
    "approved": Status.APPROVED,
}


@dataclass
class ObjectiveBuilder:
    """Fluent set-up of an objective: draft → negotiated → tracked → graded, in a cycle phase."""

    owner_person_id: UUID | None = ALICE
    owner_team_id: UUID | None = None
    contributor: UUID = ALICE
    approver: UUID = BOB
    title: str = "Delight new customers"
    kind: Kind = Kind.COMMITTED
    scoring: Scoring = Scoring.SCALE
    cycle: Cycle | None = None
    krs: list[dict[str, Any]] = field(default_factory=list)
    status: Status = Status.DRAFT
    counter_changes: dict[str, Any] | None = None
    check_ins: list[tuple[int, float, int, date | None]] = field(default_factory=list)
    kr_grades: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    phase: Phase | None = None
    abandoned: bool = False

    # what
    def owned_by_team(self, team_id: UUID) -> ObjectiveBuilder:
        self.owner_team_id, self.owner_person_id = team_id, None
        return self

    def aspirational(self) -> ObjectiveBuilder:
        self.kind = Kind.ASPIRATIONAL
        return self

    def yes_no(self) -> ObjectiveBuilder:
        self.scoring = Scoring.YES_NO
        return self

    def in_cycle(self, cycle: Cycle) -> ObjectiveBuilder:
        self.cycle = cycle
        return self

    def with_kr(self, **spec: Any) -> ObjectiveBuilder:
        self.krs.append(metric(**spec))
        return self

    def with_milestone(
        self, title: str = "Ship the new onboarding", weight: float = 1.0
    ) -> ObjectiveBuilder:
        self.krs.append(milestone(title, weight))
        return self

    # negotiation
    def _negotiated_to(self, status: Status) -> ObjectiveBuilder:
        self.status = status
        return self

    def submitted(self) -> ObjectiveBuilder:
        return self._negotiated_to(Status.IN_REVIEW)

    def changes_requested(self) -> ObjectiveBuilder:
        return self._negotiated_to(Status.CHANGES_REQUESTED)

    def countered(self, changes: dict[str, Any] | None = None) -> ObjectiveBuilder:
        self.counter_changes = changes
        return self._negotiated_to(Status.COUNTERED)

    def approved(self) -> ObjectiveBuilder:
        return self._negotiated_to(Status.APPROVED)

    def negotiated(self, state: str) -> ObjectiveBuilder:
        """As far as `state` says: draft, submitted, changes_requested, countered or approved."""
        return self._negotiated_to(NEGOTIATION_STATES[state])

    def abandoned_(self) -> ObjectiveBuilder:
        self.abandoned = True
        return self

    # tracking and grading
    def checked_in(
        self, kr: int, value: float, confidence: int = 7, effective_on: date | None = None
    ) -> ObjectiveBuilder:
        self.status = Status.APPROVED
        self.check_ins.append((kr, value, confidence, effective_on))
        return self

    def kr_graded(self, kr: int, **grade: Any) -> ObjectiveBuilder:
        self.status = Status.APPROVED
        self.kr_grades.append((kr, grade))
        return self

    def in_phase(self, phase: Phase) -> ObjectiveBuilder:
        self.phase = phase
        return self

    def build(self, *, settle: bool = True) -> Given:
        """The objective and its cycle; `settle=False` keeps the objective's events pending
        (to save them somewhere)."""
        cycle = self.cycle or a_cycle(scoring=self.scoring)
        assert cycle.phase in (Phase.PLANNING, Phase.ACTIVE), "objectives are drafted in planning"
        krs = self.krs or [metric()]
        me = self.contributor
        objective = Objective.draft(
            cycle=cycle,
            owner_team_id=self.owner_team_id,
            owner_person_id=self.owner_person_id,
            title=self.title,
            kind=self.kind,
            ctx=ctx(me),
        )
        kr_ids = [objective.add_key_result(**spec, cycle=cycle, ctx=ctx(me)) for spec in krs]
        if self.status != Status.DRAFT:
            objective.submit_for_approval(cycle, self.approver, ctx(me))
        if self.status == Status.CHANGES_REQUESTED:
            objective.request_changes(cycle, "Make the targets bolder", ctx(self.approver))
        elif self.status == Status.COUNTERED:
            changes = self.counter_changes or {"key_results": {str(kr_ids[0]): {"weight": 2.0}}}
            objective.counter_propose(cycle, changes, "Weigh this one more", ctx(self.approver))
        elif self.status == Status.APPROVED:
            objective.approve(cycle, ctx(self.approver))
        if self.check_ins:
            advance(cycle, Phase.ACTIVE)
            for kr, value, confidence, effective_on in self.check_ins:
                objective.check_in(
                    cycle, kr_ids[kr], value, confidence, ctx(me), effective_on=effective_on
                )
        if self.kr_grades:
            advance(cycle, Phase.GRADING)
            for kr, grade in self.kr_grades:
                objective.grade_key_result(cycle, kr_ids[kr], ctx(me), **grade)
        if self.abandoned:
            objective.abandon(cycle, "priorities changed", ctx(me))
        if self.phase is not None:
            advance(cycle, self.phase)
        return Given(settled(objective) if settle else objective, settled(cycle), kr_ids)


def an_objective(**kw: Any) -> ObjectiveBuilder:
    return ObjectiveBuilder(**kw)


# ------------------------------------------------------------ the in-memory application


def refused_in_phase(phase: Phase, command: Callable[[Given], object]) -> None:
    """An approved objective whose cycle is in `phase` refuses `command` (given the objective,
    its cycle and key results) as `wrong_cycle_phase`, changing nothing."""
    given = an_objective().approved().in_phase(phase).build()
    refused(given.objective, lambda: command(given), "wrong_cycle_phase")


def a_ledger() -> OkrLedger:
    """The application on eventsourcing's in-memory (POPO) persistence: no database."""
    return OkrLedger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


@dataclass
class Org:
    """A small organisation in an in-memory ledger: Alice (member) and Bob (manager) in a team,
    Carol managing the parent team, and the Q2 cycle (planning) and Q3 cycle (planning)."""

    app: OkrLedger
    company_id: UUID
    team_id: UUID
    q2_id: UUID
    q3_id: UUID

    def objective(self, **kw: Any) -> UUID:
        args: dict[str, Any] = {
            "cycle_id": self.q2_id,
            "title": "Delight new customers",
            "kind": Kind.COMMITTED,
            "owner_team_id": self.team_id,
            "ctx": ctx(ALICE),
        }
        args.update(kw)
        return self.app.draft_objective(**args).id

    def key_result(self, objective_id: UUID, **spec: Any) -> UUID:
        result = self.app.add_key_result(objective_id, **metric(**spec), ctx=ctx(ALICE))
        assert result.extra_id is not None
        return result.extra_id

    def approved_objective(self) -> tuple[UUID, UUID]:
        """An approved objective with one metric KR (100 → 200); the cycle still planning."""
        objective_id = self.objective()
        kr_id = self.key_result(objective_id)
        self.app.submit_objective(objective_id, BOB, ctx(ALICE))
        self.app.approve_objective(objective_id, ctx(BOB))
        return objective_id, kr_id


def an_org(app: OkrLedger | None = None) -> Org:
    app = app or a_ledger()
    for name, email in [
        ("Alice", "alice@example.com"),
        ("Bob", "bob@example.com"),
        ("Carol", "carol@example.com"),
    ]:
        app.register_person(name, email, ctx(ADMIN))
    company_id = app.form_team("Company", ctx(ADMIN)).id
    team_id = app.form_team("Platform", ctx(ADMIN), parent_id=company_id).id
    app.add_team_member(company_id, CAROL, MemberRole.MANAGER, ctx(ADMIN))
    app.add_team_member(team_id, BOB, MemberRole.MANAGER, ctx(ADMIN))
    app.add_team_member(team_id, ALICE, MemberRole.MEMBER, ctx(ADMIN))
    q2_id = app.plan_cycle("2025-Q2", Q2_START, Q2_END, ctx(ADMIN)).id
    q3_id = app.plan_cycle("2025-Q3", Q3_START, Q3_END, ctx(ADMIN)).id
    return Org(app, company_id, team_id, q2_id, q3_id)

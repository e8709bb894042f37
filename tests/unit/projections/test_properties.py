"""Properties over random command sequences driven through the in-memory application.

- Folding the whole log equals folding up to a random position, checkpointing through JSON,
  and continuing, for every fold; and a replay's frames equal the tree folded up to each
  boundary.
- The tree agrees with the aggregates themselves (`app.get_objective`) on status, key result
  definitions, current values, grades and scores, and shows every objective exactly once.
- The audit trail has one row per event.

Commands are drawn blindly; the ones the domain refuses (an `OkrError`) are skipped, so what
reaches the log is a valid history of every shape the generator can reach.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import OkrError
from domain.objective import EDITABLE, Kind, Objective
from domain.scoring import Direction, Measure
from projections.audit import AuditState
from projections.base import Fold, Logged, fold
from projections.folds import FOLDS
from projections.replay import replay
from projections.tree import ALL, ObjectiveView, TreeFold, objective_view, tree
from tests.unit.projections.story import ADMIN, Ledger, organisation

WEIGHTS = {
    "draft": 3,
    "submit": 3,
    "approve": 3,
    "check_in": 4,
    "grade_key_result": 3,
    "add_key_result": 2,
    "counter_propose": 2,
    "accept_counter": 2,
    "propose_amendment": 2,
    "approve_amendment": 2,
    "correct": 2,
    "grade": 2,
    "phase": 2,
    "update_key_result": 1,
    "remove_key_result": 1,
    "reword": 1,
    "realign": 1,
    "reassign": 1,
    "request_changes": 1,
    "withdraw": 1,
    "reject_amendment": 1,
    "abandon": 1,
    "carry_over": 1,
    "tick": 2,
}
"""How often each command is drawn (the negotiation and tracking paths need several steps each).
Hypothesis favours the first entry, so it is a productive one."""
OPERATIONS = [name for name, weight in WEIGHTS.items() for _ in range(weight)]

Step = tuple[str, int, int, int]
steps = st.lists(
    st.tuples(
        st.sampled_from(OPERATIONS),
        st.integers(0, 60),
        st.integers(0, 60),
        st.integers(0, 60),
    ),
    min_size=10,
    max_size=40,
)
Stages = tuple[list[Step], list[Step], list[Step]]
stages = st.tuples(steps, steps, steps)
"""Planning, tracking and grading: Q1 starts after the first list and opens grading after the
second (if random phase steps have not moved it already), so every history goes deep."""


class RandomHistory:
    """Interprets drawn steps as commands against a small organisation.

    Each command picks, by the drawn numbers, among the objectives whose state allows it and
    acts as the person the method expects (the named approver approves, the contributor
    accepts a counter-proposal), so histories get deep: negotiation, amendments, check-ins,
    corrections, grades, carry-overs. The domain still refuses some (self-approval, values out
    of range, wrong phase); those are skipped.
    """

    def __init__(self) -> None:
        self.ledger = Ledger(start=datetime(2025, 1, 2, 9, 0, tzinfo=UTC))
        org = organisation(self.ledger)
        self.app = self.ledger.app
        self.people = [org.ada, org.ben, org.cy]
        self.teams = [org.acme, org.platform]
        self.q2 = self.app.plan_cycle(
            "Q2 2025", date(2025, 4, 1), date(2025, 6, 30), self.ledger.by(ADMIN)
        ).id
        self.cycles = [org.q1, self.q2]
        self.objectives: list[UUID] = []
        self.loaded: dict[UUID, Objective] = {}
        self.phases: dict[UUID, str] = {}
        self.read_up_to = 0
        self.refresh()

    def refresh(self) -> None:
        """Reload only the objectives and cycles that new events touched since the last step."""
        touched = {
            n.originator_id
            for n in self.app.recorder.select_notifications(start=self.read_up_to + 1, limit=10_000)
        }
        self.read_up_to = self.ledger.position
        for cycle in self.cycles:
            if cycle in touched or cycle not in self.phases:
                self.phases[cycle] = self.app.get_cycle(cycle).phase.value
        for objective_id in self.objectives:
            if objective_id in touched or objective_id not in self.loaded:
                self.loaded[objective_id] = self.app.get_objective(objective_id)

    def advance_q1(self, from_phase: str) -> None:
        """Start Q1, or open its grading, unless random steps moved it on already."""
        q1 = self.cycles[0]
        if self.app.get_cycle(q1).phase.value == from_phase:
            self.ledger.clock += timedelta(days=10)
            if from_phase == "planning":
                self.app.start_cycle(q1, self.by(ADMIN))
            else:
                self.app.open_grading(q1, self.by(ADMIN))
            self.refresh()

    def run(self, step: Step) -> None:
        with contextlib.suppress(OkrError):
            getattr(self, "do_" + step[0])(*step[1:])
        self.refresh()

    # -------------------------------------------------------------- choices

    def person(self, n: int, other_than: str | None = None) -> UUID:
        choices = [p for p in self.people if str(p) != other_than]
        return choices[n % len(choices)]

    def by(self, actor: UUID | str) -> Any:
        return self.ledger.by(actor)

    def pick(self, n: int, *statuses: str, phases: tuple[str, ...] = ()) -> Objective | None:
        """The n-th objective (wrapping) whose status and cycle phase allow the command, most
        recently changed first, so consecutive steps tend to work on the same objective."""
        found = [
            objective
            for objective in (self.loaded[o] for o in self.objectives)
            if (not statuses or objective.status.value in statuses)
            and (not phases or self.phases[objective.cycle_id] in phases)
        ]
        found.sort(key=lambda o: o.modified_on, reverse=True)
        return found[n % len(found)] if found else None

    def kr(self, objective: Objective, n: int) -> UUID | None:
        live = [kr.id for kr in objective.active_key_results]
        return live[n % len(live)] if live else None

    def propose(
        self, command: Callable[..., Any], objective: Objective, b: int, c: int, actor: UUID | str
    ) -> None:
        """A counter-proposal or an amendment: `command` sent one of `changes`' change sets."""
        command(objective.id, self.changes(objective, b, c), "how about this", self.by(actor))

    def changes(self, objective: Objective, b: int, c: int) -> dict[str, Any]:
        kr = self.kr(objective, b)
        choice = c % 6
        if choice == 0 or kr is None:
            return {"add_key_results": [{"title": f"Added {c}", "baseline": 0, "target": 5 + c}]}
        if choice == 1:
            return {"remove_key_results": [str(kr)]}
        if choice == 2:
            return {"key_results": {str(kr): {"title": f"Renamed {c}"}}, "title": f"Retitled {c}"}
        if choice == 3:
            return {"key_results": {str(kr): {"weight": float(c % 3)}}}
        current = objective.key_results[kr]
        return {"key_results": {str(kr): {"target": (current.target or 0) + (c % 5) - 2}}}

    # ------------------------------------------------------------ commands

    def do_tick(self, a: int, b: int, c: int) -> None:
        self.ledger.clock += timedelta(hours=1 + a * 4)

    def do_draft(self, a: int, b: int, c: int) -> None:
        owners: list[dict[str, UUID]] = [{"owner_team_id": t} for t in self.teams] + [
            {"owner_person_id": p} for p in self.people
        ]
        parent = self.pick(b) if b % 3 else None
        parent_kr = self.kr(parent, c) if parent is not None and c % 2 else None
        result = self.app.draft_objective(
            cycle_id=self.cycles[1 if c % 5 == 4 else 0],
            title=f"Objective {a}",
            kind=Kind.COMMITTED if a % 3 else Kind.ASPIRATIONAL,
            ctx=self.by(self.person(a)),
            parent_objective_id=parent.id if parent else None,
            parent_key_result_id=parent_kr,
            private=b % 4 == 0,
            **owners[a % len(owners)],
        )
        self.objectives.append(result.id)
        for n in range(1 + c % 3):  # drafts come with a few key results
            self._add_key_result(self.app.get_objective(result.id), a + n, b + n, c + n)

    def do_add_key_result(self, a: int, b: int, c: int) -> None:
        if objective := self.pick(a, *EDITABLE):
            self._add_key_result(objective, a, b, c)

    def _add_key_result(self, objective: Objective, a: int, b: int, c: int) -> None:
        direction = list(Direction)[b % 4]
        baseline, target = float(b), float(b + 1 + c)
        if direction == Direction.DECREASE:
            baseline, target = target, baseline
        self.app.add_key_result(
            objective.id,
            title=f"KR {b}",
            measure=Measure.MILESTONE if c % 4 == 0 else Measure.METRIC,
            baseline=baseline,
            target=target,
            direction=direction,
            weight=float(c % 3),
            ctx=self.by(self.person(a)),
        )

    def do_update_key_result(self, a: int, b: int, c: int) -> None:
        objective = self.pick(a, *EDITABLE)
        kr = self.kr(objective, b) if objective else None
        if objective is None or kr is None:
            return
        current = objective.key_results[kr]
        self.app.update_key_result(
            objective.id,
            kr,
            self.by(self.person(c)),
            title=f"KR renamed {c}" if c % 3 == 0 else None,
            target=(current.target or 0) + (c % 7) - 3 if c % 2 else None,
            weight=float(c % 4) if c % 5 == 0 else None,
        )

    def do_remove_key_result(self, a: int, b: int, c: int) -> None:
        objective = self.pick(a, *EDITABLE)
        kr = self.kr(objective, b) if objective else None
        if objective and kr:
            self.app.remove_key_result(objective.id, kr, self.by(self.person(c)))

    def do_reword(self, a: int, b: int, c: int) -> None:
        if objective := self.pick(a, *EDITABLE, "approved"):
            self.app.update_objective(
                objective.id, self.by(self.person(c)), title=f"Reworded {b}", reason="wording"
            )

    def do_realign(self, a: int, b: int, c: int) -> None:
        objective, parent = self.pick(a, *EDITABLE, "approved"), self.pick(b) if b % 3 else None
        if objective:
            self.app.update_objective(
                objective.id,
                self.by(self.person(c)),
                realign=True,
                parent_objective_id=parent.id if parent else None,
                reason="realigned",
            )

    def do_reassign(self, a: int, b: int, c: int) -> None:
        if objective := self.pick(a, *EDITABLE, "approved"):
            owner = (
                {"owner_team_id": self.teams[b % 2]}
                if b % 3 == 0
                else {"owner_person_id": self.people[b % 3]}
            )
            self.app.update_objective(
                objective.id, self.by(self.person(c)), reassign=True, reason="moved", **owner
            )

    def do_submit(self, a: int, b: int, c: int) -> None:
        if objective := self.pick(a, *EDITABLE):
            actor = self.person(c)
            self.app.submit_objective(objective.id, self.person(b, str(actor)), self.by(actor))

    def _approver(self, objective: Objective, n: int) -> UUID:
        """Usually the named approver; now and then someone else (the domain allows it)."""
        if objective.approver_id is not None and n % 5:
            return objective.approver_id
        return self.person(n, objective.submitted_by)

    def do_approve(self, a: int, b: int, c: int) -> None:
        if objective := self.pick(a, "in_review"):
            self.app.approve_objective(objective.id, self.by(self._approver(objective, b)))

    def do_request_changes(self, a: int, b: int, c: int) -> None:
        if objective := self.pick(a, "in_review"):
            self.app.request_changes(objective.id, "not yet", self.by(self._approver(objective, b)))

    def do_counter_propose(self, a: int, b: int, c: int) -> None:
        if objective := self.pick(a, "in_review"):
            self.propose(self.app.counter_propose, objective, b, c, self._approver(objective, b))

    def do_accept_counter(self, a: int, b: int, c: int) -> None:
        if (objective := self.pick(a, "countered")) and objective.submitted_by:
            self.app.accept_counter_proposal(objective.id, self.by(objective.submitted_by))

    def do_withdraw(self, a: int, b: int, c: int) -> None:
        if objective := self.pick(a, "in_review", "countered", "changes_requested"):
            self.app.withdraw_objective(objective.id, self.by(self.person(b)))

    def do_propose_amendment(self, a: int, b: int, c: int) -> None:
        if objective := self.pick(a, "approved"):
            self.propose(self.app.propose_amendment, objective, b, c, self.person(b + c))

    def _decider(self, objective: Objective, n: int) -> UUID | None:
        pending = objective.pending_amendment
        if pending is None:
            return None
        if objective.approver_id is not None and str(objective.approver_id) != pending.proposed_by:
            return objective.approver_id
        return self.person(n, pending.proposed_by)

    def do_approve_amendment(self, a: int, b: int, c: int) -> None:
        objective = self.pick(a, "approved")
        if objective and (decider := self._decider(objective, b)) and objective.pending_amendment:
            self.app.approve_amendment(
                objective.id, objective.pending_amendment.id, self.by(decider)
            )

    def do_reject_amendment(self, a: int, b: int, c: int) -> None:
        objective = self.pick(a, "approved")
        if objective and (decider := self._decider(objective, b)) and objective.pending_amendment:
            self.app.reject_amendment(
                objective.id, objective.pending_amendment.id, "no", self.by(decider)
            )

    def do_phase(self, a: int, b: int, c: int) -> None:
        cycle = self.cycles[0 if a % 3 else 1]
        phase = self.app.get_cycle(cycle).phase.value
        by = self.by(ADMIN)
        if phase == "planning":
            self.app.start_cycle(cycle, by)
        elif phase == "active" and b % 5 == 0:
            self.app.open_grading(cycle, by)
        elif phase == "grading" and b % 3 == 0:
            self.app.close_cycle(cycle, by)
        elif phase == "closed" and b % 2 == 0:
            self.app.reopen_cycle(cycle, "late grade", by)

    def do_check_in(self, a: int, b: int, c: int) -> None:
        objective = self.pick(a, "approved", phases=("active", "grading"))
        kr_id = self.kr(objective, b) if objective else None
        if objective is None or kr_id is None:
            return
        milestone = objective.key_results[kr_id].measure == Measure.MILESTONE
        cycle = self.app.get_cycle(objective.cycle_id)
        day = min(self.ledger.clock.date() - timedelta(days=a % 3), cycle.ends_on)
        self.app.check_in(
            objective.id,
            kr_id,
            float(c % 2) if milestone else float(c),
            c % 11,
            self.by(self.person(b)),
            effective_on=max(day, cycle.starts_on),
        )

    def do_correct(self, a: int, b: int, c: int) -> None:
        objective = self.pick(a, "approved", phases=("active", "grading"))
        kr_id = self.kr(objective, b) if objective else None
        if objective is None or kr_id is None:
            return
        kr = objective.key_results[kr_id]
        live = [ci for ci in kr.check_ins if ci.superseded_by is None]
        if live:
            original = live[c % len(live)]
            milestone = kr.measure == Measure.MILESTONE
            self.app.correct_check_in(
                objective.id,
                kr_id,
                original.id,
                1.0 - original.value if milestone else float(c + 1),
                "typo",
                self.by(self.person(b)),
                confidence=(c % 11) if c % 2 else None,
            )

    def do_grade_key_result(self, a: int, b: int, c: int) -> None:
        objective = self.pick(a, "approved", phases=("grading",))
        kr_id = self.kr(objective, b) if objective else None
        if objective and kr_id:
            self.app.grade_key_result(
                objective.id,
                kr_id,
                self.by(self.person(b)),
                score=(c % 11) / 10 if c % 3 == 0 else None,
                comment="graded" if c % 2 else "",
            )

    def do_grade(self, a: int, b: int, c: int) -> None:
        if objective := self.pick(a, "approved", phases=("grading",)):
            self.app.grade_objective(
                objective.id,
                self.by(self.person(b)),
                score=(c % 11) / 10 if c % 3 else None,
                comment="overall" if c % 2 else "",
            )

    def do_abandon(self, a: int, b: int, c: int) -> None:
        if (objective := self.pick(a)) and b % 3 == 0:
            self.app.abandon_objective(objective.id, "no longer relevant", self.by(ADMIN))

    def do_carry_over(self, a: int, b: int, c: int) -> None:
        if objective := self.pick(a, "approved", phases=("active", "grading")):
            result = self.app.carry_over(objective.id, self.q2, self.by(self.person(b)))
            self.objectives.append(result.id)


def through_json(a_fold: Fold[Any], state: Any) -> Any:
    return a_fold.from_json(json.loads(json.dumps(a_fold.to_json(state))))


def flatten(views: list[ObjectiveView]) -> list[UUID]:
    return [i for v in views for i in (v.objective_id, *flatten(list(v.children)))]


def history_of(drawn: Stages) -> tuple[RandomHistory, list[Logged]]:
    history = RandomHistory()
    planning, tracking, grading = drawn
    for step in planning:
        history.run(step)
    history.advance_q1("planning")
    for step in tracking:
        history.run(step)
    history.advance_q1("active")
    for step in grading:
        history.run(step)
    return history, history.ledger.log()


SETTINGS: Callable[[Any], Any] = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@SETTINGS
@given(drawn=stages, data=st.data())
def test_folding_in_pieces_equals_folding_from_scratch(drawn: Stages, data: st.DataObject) -> None:
    """From a JSON checkpoint at a random position for every fold, and frame by frame for a
    replay of the tree (whose frames share unchanged objectives)."""
    _, log = history_of(drawn)
    cut = data.draw(st.integers(0, len(log)), label="checkpoint position")
    for a_fold in FOLDS.values():
        whole = fold(a_fold, log)
        expected = a_fold.to_json(whole)
        resumed = fold(a_fold, log[cut:], through_json(a_fold, fold(a_fold, log[:cut])))
        assert a_fold.to_json(resumed) == expected, a_fold.name
        # An overlapping page after a checkpoint applies nothing twice.
        assert a_fold.to_json(fold(a_fold, log, through_json(a_fold, whole))) == expected
        if isinstance(whole, AuditState):
            assert len(whole.rows) == len(log)
    boundaries = data.draw(
        st.lists(st.integers(0, len(log)), max_size=6, unique=True).map(sorted), label="frames"
    )
    tree_fold = TreeFold()
    frames = replay(log, boundaries)
    for boundary, frame in zip(boundaries, frames, strict=True):
        assert tree_fold.to_json(frame.state) == tree_fold.to_json(
            fold(tree_fold, log, up_to=boundary)
        )
    assert [e.position for frame in frames for e in frame.events] == [
        e.position for e in log[: boundaries[-1] if boundaries else 0]
    ]


@SETTINGS
@given(drawn=stages)
def test_the_tree_agrees_with_the_aggregates(drawn: Stages) -> None:
    history, log = history_of(drawn)
    state = fold(TreeFold(), log)
    assert sorted(state.objectives) == sorted(history.objectives)
    for cycle in history.cycles:
        shown = flatten(tree(state, cycle, include_private_for=ALL))
        assert sorted(shown) == sorted(state.cycle_objectives[cycle])
    for objective_id in history.objectives:
        aggregate = history.app.get_objective(objective_id)
        view = objective_view(state, objective_id)
        assert (view.status, view.title, view.score, view.private) == (
            aggregate.status.value,
            aggregate.title,
            aggregate.score,
            aggregate.private,
        )
        assert (view.owner_team_id, view.owner_person_id) == (
            aggregate.owner_team_id,
            aggregate.owner_person_id,
        )
        assert (view.parent_objective_id, view.parent_key_result_id) == (
            aggregate.parent_objective_id,
            aggregate.parent_key_result_id,
        )
        assert (view.state == "amendment_pending") == (
            aggregate.pending_amendment is not None
            and aggregate.score is None
            and aggregate.status.value == "approved"
        )
        expected = [
            (
                kr.id,
                kr.title,
                kr.baseline,
                kr.target,
                kr.weight,
                kr.current.value if kr.current else None,
                kr.current.confidence if kr.current else None,
                kr.progress,
                kr.score,
                kr.achieved,
            )
            for kr in aggregate.active_key_results
        ]
        assert [
            (
                kr.key_result_id,
                kr.title,
                kr.baseline,
                kr.target,
                kr.weight,
                kr.current_value,
                kr.confidence,
                kr.progress,
                kr.score,
                kr.achieved,
            )
            for kr in view.key_results
        ] == expected

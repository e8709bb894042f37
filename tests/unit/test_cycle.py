"""Cycles: planning → active → grading → closed; reopening needs a reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from domain.cycle import Cadence, Cycle, Phase, Scoring
from domain.errors import InvalidValue, RuleViolated
from tests.unit.builders import ADMIN, Q2_END, Q2_START, a_cycle, ctx
from tests.unit.gwt import classes, created, payload, refused, when


class TestPlan:
    def test_plans_a_cycle_in_the_planning_phase(self) -> None:
        cycle = Cycle.plan(
            " 2025-Q2 ", Q2_START, Q2_END, ctx(ADMIN), Cadence.BIWEEKLY, Scoring.YES_NO, 0.8
        )
        assert created(cycle, Cycle.Planned) == {
            "actor": ADMIN,
            "reason": "",
            "name": "2025-Q2",
            "starts_on": Q2_START,
            "ends_on": Q2_END,
            "cadence": "biweekly",
            "scoring": "yes_no",
            "success_threshold": 0.8,
        }
        assert cycle.phase == Phase.PLANNING
        assert (cycle.cadence, cycle.scoring) == (Cadence.BIWEEKLY, Scoring.YES_NO)

    @pytest.mark.parametrize("ends_on", [Q2_START, date(2025, 3, 31)])
    def test_must_end_after_it_starts(self, ends_on: date) -> None:
        with pytest.raises(InvalidValue) as info:
            Cycle.plan("Q", Q2_START, ends_on, ctx(ADMIN), Cadence.WEEKLY, Scoring.SCALE)
        assert (info.value.rule, info.value.field) == ("cycle_ends_before_start", "ends_on")

    @pytest.mark.parametrize("threshold", [0.0, -0.1, 1.01])
    def test_success_threshold_is_within_zero_exclusive_and_one(self, threshold: float) -> None:
        with pytest.raises(InvalidValue) as info:
            Cycle.plan("Q", Q2_START, Q2_END, ctx(ADMIN), Cadence.WEEKLY, Scoring.SCALE, threshold)
        assert (info.value.rule, info.value.field) == (
            "threshold_out_of_range",
            "success_threshold",
        )

    def test_a_threshold_of_one_is_fine(self) -> None:
        cycle = Cycle.plan("Q", Q2_START, Q2_END, ctx(ADMIN), Cadence.WEEKLY, Scoring.SCALE, 1.0)
        assert cycle.success_threshold == 1.0

    @pytest.mark.parametrize(
        ("cadence", "scoring", "field"),
        [("daily", Scoring.SCALE, "cadence"), (Cadence.WEEKLY, "stars", "scoring")],
    )
    def test_cadence_and_scoring_come_from_their_lists(
        self, cadence: str, scoring: str, field: str
    ) -> None:
        with pytest.raises(InvalidValue) as info:
            Cycle.plan("Q", Q2_START, Q2_END, ctx(ADMIN), cadence, scoring)  # type: ignore[arg-type]
        assert (info.value.rule, info.value.field) == (f"{field}_invalid", field)

    def test_needs_a_name(self) -> None:
        with pytest.raises(InvalidValue) as info:
            Cycle.plan("", Q2_START, Q2_END, ctx(ADMIN), Cadence.WEEKLY, Scoring.SCALE)
        assert (info.value.rule, info.value.field) == ("text_required", "name")


COMMANDS: dict[str, Callable[[Cycle], None]] = {
    "start": lambda c: c.start(ctx(ADMIN)),
    "open_grading": lambda c: c.open_grading(ctx(ADMIN)),
    "close": lambda c: c.close(ctx(ADMIN)),
    "reopen": lambda c: c.reopen("a late correction", ctx(ADMIN)),
}
ALLOWED = {
    # phase: (command, event, phase after)
    Phase.PLANNING: ("start", Cycle.Started, Phase.ACTIVE),
    Phase.ACTIVE: ("open_grading", Cycle.GradingOpened, Phase.GRADING),
    Phase.GRADING: ("close", Cycle.Closed, Phase.CLOSED),
    Phase.CLOSED: ("reopen", Cycle.Reopened, Phase.GRADING),
}


class TestPhases:
    @pytest.mark.parametrize("phase", list(Phase))
    def test_each_phase_allows_exactly_one_transition(self, phase: Phase) -> None:
        name, event_class, after = ALLOWED[phase]
        for other, command in COMMANDS.items():
            if other == name:
                continue
            cycle = a_cycle(phase)
            refused(cycle, lambda: command(cycle), "wrong_cycle_phase", error=RuleViolated)  # noqa: B023
        cycle = a_cycle(phase)
        events = when(cycle, lambda: COMMANDS[name](cycle))
        assert classes(events) == [event_class]
        assert cycle.phase == after

    def test_reopening_needs_a_reason_and_records_it(self) -> None:
        cycle = a_cycle(Phase.CLOSED)
        refused(cycle, lambda: cycle.reopen("  ", ctx(ADMIN)), "text_required", "reason")
        events = when(cycle, lambda: cycle.reopen("grade was entered wrongly", ctx(ADMIN)))
        assert payload(events[0]) == {"actor": ADMIN, "reason": "grade was entered wrongly"}
        assert cycle.phase == Phase.GRADING

    def test_a_reopened_cycle_closes_again(self) -> None:
        cycle = a_cycle(Phase.CLOSED)
        cycle.reopen("fix", ctx(ADMIN))
        cycle.close(ctx(ADMIN))
        assert classes(cycle.collect_events()) == [Cycle.Reopened, Cycle.Closed]
        assert cycle.phase == Phase.CLOSED

    def test_require_open_for_names_what_was_attempted(self) -> None:
        cycle = a_cycle(Phase.CLOSED)
        with pytest.raises(RuleViolated) as info:
            cycle.require_open_for("check in", Phase.ACTIVE, Phase.GRADING)
        assert info.value.rule == "wrong_cycle_phase"
        assert "check in" in info.value.message and "closed" in info.value.message
        cycle.require_open_for("look", Phase.CLOSED)  # does not raise

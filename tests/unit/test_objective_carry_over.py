"""Carry-over: unfinished key results start a draft in a later cycle, keeping their lineage."""

from __future__ import annotations

import pytest

from domain.cycle import Phase
from domain.objective import Objective, Status
from domain.scoring import Direction, Measure
from tests.unit.builders import (
    ALICE,
    BOB,
    Given,
    a_cycle,
    advance,
    an_objective,
    ctx,
    next_quarter,
    refused_in_phase,
)
from tests.unit.gwt import classes, payload, refused, when


def quarter_with_mixed_results(phase: Phase = Phase.ACTIVE) -> Given:
    return (
        an_objective(title="Grow the community")
        .aspirational()
        .with_kr(title="Members", baseline=100, target=200)  # 0: half-way
        .with_kr(title="Tickets", baseline=200, target=100, direction=Direction.DECREASE)  # 1
        .with_kr(title="Uptime", baseline=None, target=99.9, direction=Direction.AT_LEAST)  # 2
        .with_milestone("Launch forum")  # 3: not done
        .with_kr(title="Meetups", baseline=0, target=4)  # 4: done
        .with_kr(title="Talks", baseline=0, target=10)  # 5: no check-in
        .checked_in(0, 150)
        .checked_in(1, 160)
        .checked_in(2, 98.0)
        .checked_in(3, 0)
        .checked_in(4, 5)
        .in_phase(phase)
        .build()
    )


class TestCarryOver:
    def test_starts_a_linked_draft_with_the_unfinished_key_results(self) -> None:
        given = quarter_with_mixed_results()
        o, q3 = given.objective, next_quarter()
        successors: list[Objective] = []
        events = when(o, lambda: successors.append(o.carry_over(q3, given.cycle, ctx(ALICE))))
        [successor] = successors

        assert classes(events) == [Objective.CarriedOver]
        assert payload(events[0]) == {
            "actor": str(ALICE),
            "reason": "",
            "to_cycle_id": q3.id,
            "successor_id": successor.id,
        }
        assert o.carried_to == successor.id

        new_events = successor.collect_events()
        assert classes(new_events) == [Objective.Drafted] + [Objective.KeyResultAdded] * 5
        drafted = payload(new_events[0])
        assert (drafted["cycle_id"], drafted["carried_from"], drafted["title"]) == (
            q3.id,
            o.id,
            "Grow the community",
        )
        assert (drafted["kind"], drafted["owner_person_id"]) == ("aspirational", ALICE)
        assert (successor.status, successor.carried_from) == (Status.DRAFT, o.id)

        carried = {kr.title: kr for kr in successor.active_key_results}
        assert set(carried) == {"Members", "Tickets", "Uptime", "Launch forum", "Talks"}
        assert "Meetups" not in carried, "an achieved key result is not carried over"
        for index, title in [(0, "Members"), (1, "Tickets"), (2, "Uptime"), (3, "Launch forum")]:
            old, new = given.kr(index), carried[title]
            assert new.lineage_id == old.lineage_id, "the lineage survives the carry-over"
            assert new.id != old.id
            assert (new.check_ins, new.score) == ([], None)
            assert (new.weight, new.unit, new.direction) == (old.weight, old.unit, old.direction)

    def test_metric_key_results_are_rebaselined_to_where_the_quarter_ended(self) -> None:
        given = quarter_with_mixed_results()
        successor = given.objective.carry_over(next_quarter(), given.cycle, ctx())
        carried = {kr.title: kr for kr in successor.active_key_results}
        assert (carried["Members"].baseline, carried["Members"].target) == (150.0, 200.0)
        assert (carried["Tickets"].baseline, carried["Tickets"].target) == (160.0, 100.0)
        assert (carried["Uptime"].baseline, carried["Uptime"].target) == (None, 99.9)
        assert (carried["Talks"].baseline, carried["Talks"].target) == (0.0, 10.0)
        forum = carried["Launch forum"]
        assert (forum.measure, forum.baseline, forum.target) == (Measure.MILESTONE, 0.0, 1.0)

    def test_rebaselining_uses_the_corrected_value(self) -> None:
        given = an_objective().checked_in(0, 190).build()
        o = given.objective
        o.correct_check_in(
            given.cycle, given.kr_ids[0], given.check_in_ids()[0], 130, "typo", ctx()
        )
        successor = o.carry_over(next_quarter(), given.cycle, ctx())
        assert successor.active_key_results[0].baseline == 130.0

    def test_key_results_graded_achieved_are_skipped(self) -> None:
        given = (
            an_objective()
            .with_kr(title="A")
            .with_kr(title="B")
            .checked_in(0, 150)
            .checked_in(1, 150)
            .kr_graded(0, achieved=True, comment="the deal closed after the last check-in")
            .build()
        )
        successor = given.objective.carry_over(next_quarter(), given.cycle, ctx())
        assert [kr.title for kr in successor.active_key_results] == ["B"]

    def test_removed_key_results_are_not_carried(self) -> None:
        given = an_objective().with_kr(title="A").with_kr(title="B").approved().build()
        o, c = given.objective, given.cycle
        amendment = o.propose_amendment(
            c, {"remove_key_results": [str(given.kr_ids[1])]}, "r", ctx()
        )
        o.approve_amendment(c, amendment, ctx(BOB))
        advance(c, Phase.ACTIVE)
        successor = o.carry_over(next_quarter(), c, ctx())
        assert [kr.title for kr in successor.active_key_results] == ["A"]

    @pytest.mark.parametrize("phase", [Phase.ACTIVE, Phase.GRADING])
    def test_from_an_active_or_grading_cycle(self, phase: Phase) -> None:
        given = quarter_with_mixed_results(phase)
        successor = given.objective.carry_over(next_quarter(Phase.ACTIVE), given.cycle, ctx())
        assert successor.cycle_id != given.cycle.id

    def test_only_once(self) -> None:
        given = quarter_with_mixed_results()
        o, q3 = given.objective, next_quarter()
        o.carry_over(q3, given.cycle, ctx())
        o.collect_events()
        refused(o, lambda: o.carry_over(q3, given.cycle, ctx()), "already_carried_over")

    def test_only_forwards_in_time(self) -> None:
        given = quarter_with_mixed_results()
        o = given.objective
        earlier = a_cycle(starts_on=given.cycle.starts_on.replace(month=1), name="Q1")
        for target in (earlier, a_cycle(name="Same start")):
            refused(
                (o, target),
                lambda: o.carry_over(target, given.cycle, ctx()),  # noqa: B023
                "carry_over_backwards",
                "to_cycle_id",
            )

    @pytest.mark.parametrize("phase", [Phase.PLANNING, Phase.CLOSED])
    def test_not_from_a_cycle_still_planning_or_already_closed(self, phase: Phase) -> None:
        refused_in_phase(phase, lambda g: g.objective.carry_over(next_quarter(), g.cycle, ctx()))

    @pytest.mark.parametrize("phase", [Phase.GRADING, Phase.CLOSED])
    def test_not_into_a_cycle_past_planning_and_tracking(self, phase: Phase) -> None:
        given = quarter_with_mixed_results()
        o = given.objective
        refused(
            o, lambda: o.carry_over(next_quarter(phase), given.cycle, ctx()), "wrong_cycle_phase"
        )

    def test_not_an_abandoned_objective(self) -> None:
        given = an_objective().approved().abandoned_().in_phase(Phase.ACTIVE).build()
        o = given.objective
        refused(o, lambda: o.carry_over(next_quarter(), given.cycle, ctx()), "objective_abandoned")

    def test_a_successor_can_itself_be_carried_over_and_keeps_the_lineage(self) -> None:
        given = an_objective().checked_in(0, 120).build()
        q3 = next_quarter()
        successor = given.objective.carry_over(q3, given.cycle, ctx())
        successor.submit_for_approval(q3, given.kr_ids[0], ctx())  # any other person id
        successor.approve(q3, ctx("someone-else"))
        q3.start(ctx("admin"))
        q4 = a_cycle(
            starts_on=q3.ends_on.replace(month=10, day=1),
            ends_on=q3.ends_on.replace(month=12, day=31),
            name="Q4",
        )
        third = successor.carry_over(q4, q3, ctx())
        assert third.carried_from == successor.id
        assert third.active_key_results[0].lineage_id == given.kr().lineage_id

"""Drafting an objective and shaping it: ownership, alignment, wording, key results, abandoning."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest

from domain.cycle import Phase
from domain.errors import InvalidValue, OkrError, RuleViolated
from domain.objective import Kind, Objective, Perspective, Status
from domain.scoring import Direction, Measure
from tests.unit.builders import (
    ALICE,
    BOB,
    ObjectiveBuilder,
    a_cycle,
    an_objective,
    ctx,
    metric,
    milestone,
    next_quarter,
    refused_in_phase,
)
from tests.unit.gwt import classes, created, payload, refused, when


def draft(**kw: Any) -> Objective:
    args: dict[str, Any] = {
        "cycle": a_cycle(),
        "owner_team_id": None,
        "owner_person_id": ALICE,
        "title": "Delight new customers",
        "kind": Kind.COMMITTED,
        "ctx": ctx(ALICE),
    }
    args.update(kw)
    return Objective.draft(**args)


class TestDraft:
    def test_drafts_an_objective_with_everything_it_was_given(self) -> None:
        cycle, team_id = a_cycle(), uuid4()
        objective = draft(
            cycle=cycle,
            owner_team_id=team_id,
            owner_person_id=None,
            title="  Delight new customers ",
            description=" so they stay ",
            kind=Kind.ASPIRATIONAL,
            perspective=Perspective.CUSTOMER,
            private=True,
        )
        assert created(objective, Objective.Drafted) == {
            "actor": str(ALICE),
            "reason": "",
            "cycle_id": cycle.id,
            "owner_team_id": team_id,
            "owner_person_id": None,
            "title": "Delight new customers",
            "description": "so they stay",
            "kind": "aspirational",
            "perspective": "customer",
            "parent_objective_id": None,
            "parent_key_result_id": None,
            "private": True,
            "carried_from": None,
        }
        assert objective.status == Status.DRAFT
        assert objective.key_results == {}
        assert objective.score is None

    @pytest.mark.parametrize("phase", [Phase.PLANNING, Phase.ACTIVE])
    def test_objectives_are_drafted_while_planning_or_active(self, phase: Phase) -> None:
        assert draft(cycle=a_cycle(phase)).status == Status.DRAFT

    @pytest.mark.parametrize("phase", [Phase.GRADING, Phase.CLOSED])
    def test_not_in_grading_or_a_closed_cycle(self, phase: Phase) -> None:
        with pytest.raises(RuleViolated) as info:
            draft(cycle=a_cycle(phase))
        assert info.value.rule == "wrong_cycle_phase"

    @pytest.mark.parametrize(("team", "person"), [(uuid4(), ALICE), (None, None)])
    def test_has_exactly_one_owner(self, team: Any, person: Any) -> None:
        with pytest.raises(InvalidValue) as info:
            draft(owner_team_id=team, owner_person_id=person)
        assert (info.value.rule, info.value.field) == ("one_owner", "owner_team_id")

    @pytest.mark.parametrize(
        ("kw", "rule", "field"),
        [
            ({"kind": "stretch"}, "kind_invalid", "kind"),
            ({"perspective": "marketing"}, "perspective_invalid", "perspective"),
            ({"title": "  "}, "text_required", "title"),
            ({"title": "x" * 201}, "text_too_long", "title"),
        ],
    )
    def test_refuses_invalid_values(self, kw: dict[str, Any], rule: str, field: str) -> None:
        with pytest.raises(InvalidValue) as info:
            draft(**kw)
        assert (info.value.rule, info.value.field) == (rule, field)


class TestAlignment:
    def test_aligns_to_a_parent_objective_and_one_of_its_key_results(self) -> None:
        parent = an_objective().build()
        objective = draft(
            cycle=parent.cycle, parent=parent.objective, parent_key_result_id=parent.kr_ids[0]
        )
        assert objective.parent_objective_id == parent.objective.id
        assert objective.parent_key_result_id == parent.kr_ids[0]

    def test_the_parent_is_in_the_same_cycle(self) -> None:
        parent = an_objective().build()
        with pytest.raises(RuleViolated) as info:
            draft(cycle=next_quarter(), parent=parent.objective)
        assert (info.value.rule, info.value.field) == (
            "parent_in_other_cycle",
            "parent_objective_id",
        )

    def test_the_parent_is_not_abandoned(self) -> None:
        parent = an_objective().abandoned_().build()
        with pytest.raises(RuleViolated) as info:
            draft(cycle=parent.cycle, parent=parent.objective)
        assert (info.value.rule, info.value.field) == ("parent_abandoned", "parent_objective_id")

    def test_a_parent_key_result_must_be_a_live_key_result_of_the_parent(self) -> None:
        parent = an_objective().with_kr().with_kr(title="Second").build()
        parent.objective.remove_key_result(parent.cycle, parent.kr_ids[1], ctx(ALICE))
        for kr_id in (uuid4(), parent.kr_ids[1]):
            with pytest.raises(InvalidValue) as info:
                draft(cycle=parent.cycle, parent=parent.objective, parent_key_result_id=kr_id)
            assert (info.value.rule, info.value.field) == (
                "parent_key_result_not_found",
                "parent_key_result_id",
            )

    def test_aligning_to_a_key_result_names_its_objective_too(self) -> None:
        with pytest.raises(InvalidValue) as info:
            draft(parent_key_result_id=uuid4())
        assert (info.value.rule, info.value.field) == (
            "parent_objective_required",
            "parent_key_result_id",
        )

    def test_realigns_to_another_parent_or_none(self) -> None:
        given = an_objective().build()
        parent = draft(cycle=given.cycle)
        parent.collect_events()
        objective = given.objective
        events = when(objective, lambda: objective.realign(given.cycle, parent, None, ctx(ALICE)))
        assert classes(events) == [Objective.Realigned]
        assert payload(events[0]) == {
            "actor": str(ALICE),
            "reason": "",
            "parent_objective_id": parent.id,
            "parent_key_result_id": None,
        }
        when(objective, lambda: objective.realign(given.cycle, None, None, ctx(ALICE)))
        assert objective.parent_objective_id is None

    def test_an_objective_cannot_align_to_itself(self) -> None:
        given = an_objective().build()
        o = given.objective
        refused(
            o,
            lambda: o.realign(given.cycle, o, None, ctx(ALICE)),
            "alignment_cycle",
            "parent_objective_id",
        )


class TestRewordAndReassign:
    def test_rewords_a_draft_without_a_reason(self) -> None:
        given = an_objective().build()
        o = given.objective
        events = when(o, lambda: o.reword(given.cycle, " Keep customers ", " longer ", ctx(ALICE)))
        assert classes(events) == [Objective.Reworded]
        assert payload(events[0]) == {
            "actor": str(ALICE),
            "reason": "",
            "title": "Keep customers",
            "description": "longer",
        }

    def test_rewording_without_a_description_keeps_it(self) -> None:
        given = an_objective().build()
        o = given.objective
        o.reword(given.cycle, "First", "kept", ctx(ALICE))
        o.reword(given.cycle, "Second", None, ctx(ALICE))
        assert (o.title, o.description) == ("Second", "kept")

    def test_after_approval_a_rewording_says_why(self) -> None:
        given = an_objective().approved().build()
        o = given.objective
        refused(
            o,
            lambda: o.reword(given.cycle, "Sharper title", None, ctx(ALICE)),
            "text_required",
            "reason",
        )
        events = when(o, lambda: o.reword(given.cycle, "Sharper", None, ctx(ALICE), "clarity"))
        assert payload(events[0])["reason"] == "clarity"
        assert o.status == Status.APPROVED

    def test_the_content_is_frozen_while_under_review(self) -> None:
        given = an_objective().submitted().build()
        o, c = given.objective, given.cycle
        refused(o, lambda: o.reword(c, "New", None, ctx(ALICE)), "under_review")
        refused(o, lambda: o.realign(c, None, None, ctx(ALICE)), "under_review")
        refused(o, lambda: o.reassign(c, None, BOB, ctx(ALICE)), "under_review")

    def test_reassigns_to_a_team_or_a_person(self) -> None:
        given = an_objective().build()
        o, team_id = given.objective, uuid4()
        events = when(o, lambda: o.reassign(given.cycle, team_id, None, ctx(ALICE)))
        assert classes(events) == [Objective.Reassigned]
        assert payload(events[0]) == {
            "actor": str(ALICE),
            "reason": "",
            "owner_team_id": team_id,
            "owner_person_id": None,
        }
        assert (o.owner_team_id, o.owner_person_id) == (team_id, None)

    def test_reassigning_keeps_exactly_one_owner(self) -> None:
        given = an_objective().build()
        o = given.objective
        refused(
            o,
            lambda: o.reassign(given.cycle, uuid4(), BOB, ctx(ALICE)),
            "one_owner",
            "owner_team_id",
        )

    @pytest.mark.parametrize("phase", [Phase.GRADING, Phase.CLOSED])
    def test_no_rewording_realigning_or_reassigning_after_the_active_phase(
        self, phase: Phase
    ) -> None:
        refused_in_phase(phase, lambda g: g.objective.reword(g.cycle, "T", None, ctx(ALICE), "r"))
        refused_in_phase(phase, lambda g: g.objective.realign(g.cycle, None, None, ctx(ALICE), "r"))
        refused_in_phase(phase, lambda g: g.objective.reassign(g.cycle, None, BOB, ctx(ALICE), "r"))


class TestAbandon:
    def test_abandoning_needs_a_reason(self) -> None:
        given = an_objective().build()
        o = given.objective
        refused(o, lambda: o.abandon(given.cycle, " ", ctx(ALICE)), "text_required", "reason")

    @pytest.mark.parametrize("phase", [Phase.PLANNING, Phase.ACTIVE, Phase.GRADING])
    def test_abandons_with_the_reason(self, phase: Phase) -> None:
        given = an_objective().approved().in_phase(phase).build()
        o = given.objective
        events = when(o, lambda: o.abandon(given.cycle, "market moved", ctx(ALICE)))
        assert classes(events) == [Objective.Abandoned]
        assert payload(events[0]) == {"actor": str(ALICE), "reason": "market moved"}
        assert (o.status, o.abandon_reason) == (Status.ABANDONED, "market moved")

    def test_every_later_command_is_refused(self) -> None:
        given = an_objective().approved().abandoned_().in_phase(Phase.ACTIVE).build()
        o, c, kr = given.objective, given.cycle, given.kr_ids[0]
        for command in [
            lambda: o.abandon(c, "again", ctx(ALICE)),
            lambda: o.reword(c, "T", None, ctx(ALICE), "r"),
            lambda: o.realign(c, None, None, ctx(ALICE), "r"),
            lambda: o.reassign(c, None, BOB, ctx(ALICE), "r"),
            lambda: o.add_key_result(**metric(), cycle=c, ctx=ctx(ALICE)),
            lambda: o.update_key_result(c, kr, ctx(ALICE), weight=3),
            lambda: o.remove_key_result(c, kr, ctx(ALICE)),
            lambda: o.submit_for_approval(c, BOB, ctx(ALICE)),
            lambda: o.approve(c, ctx(BOB)),
            lambda: o.withdraw(c, ctx(ALICE)),
            lambda: o.propose_amendment(c, {"title": "T"}, "r", ctx(ALICE)),
            lambda: o.check_in(c, kr, 150, 5, ctx(ALICE)),
        ]:
            refused(o, command, "objective_abandoned", error=RuleViolated)


class TestAddKeyResult:
    def test_adds_a_metric_key_result_with_a_fresh_lineage(self) -> None:
        given = an_objective().build()
        o = given.objective
        events = when(
            o,
            lambda: o.add_key_result(
                title=" Cut p95 latency ",
                measure=Measure.METRIC,
                baseline=450,
                target=200,
                unit=" ms ",
                direction=Direction.DECREASE,
                weight=2,
                cycle=given.cycle,
                ctx=ctx(ALICE),
            ),
        )
        assert classes(events) == [Objective.KeyResultAdded]
        data = payload(events[0])
        kr_id, lineage_id = data.pop("key_result_id"), data.pop("lineage_id")
        assert kr_id != lineage_id
        assert data == {
            "actor": str(ALICE),
            "reason": "",
            "title": "Cut p95 latency",
            "measure": "metric",
            "baseline": 450.0,
            "target": 200.0,
            "unit": "ms",
            "direction": "decrease",
            "weight": 2.0,
        }
        kr = o.key_results[kr_id]
        assert (kr.lineage_id, kr.removed, kr.check_ins, kr.progress) == (lineage_id, False, [], 0)
        assert type(kr.baseline) is float and type(kr.weight) is float

    def test_a_milestone_runs_from_zero_to_one_upwards(self) -> None:
        given = an_objective().build()
        o = given.objective
        kr_id = o.add_key_result(
            title="Launch",
            measure=Measure.MILESTONE,
            baseline=40,
            target=7,
            direction=Direction.DECREASE,
            cycle=given.cycle,
            ctx=ctx(ALICE),
        )
        kr = o.key_results[kr_id]
        assert (kr.baseline, kr.target, kr.direction) == (0.0, 1.0, Direction.INCREASE)

    @pytest.mark.parametrize(
        ("spec", "rule", "field"),
        [
            ({"weight": -0.5}, "weight_negative", "weight"),
            ({"weight": math.nan}, "not_finite", "weight"),
            ({"weight": math.inf}, "not_finite", "weight"),
            ({"weight": "heavy"}, "not_a_number", "weight"),
            ({"measure": "vibes"}, "measure_invalid", "measure"),
            ({"direction": "sideways"}, "direction_invalid", "direction"),
            ({"target": None}, "target_required", "target"),
            ({"baseline": None}, "baseline_required", "baseline"),
            ({"baseline": None, "direction": Direction.DECREASE}, "baseline_required", "baseline"),
            ({"baseline": 100, "target": 100}, "target_equals_baseline", "target"),
            ({"baseline": 100, "target": 50}, "target_below_baseline", "target"),
            (
                {"baseline": 100, "target": 150, "direction": Direction.DECREASE},
                "target_above_baseline",
                "target",
            ),
            ({"baseline": math.inf}, "not_finite", "baseline"),
            ({"target": "lots"}, "not_a_number", "target"),
            ({"title": ""}, "text_required", "title"),
        ],
    )
    def test_refuses_an_invalid_definition(
        self, spec: dict[str, Any], rule: str, field: str
    ) -> None:
        given = an_objective().build()
        o = given.objective
        definition = {**metric(), **spec}
        refused(
            o,
            lambda: o.add_key_result(**definition, cycle=given.cycle, ctx=ctx(ALICE)),
            rule,
            field,
            InvalidValue,
        )

    @pytest.mark.parametrize("direction", [Direction.AT_LEAST, Direction.AT_MOST])
    def test_thresholds_need_no_baseline(self, direction: Direction) -> None:
        given = an_objective().build()
        o = given.objective
        kr_id = o.add_key_result(
            **metric(baseline=None, target=99.9, direction=direction),
            cycle=given.cycle,
            ctx=ctx(ALICE),
        )
        assert o.key_results[kr_id].baseline is None

    def test_a_weight_of_zero_is_allowed(self) -> None:
        given = an_objective().build()
        o = given.objective
        kr_id = o.add_key_result(**metric(weight=0), cycle=given.cycle, ctx=ctx(ALICE))
        assert o.key_results[kr_id].weight == 0.0

    def test_carry_over_passes_a_lineage_through(self) -> None:
        given = an_objective().build()
        o, lineage = given.objective, uuid4()
        kr_id = o.add_key_result(**milestone(), lineage_id=lineage, cycle=given.cycle, ctx=ctx())
        assert o.key_results[kr_id].lineage_id == lineage

    @pytest.mark.parametrize(
        ("state", "rule", "error"),
        [
            (lambda: an_objective().approved(), "amendment_required", RuleViolated),
            (lambda: an_objective().submitted(), "not_editable", OkrError),
        ],
        ids=["after_approval_adding_a_key_result_is_an_amendment", "not_while_under_review"],
    )
    def test_adding_a_key_result_is_refused(
        self, state: Callable[[], ObjectiveBuilder], rule: str, error: type[OkrError]
    ) -> None:
        given = state().build()
        o = given.objective
        refused(
            o,
            lambda: o.add_key_result(**metric(), cycle=given.cycle, ctx=ctx(ALICE)),
            rule,
            error=error,
        )

    @pytest.mark.parametrize("status", ["changes_requested", "countered"])
    def test_allowed_while_changes_were_requested_or_countered(self, status: str) -> None:
        builder = an_objective()
        given = (
            builder.changes_requested() if status == "changes_requested" else builder.countered()
        ).build()
        o = given.objective
        o.add_key_result(**metric(title="Another"), cycle=given.cycle, ctx=ctx(ALICE))
        assert len(o.active_key_results) == 2


class TestUpdateKeyResult:
    def test_each_kind_of_change_is_its_own_event(self) -> None:
        given = an_objective().build()
        o, kr_id = given.objective, given.kr_ids[0]
        events = when(
            o,
            lambda: o.update_key_result(
                given.cycle, kr_id, ctx(ALICE), title="Grow WAU", baseline=90, target=250, weight=3
            ),
        )
        assert classes(events) == [
            Objective.KeyResultReworded,
            Objective.KeyResultRetargeted,
            Objective.KeyResultReweighted,
        ]
        assert payload(events[0]) == {
            "actor": str(ALICE),
            "reason": "",
            "key_result_id": kr_id,
            "title": "Grow WAU",
        }
        assert payload(events[1]) == {
            "actor": str(ALICE),
            "reason": "",
            "key_result_id": kr_id,
            "baseline": 90.0,
            "target": 250.0,
        }
        assert payload(events[2]) == {
            "actor": str(ALICE),
            "reason": "",
            "key_result_id": kr_id,
            "weight": 3.0,
        }
        kr = o.key_results[kr_id]
        assert (kr.title, kr.baseline, kr.target, kr.weight) == ("Grow WAU", 90.0, 250.0, 3.0)

    def test_only_what_changed_is_recorded(self) -> None:
        given = an_objective().build()
        o, kr_id = given.objective, given.kr_ids[0]
        events = when(o, lambda: o.update_key_result(given.cycle, kr_id, ctx(ALICE), target=300))
        assert classes(events) == [Objective.KeyResultRetargeted]
        assert payload(events[0])["baseline"] == 100.0  # unchanged, restated
        same = when(
            o,
            lambda: o.update_key_result(
                given.cycle, kr_id, ctx(ALICE), title=" Raise weekly active users ", weight=1
            ),
        )
        assert same == []

    @pytest.mark.parametrize(
        ("change", "rule", "field"),
        [
            ({"weight": -1}, "weight_negative", "weight"),
            ({"target": 100}, "target_equals_baseline", "target"),
            ({"target": 50}, "target_below_baseline", "target"),
            ({"baseline": 300}, "target_below_baseline", "target"),
            ({"title": "  "}, "text_required", "title"),
            ({"title": "ok", "weight": math.nan}, "not_finite", "weight"),
        ],
    )
    def test_refuses_an_invalid_change_entirely(
        self, change: dict[str, Any], rule: str, field: str
    ) -> None:
        given = an_objective().build()
        o, kr_id = given.objective, given.kr_ids[0]
        refused(
            o, lambda: o.update_key_result(given.cycle, kr_id, ctx(ALICE), **change), rule, field
        )

    @pytest.mark.parametrize(
        "change", [{"target": 500}, {"baseline": 50}, {"weight": 5}, {"title": "Renamed"}]
    )
    def test_after_approval_a_direct_edit_is_refused(self, change: dict[str, Any]) -> None:
        given = an_objective().approved().build()
        o, kr_id = given.objective, given.kr_ids[0]
        refused(
            o,
            lambda: o.update_key_result(given.cycle, kr_id, ctx(ALICE), **change),
            "amendment_required",
            error=RuleViolated,
        )

    def test_not_while_under_review(self) -> None:
        given = an_objective().submitted().build()
        o, kr_id = given.objective, given.kr_ids[0]
        refused(
            o,
            lambda: o.update_key_result(given.cycle, kr_id, ctx(ALICE), weight=2),
            "not_editable",
        )

    def test_unknown_or_removed_key_results(self) -> None:
        given = an_objective().with_kr().with_kr(title="Second").build()
        o, c = given.objective, given.cycle
        refused(
            o,
            lambda: o.update_key_result(c, uuid4(), ctx(ALICE), weight=2),
            "key_result_not_found",
            "key_result_id",
            InvalidValue,
        )
        o.remove_key_result(c, given.kr_ids[1], ctx(ALICE))
        o.collect_events()
        refused(
            o,
            lambda: o.update_key_result(c, given.kr_ids[1], ctx(ALICE), weight=2),
            "key_result_removed",
            "key_result_id",
            RuleViolated,
        )

    def test_a_draft_in_the_active_phase_is_still_editable(self) -> None:
        given = an_objective().in_phase(Phase.ACTIVE).build()
        o = given.objective
        when(o, lambda: o.update_key_result(given.cycle, given.kr_ids[0], ctx(ALICE), weight=2))
        assert given.kr().weight == 2.0

    def test_not_in_grading(self) -> None:
        given = an_objective().in_phase(Phase.GRADING).build()
        o = given.objective
        refused(
            o,
            lambda: o.update_key_result(given.cycle, given.kr_ids[0], ctx(ALICE), weight=2),
            "wrong_cycle_phase",
        )


class TestRemoveKeyResult:
    def test_removal_marks_the_key_result_and_keeps_it(self) -> None:
        given = an_objective().with_kr().with_kr(title="Second").build()
        o, kr_id = given.objective, given.kr_ids[1]
        events = when(o, lambda: o.remove_key_result(given.cycle, kr_id, ctx(ALICE), "dup"))
        assert classes(events) == [Objective.KeyResultRemoved]
        assert payload(events[0]) == {"actor": str(ALICE), "reason": "dup", "key_result_id": kr_id}
        assert o.key_results[kr_id].removed is True
        assert [kr.id for kr in o.active_key_results] == [given.kr_ids[0]]

    def test_a_removed_key_result_is_not_removed_again(self) -> None:
        given = an_objective().build()
        o, kr_id = given.objective, given.kr_ids[0]
        o.remove_key_result(given.cycle, kr_id, ctx(ALICE))
        o.collect_events()
        refused(
            o, lambda: o.remove_key_result(given.cycle, kr_id, ctx(ALICE)), "key_result_removed"
        )

    def test_after_approval_removing_is_an_amendment(self) -> None:
        given = an_objective().with_kr().with_kr(title="Second").approved().build()
        o = given.objective
        refused(
            o,
            lambda: o.remove_key_result(given.cycle, given.kr_ids[1], ctx(ALICE)),
            "amendment_required",
        )

"""Grading (yes/no and scale, suggested from progress), the objective's score, and reflection."""

from __future__ import annotations

import math
from typing import Any

import pytest

from domain.cycle import Phase, Scoring
from domain.errors import InvalidValue, RuleViolated
from domain.objective import Objective
from tests.unit.builders import ALICE, BOB, Given, a_cycle, an_objective, ctx, refused_in_phase
from tests.unit.gwt import classes, payload, refused, when


def grading(
    value: float = 160, *, yes_no: bool = False, threshold: float = 0.7, aspirational: bool = False
) -> Given:
    """One metric KR (100 → 200) checked in at `value`, in the grading phase."""
    b = an_objective().aspirational() if aspirational else an_objective()
    if yes_no or threshold != 0.7:
        b = b.in_cycle(
            a_cycle(
                scoring=Scoring.YES_NO if yes_no else Scoring.SCALE, success_threshold=threshold
            )
        )
    return b.checked_in(0, value).in_phase(Phase.GRADING).build()


class TestGradeKeyResultOnScale:
    def test_the_suggested_grade_is_the_progress_rounded(self) -> None:
        given = grading(160)
        o, kr_id = given.objective, given.kr_ids[0]
        events = when(o, lambda: o.grade_key_result(given.cycle, kr_id, ctx(ALICE)))
        assert classes(events) == [Objective.KeyResultGraded]
        assert payload(events[0]) == {
            "actor": str(ALICE),
            "reason": "",
            "key_result_id": kr_id,
            "score": 0.6,
            "achieved": False,  # below the 0.7 success threshold
            "suggested_score": 0.6,
            "comment": "",
        }
        kr = given.kr()
        assert (kr.score, kr.achieved, kr.grade_comment) == (0.6, False, "")

    def test_an_aspirational_kr_is_achieved_at_the_cycle_success_threshold(self) -> None:
        given = grading(160, threshold=0.6, aspirational=True)
        given.objective.grade_key_result(given.cycle, given.kr_ids[0], ctx())
        assert given.kr().achieved is True

    def test_a_committed_kr_is_achieved_only_when_fully_delivered(self) -> None:
        below = grading(190, threshold=0.6)
        below.objective.grade_key_result(below.cycle, below.kr_ids[0], ctx())
        assert (below.kr().score, below.kr().achieved) == (0.9, False)
        delivered = grading(200, threshold=0.6)
        delivered.objective.grade_key_result(delivered.cycle, delivered.kr_ids[0], ctx())
        assert (delivered.kr().score, delivered.kr().achieved) == (1.0, True)

    def test_a_score_close_to_the_suggestion_needs_no_comment(self) -> None:
        given = grading(160)
        given.objective.grade_key_result(given.cycle, given.kr_ids[0], ctx(), score=0.64)
        assert given.kr().score == 0.64

    def test_overriding_the_suggestion_needs_a_comment(self) -> None:
        given = grading(160, aspirational=True)
        o, kr_id = given.objective, given.kr_ids[0]
        refused(
            o,
            lambda: o.grade_key_result(given.cycle, kr_id, ctx(), score=0.9),
            "override_needs_comment",
            "comment",
            InvalidValue,
        )
        events = when(
            o,
            lambda: o.grade_key_result(
                given.cycle, kr_id, ctx(), score=0.9, comment=" signed two big deals late "
            ),
        )
        data = payload(events[0])
        assert (data["score"], data["suggested_score"], data["achieved"], data["comment"]) == (
            0.9,
            0.6,
            True,
            "signed two big deals late",
        )

    @pytest.mark.parametrize(
        ("score", "rule"),
        [(1.01, "score_out_of_range"), (-0.1, "score_out_of_range"), (math.nan, "not_finite")],
    )
    def test_the_score_is_between_zero_and_one(self, score: float, rule: str) -> None:
        given = grading(160)
        o = given.objective
        refused(
            o,
            lambda: o.grade_key_result(
                given.cycle, given.kr_ids[0], ctx(), score=score, comment="c"
            ),
            rule,
            "score",
        )

    def test_regrading_needs_a_comment(self) -> None:
        given = grading(160)
        o, kr_id = given.objective, given.kr_ids[0]
        o.grade_key_result(given.cycle, kr_id, ctx())
        o.collect_events()
        refused(
            o,
            lambda: o.grade_key_result(given.cycle, kr_id, ctx()),
            "regrade_needs_comment",
            "comment",
        )
        when(o, lambda: o.grade_key_result(given.cycle, kr_id, ctx(BOB), 0.7, comment="adjusted"))
        assert given.kr().score == 0.7

    def test_without_check_ins_the_suggestion_is_zero(self) -> None:
        given = an_objective().approved().in_phase(Phase.GRADING).build()
        given.objective.grade_key_result(given.cycle, given.kr_ids[0], ctx())
        assert (given.kr().score, given.kr().achieved) == (0.0, False)


class TestGradeKeyResultYesNo:
    def test_achieved_is_suggested_from_full_progress(self) -> None:
        given = grading(200, yes_no=True)
        o = given.objective
        events = when(o, lambda: o.grade_key_result(given.cycle, given.kr_ids[0], ctx()))
        assert payload(events[0]) | {"key_result_id": None} == {
            "actor": str(ALICE),
            "reason": "",
            "key_result_id": None,
            "score": 1.0,
            "achieved": True,
            "suggested_score": 1.0,
            "comment": "",
        }

    def test_partial_progress_is_not_achieved(self) -> None:
        given = grading(190, yes_no=True)
        given.objective.grade_key_result(given.cycle, given.kr_ids[0], ctx())
        assert (given.kr().score, given.kr().achieved) == (0.0, False)

    def test_a_yes_no_cycle_takes_no_score(self) -> None:
        given = grading(200, yes_no=True)
        o = given.objective
        refused(
            o,
            lambda: o.grade_key_result(given.cycle, given.kr_ids[0], ctx(), score=1.0),
            "score_in_yes_no_cycle",
            "score",
        )

    def test_saying_otherwise_than_the_progress_needs_a_comment(self) -> None:
        given = grading(150, yes_no=True)
        o, kr_id = given.objective, given.kr_ids[0]
        refused(
            o,
            lambda: o.grade_key_result(given.cycle, kr_id, ctx(), achieved=True),
            "override_needs_comment",
            "comment",
        )
        when(
            o,
            lambda: o.grade_key_result(
                given.cycle, kr_id, ctx(), achieved=True, comment="the rest landed on July 1"
            ),
        )
        assert (given.kr().score, given.kr().achieved) == (1.0, True)

    def test_agreeing_with_the_progress_needs_no_comment(self) -> None:
        given = grading(150, yes_no=True)
        given.objective.grade_key_result(given.cycle, given.kr_ids[0], ctx(), achieved=False)
        assert given.kr().score == 0.0


class TestGradeKeyResultPreconditions:
    @pytest.mark.parametrize("phase", [Phase.ACTIVE, Phase.CLOSED])
    def test_only_in_the_grading_phase(self, phase: Phase) -> None:
        given = an_objective().checked_in(0, 150).in_phase(phase).build()
        o = given.objective
        refused(
            o,
            lambda: o.grade_key_result(given.cycle, given.kr_ids[0], ctx()),
            "wrong_cycle_phase",
            error=RuleViolated,
        )

    def test_only_approved_objectives(self) -> None:
        given = an_objective().in_phase(Phase.GRADING).build()
        o = given.objective
        refused(o, lambda: o.grade_key_result(given.cycle, given.kr_ids[0], ctx()), "not_approved")

    def test_not_abandoned_ones(self) -> None:
        given = an_objective().approved().abandoned_().in_phase(Phase.GRADING).build()
        o = given.objective
        refused(
            o,
            lambda: o.grade_key_result(given.cycle, given.kr_ids[0], ctx()),
            "objective_abandoned",
        )


def two_krs_graded(scores: tuple[float, float], weights: tuple[float, float] = (3, 1)) -> Given:
    given = (
        an_objective()
        .with_kr(weight=weights[0])
        .with_kr(title="Second", weight=weights[1])
        .approved()
        .in_phase(Phase.GRADING)
        .build()
    )
    for kr_id, score in zip(given.kr_ids, scores, strict=True):
        given.objective.grade_key_result(given.cycle, kr_id, ctx(), score=score, comment="c")
    given.objective.collect_events()
    return given


class TestObjectiveScore:
    def test_the_score_is_the_weighted_mean_of_the_key_result_grades(self) -> None:
        given = two_krs_graded((1.0, 0.2))
        assert given.objective.computed_score == pytest.approx(0.8)
        assert given.objective.score == pytest.approx(0.8)

    def test_no_score_until_every_live_key_result_is_graded(self) -> None:
        given = (
            an_objective().with_kr().with_kr(title="B").approved().in_phase(Phase.GRADING).build()
        )
        given.objective.grade_key_result(given.cycle, given.kr_ids[0], ctx())
        assert given.objective.score is None

    def test_zero_weights_average_equally(self) -> None:
        given = two_krs_graded((1.0, 0.0), weights=(0, 0))
        assert given.objective.score == pytest.approx(0.5)

    def test_huge_weights_still_give_a_score_in_range(self) -> None:
        # found by the property tests: the weighted mean overflowed to inf / inf = NaN, and
        # grading without a score then recorded NaN
        given = two_krs_graded((1.0, 0.5), weights=(1.7e308, 1.7e308))
        o = given.objective
        assert o.score == pytest.approx(0.75)
        events = when(o, lambda: o.grade(given.cycle, ctx()))
        assert payload(events[0])["score"] == 0.75

    def test_removed_key_results_do_not_count(self) -> None:
        given = (
            an_objective().with_kr().with_kr(title="B").approved().in_phase(Phase.ACTIVE).build()
        )
        o, c = given.objective, given.cycle
        amendment = o.propose_amendment(
            c, {"remove_key_results": [str(given.kr_ids[1])]}, "r", ctx()
        )
        o.approve_amendment(c, amendment, ctx(BOB))
        c.open_grading(ctx("admin"))
        o.grade_key_result(c, given.kr_ids[0], ctx(), score=0.3, comment="c")
        assert o.score == pytest.approx(0.3)

    def test_grading_without_a_score_records_the_weighted_mean(self) -> None:
        given = two_krs_graded((1.0, 0.2))
        o = given.objective
        events = when(o, lambda: o.grade(given.cycle, ctx(ALICE)))
        assert classes(events) == [Objective.Graded]
        assert payload(events[0]) == {
            "actor": str(ALICE),
            "reason": "",
            "score": 0.8,
            "comment": "",
            "explicit": False,
        }
        assert (o.explicit_score, o.score, o.graded) == (None, 0.8, True)

    def test_grading_without_a_score_needs_every_key_result_graded(self) -> None:
        given = an_objective().approved().in_phase(Phase.GRADING).build()
        o = given.objective
        refused(
            o, lambda: o.grade(given.cycle, ctx()), "key_results_ungraded", "score", RuleViolated
        )

    def test_an_explicit_score_stands_over_the_mean(self) -> None:
        given = two_krs_graded((1.0, 0.2))
        o = given.objective
        refused(
            o,
            lambda: o.grade(given.cycle, ctx(), score=0.5),
            "override_needs_comment",
            "comment",
            InvalidValue,
        )
        when(o, lambda: o.grade(given.cycle, ctx(), score=0.5, comment="the big one slipped"))
        assert (o.score, o.computed_score, o.grade_comment) == (
            0.5,
            pytest.approx(0.8),
            "the big one slipped",
        )

    def test_an_explicit_score_near_the_mean_needs_no_comment(self) -> None:
        given = two_krs_graded((1.0, 0.2))
        given.objective.grade(given.cycle, ctx(), score=0.84)
        assert given.objective.score == 0.84

    def test_an_explicit_score_before_any_key_result_grade_needs_no_comment(self) -> None:
        given = an_objective().approved().in_phase(Phase.GRADING).build()
        given.objective.grade(given.cycle, ctx(), score=0.4)
        assert given.objective.score == 0.4

    @pytest.mark.parametrize(
        ("score", "rule"),
        [(1.5, "score_out_of_range"), (-0.01, "score_out_of_range"), ("high", "not_a_number")],
    )
    def test_the_score_is_between_zero_and_one(self, score: Any, rule: str) -> None:
        given = an_objective().approved().in_phase(Phase.GRADING).build()
        o = given.objective
        refused(o, lambda: o.grade(given.cycle, ctx(), score=score, comment="c"), rule, "score")

    def test_regrading_the_objective_needs_a_comment(self) -> None:
        given = two_krs_graded((1.0, 0.2))
        o = given.objective
        o.grade(given.cycle, ctx())
        o.collect_events()
        refused(
            o, lambda: o.grade(given.cycle, ctx(), score=0.8), "regrade_needs_comment", "comment"
        )
        when(o, lambda: o.grade(given.cycle, ctx(BOB), score=0.7, comment="calibrated"))
        assert o.score == 0.7

    @pytest.mark.parametrize("phase", [Phase.ACTIVE, Phase.CLOSED])
    def test_only_in_grading(self, phase: Phase) -> None:
        refused_in_phase(phase, lambda g: g.objective.grade(g.cycle, ctx(), score=0.5))

    def test_only_approved_objectives(self) -> None:
        given = an_objective().in_phase(Phase.GRADING).build()
        o = given.objective
        refused(o, lambda: o.grade(given.cycle, ctx(), score=0.5), "not_approved")


class TestReflect:
    def test_writes_a_reflection_in_grading(self) -> None:
        given = an_objective().approved().in_phase(Phase.GRADING).build()
        o = given.objective
        events = when(o, lambda: o.reflect(given.cycle, "  We aimed well. ", ctx(ALICE)))
        assert classes(events) == [Objective.Reflected]
        assert payload(events[0]) == {"actor": str(ALICE), "reason": "", "text": "We aimed well."}
        assert o.reflection == "We aimed well."

    def test_needs_text(self) -> None:
        given = an_objective().approved().in_phase(Phase.GRADING).build()
        o = given.objective
        refused(o, lambda: o.reflect(given.cycle, " ", ctx()), "text_required", "text")
        refused(o, lambda: o.reflect(given.cycle, "x" * 10_001, ctx()), "text_too_long", "text")

    @pytest.mark.parametrize("phase", [Phase.PLANNING, Phase.ACTIVE, Phase.CLOSED])
    def test_only_in_grading(self, phase: Phase) -> None:
        refused_in_phase(phase, lambda g: g.objective.reflect(g.cycle, "t", ctx()))

    def test_not_on_an_abandoned_objective(self) -> None:
        given = an_objective().approved().abandoned_().in_phase(Phase.GRADING).build()
        o = given.objective
        refused(o, lambda: o.reflect(given.cycle, "t", ctx()), "objective_abandoned")

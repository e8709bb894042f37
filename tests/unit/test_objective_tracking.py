"""Check-ins (bitemporal: effective date beside recorded time) and corrections that supersede."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.cycle import Phase
from domain.errors import InvalidValue, RuleViolated
from domain.objective import Objective
from tests.unit.builders import (
    ALICE,
    BOB,
    NOW,
    Q2_END,
    Q2_START,
    TODAY,
    Given,
    a_cycle,
    an_objective,
    ctx,
    refused_in_phase,
)
from tests.unit.gwt import classes, payload, refused, when


def tracking() -> Given:
    """An approved objective in the active phase: a metric KR (100 → 200) and a milestone."""
    return an_objective().with_kr().with_milestone().approved().in_phase(Phase.ACTIVE).build()


class TestCheckIn:
    def test_reports_progress_for_today_by_default(self) -> None:
        given = tracking()
        o, kr_id = given.objective, given.kr_ids[0]
        ids: list[UUID] = []
        events = when(
            o, lambda: ids.append(o.check_in(given.cycle, kr_id, 140, 6, ctx(ALICE), " slow "))
        )
        assert classes(events) == [Objective.ProgressReported]
        assert payload(events[0]) == {
            "actor": str(ALICE),
            "reason": "",
            "check_in_id": ids[0],
            "key_result_id": kr_id,
            "value": 140.0,
            "confidence": 6,
            "note": "slow",
            "effective_on": TODAY,
        }
        kr = given.kr()
        current = kr.current
        assert current is not None
        assert (current.id, current.value, current.confidence, current.actor) == (
            ids[0],
            140.0,
            6,
            str(ALICE),
        )
        assert current.recorded_at == events[0].timestamp
        assert kr.progress == pytest.approx(0.4)

    def test_the_value_may_be_backdated_within_the_cycle(self) -> None:
        given = tracking()
        o = given.objective
        o.check_in(given.cycle, given.kr_ids[0], 120, 5, ctx(), effective_on=Q2_START)
        o.check_in(given.cycle, given.kr_ids[0], 130, 5, ctx(), effective_on=TODAY)
        assert [c.effective_on for c in given.kr().check_ins] == [Q2_START, TODAY]

    def test_default_date_is_the_cycle_end_once_it_is_over(self) -> None:
        cycle = a_cycle(starts_on=date(2025, 1, 1), ends_on=date(2025, 3, 31), name="2025-Q1")
        given = an_objective().in_cycle(cycle).approved().in_phase(Phase.GRADING).build()
        given.objective.check_in(cycle, given.kr_ids[0], 150, 5, ctx())
        assert given.kr().check_ins[0].effective_on == date(2025, 3, 31)

    def test_the_current_check_in_is_the_latest_effective_not_the_latest_recorded(self) -> None:
        given = tracking()
        o, kr_id = given.objective, given.kr_ids[0]
        latest = o.check_in(given.cycle, kr_id, 160, 7, ctx(), effective_on=TODAY)
        o.check_in(given.cycle, kr_id, 110, 7, ctx(), effective_on=TODAY - timedelta(days=20))
        assert given.kr().current.id == latest  # type: ignore[union-attr]
        later_same_day = o.check_in(given.cycle, kr_id, 170, 8, ctx(), effective_on=TODAY)
        assert given.kr().current.id == later_same_day  # type: ignore[union-attr]

    @pytest.mark.parametrize("confidence", [0, 10])
    def test_confidence_bounds_are_inclusive(self, confidence: int) -> None:
        given = tracking()
        given.objective.check_in(given.cycle, given.kr_ids[0], 150, confidence, ctx())
        assert given.kr().current.confidence == confidence  # type: ignore[union-attr]

    @pytest.mark.parametrize("confidence", [-1, 11, 7.5, 7.0, True, False, "7", None])
    def test_confidence_is_a_whole_number_from_0_to_10(self, confidence: Any) -> None:
        given = tracking()
        o = given.objective
        refused(
            o,
            lambda: o.check_in(given.cycle, given.kr_ids[0], 150, confidence, ctx()),
            "confidence_out_of_range",
            "confidence",
            InvalidValue,
        )

    @pytest.mark.parametrize(
        ("value", "rule"),
        [(math.nan, "not_finite"), (math.inf, "not_finite"), ("lots", "not_a_number")],
    )
    def test_the_value_is_a_finite_number(self, value: Any, rule: str) -> None:
        given = tracking()
        o = given.objective
        refused(o, lambda: o.check_in(given.cycle, given.kr_ids[0], value, 5, ctx()), rule, "value")

    @pytest.mark.parametrize("value", [0.5, 2, -1])
    def test_a_milestone_is_one_or_zero(self, value: float) -> None:
        given = tracking()
        o = given.objective
        refused(
            o,
            lambda: o.check_in(given.cycle, given.kr_ids[1], value, 5, ctx()),
            "milestone_value",
            "value",
        )

    def test_a_done_milestone_is_full_progress(self) -> None:
        given = tracking()
        given.objective.check_in(given.cycle, given.kr_ids[1], 1, 9, ctx())
        assert given.kr(1).progress == 1.0

    @pytest.mark.parametrize(
        "effective_on", [Q2_START - timedelta(days=1), Q2_END + timedelta(days=1)]
    )
    def test_the_effective_date_falls_within_the_cycle(self, effective_on: date) -> None:
        given = tracking()
        o = given.objective
        refused(
            o,
            lambda: o.check_in(
                given.cycle, given.kr_ids[0], 150, 5, ctx(), effective_on=effective_on
            ),
            "effective_date_outside_cycle",
            "effective_on",
        )

    def test_the_effective_date_is_not_in_the_future(self) -> None:
        given = tracking()
        o = given.objective
        refused(
            o,
            lambda: o.check_in(
                given.cycle, given.kr_ids[0], 150, 5, ctx(at=NOW), effective_on=TODAY + timedelta(1)
            ),
            "effective_date_in_future",
            "effective_on",
        )

    def test_a_cycle_that_has_not_begun_takes_no_default_dated_check_ins(self) -> None:
        cycle = a_cycle(starts_on=date(2025, 7, 1), ends_on=date(2025, 9, 30), name="Q3")
        given = an_objective().in_cycle(cycle).approved().in_phase(Phase.ACTIVE).build()
        o = given.objective
        refused(
            o,
            lambda: o.check_in(cycle, given.kr_ids[0], 150, 5, ctx()),
            "effective_date_outside_cycle",
        )

    def test_unknown_key_result(self) -> None:
        given = tracking()
        o = given.objective
        refused(
            o,
            lambda: o.check_in(given.cycle, uuid4(), 150, 5, ctx()),
            "key_result_not_found",
            "key_result_id",
        )

    def test_a_removed_key_result_takes_no_check_ins(self) -> None:
        given = tracking()
        o, c, gone = given.objective, given.cycle, given.kr_ids[1]
        amendment = o.propose_amendment(c, {"remove_key_results": [str(gone)]}, "dropped", ctx())
        o.approve_amendment(c, amendment, ctx(BOB))
        o.collect_events()
        refused(
            o,
            lambda: o.check_in(c, gone, 1, 5, ctx()),
            "key_result_removed",
            "key_result_id",
            RuleViolated,
        )

    @pytest.mark.parametrize("state", ["draft", "submitted"])
    def test_only_approved_objectives_are_tracked(self, state: str) -> None:
        b = an_objective().in_phase(Phase.ACTIVE)
        given = (b.submitted() if state == "submitted" else b).build()
        o = given.objective
        refused(o, lambda: o.check_in(given.cycle, given.kr_ids[0], 150, 5, ctx()), "not_approved")

    @pytest.mark.parametrize("phase", [Phase.PLANNING, Phase.CLOSED])
    def test_only_while_active_or_grading(self, phase: Phase) -> None:
        refused_in_phase(phase, lambda g: g.objective.check_in(g.cycle, g.kr_ids[0], 150, 5, ctx()))

    def test_a_last_check_in_during_grading(self) -> None:
        given = an_objective().approved().in_phase(Phase.GRADING).build()
        o = given.objective
        when(o, lambda: o.check_in(given.cycle, given.kr_ids[0], 190, 9, ctx()))
        assert given.kr().progress == pytest.approx(0.9)


class TestCorrectCheckIn:
    def test_a_correction_supersedes_without_erasing(self) -> None:
        given = an_objective().checked_in(0, 150, 6, Q2_START + timedelta(days=10)).build()
        o, kr_id = given.objective, given.kr_ids[0]
        [original_id] = given.check_in_ids()
        ids: list[UUID] = []
        events = when(
            o,
            lambda: ids.append(
                o.correct_check_in(given.cycle, kr_id, original_id, 105, " typo ", ctx(ALICE))
            ),
        )
        assert classes(events) == [Objective.CheckInCorrected]
        assert payload(events[0]) == {
            "actor": str(ALICE),
            "reason": "typo",
            "check_in_id": ids[0],
            "key_result_id": kr_id,
            "supersedes": original_id,
            "value": 105.0,
            "confidence": 6,  # kept from the original
            "note": "",  # kept from the original
            "effective_on": Q2_START + timedelta(days=10),  # always the original's date
        }
        original, correction = given.kr().check_ins
        assert (original.value, original.superseded_by) == (150.0, ids[0])
        assert (correction.supersedes, correction.superseded_by, correction.reason) == (
            original_id,
            None,
            "typo",
        )
        assert given.kr().current is correction
        assert given.kr().progress == pytest.approx(0.05)

    def test_a_correction_may_change_confidence_and_note(self) -> None:
        given = an_objective().checked_in(0, 150, 6).build()
        o = given.objective
        o.correct_check_in(
            given.cycle, given.kr_ids[0], given.check_in_ids()[0], 150, "r", ctx(), 3, " blocked "
        )
        current = given.kr().current
        assert current is not None and (current.confidence, current.note) == (3, "blocked")

    def test_needs_a_reason(self) -> None:
        given = an_objective().checked_in(0, 150).build()
        o = given.objective
        refused(
            o,
            lambda: o.correct_check_in(
                given.cycle, given.kr_ids[0], given.check_in_ids()[0], 140, " ", ctx()
            ),
            "text_required",
            "reason",
        )

    def test_a_superseded_check_in_is_not_corrected_again(self) -> None:
        given = an_objective().checked_in(0, 150).build()
        o, kr_id, c = given.objective, given.kr_ids[0], given.cycle
        first = given.check_in_ids()[0]
        second = o.correct_check_in(c, kr_id, first, 140, "r", ctx())
        o.collect_events()
        refused(
            o,
            lambda: o.correct_check_in(c, kr_id, first, 130, "again", ctx()),
            "check_in_superseded",
            "check_in_id",
            RuleViolated,
        )
        when(o, lambda: o.correct_check_in(c, kr_id, second, 130, "again", ctx()))
        chain = given.kr().check_ins
        assert [c.superseded_by for c in chain] == [chain[1].id, chain[2].id, None]
        assert given.kr().current is chain[2]

    def test_correcting_an_old_check_in_does_not_displace_a_later_one(self) -> None:
        given = (
            an_objective()
            .checked_in(0, 120, 5, Q2_START + timedelta(days=7))
            .checked_in(0, 170, 8, TODAY)
            .build()
        )
        o = given.objective
        old, latest = given.check_in_ids()
        o.correct_check_in(given.cycle, given.kr_ids[0], old, 125, "misread", ctx())
        assert given.kr().current.id == latest  # type: ignore[union-attr]

    def test_corrected_values_obey_the_check_in_rules(self) -> None:
        given = an_objective().with_milestone().checked_in(0, 0).build()
        o, kr_id, ci = given.objective, given.kr_ids[0], given.check_in_ids()[0]
        refused(
            o,
            lambda: o.correct_check_in(given.cycle, kr_id, ci, 0.5, "r", ctx()),
            "milestone_value",
        )
        refused(
            o,
            lambda: o.correct_check_in(given.cycle, kr_id, ci, 1, "r", ctx(), 12),
            "confidence_out_of_range",
        )

    def test_unknown_check_in(self) -> None:
        given = an_objective().checked_in(0, 150).build()
        o = given.objective
        refused(
            o,
            lambda: o.correct_check_in(given.cycle, given.kr_ids[0], uuid4(), 1, "r", ctx()),
            "check_in_not_found",
            "check_in_id",
            InvalidValue,
        )

    def test_the_check_in_belongs_to_the_key_result_named(self) -> None:
        given = an_objective().with_kr().with_kr(title="Other").checked_in(0, 150).build()
        o = given.objective
        refused(
            o,
            lambda: o.correct_check_in(
                given.cycle, given.kr_ids[1], given.check_in_ids(0)[0], 1, "r", ctx()
            ),
            "check_in_not_found",
        )

    def test_not_in_a_closed_cycle(self) -> None:
        given = an_objective().checked_in(0, 150).in_phase(Phase.CLOSED).build()
        o = given.objective
        refused(
            o,
            lambda: o.correct_check_in(
                given.cycle, given.kr_ids[0], given.check_in_ids()[0], 1, "r", ctx()
            ),
            "wrong_cycle_phase",
        )

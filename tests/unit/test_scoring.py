"""Progress, suggested grades, objective scores and health: pure functions of plain values."""

from __future__ import annotations

from datetime import date

import pytest

from domain.cycle import Cadence, Phase
from domain.scoring import (
    Direction,
    Health,
    Measure,
    clamp,
    health,
    progress,
    suggested_score,
    weighted_mean,
)
from tests.unit.builders import a_cycle

METRIC, MILESTONE = Measure.METRIC, Measure.MILESTONE

METRIC_PROGRESS: dict[tuple[Direction, float | None, float], list[tuple[float, float]]] = {
    # the share of the way from the baseline, clamped
    (Direction.INCREASE, 100, 200): [
        (100, 0),
        (150, 0.5),
        (175, 0.75),
        (200, 1),
        (250, 1),
        (50, 0),
    ],
    # the share of the way down, clamped
    (Direction.DECREASE, 200, 100): [(200, 0), (150, 0.5), (120, 0.8), (100, 1), (40, 1), (260, 0)],
    # met at or above the target
    (Direction.AT_LEAST, None, 100): [(100, 1), (140, 1), (50, 0.5), (0, 0), (-20, 0)],
    # met under the ceiling, then falls off
    (Direction.AT_MOST, None, 100): [
        (80, 1),
        (100, 1),
        (125, 0.75),
        (150, 0.5),
        (200, 0),
        (350, 0),
    ],
}
"""Metric progress: (direction, baseline, target) -> (value, expected progress) pairs."""


class TestClamp:
    @pytest.mark.parametrize(
        ("value", "expected"), [(-0.5, 0.0), (0.0, 0.0), (0.42, 0.42), (1.0, 1.0), (7.0, 1.0)]
    )
    def test_clamps_to_unit_interval_by_default(self, value: float, expected: float) -> None:
        assert clamp(value) == expected

    def test_honours_custom_bounds(self) -> None:
        assert clamp(15, 0, 10) == 10
        assert clamp(-3, -2, 2) == -2


class TestProgress:
    def test_no_check_in_yet_is_zero_progress(self) -> None:
        assert progress(METRIC, Direction.INCREASE, 0, 100, None) == 0.0
        assert progress(MILESTONE, Direction.INCREASE, 0, 1, None) == 0.0

    @pytest.mark.parametrize(("value", "expected"), [(0, 0.0), (1, 1.0), (0.99, 0.0), (2, 1.0)])
    def test_milestone_is_done_or_not(self, value: float, expected: float) -> None:
        assert progress(MILESTONE, Direction.INCREASE, 0, 1, value) == expected

    @pytest.mark.parametrize(
        ("direction", "baseline", "target", "value", "expected"),
        [
            (*key_result, value, expected)
            for key_result, cases in METRIC_PROGRESS.items()
            for value, expected in cases
        ],
    )
    def test_metric_progress_by_direction(
        self,
        direction: Direction,
        baseline: float | None,
        target: float,
        value: float,
        expected: float,
    ) -> None:
        assert progress(METRIC, direction, baseline, target, value) == pytest.approx(expected)

    def test_zero_span_counts_as_no_progress(self) -> None:
        assert progress(METRIC, Direction.INCREASE, 5, 5, 9) == 0.0

    def test_at_least_with_non_positive_target_below_it_is_zero(self) -> None:
        assert progress(METRIC, Direction.AT_LEAST, None, 0, -1) == 0.0
        assert progress(METRIC, Direction.AT_LEAST, None, -10, -20) == 0.0
        assert progress(METRIC, Direction.AT_LEAST, None, -10, -5) == 1.0

    def test_at_most_with_zero_ceiling_above_it_is_zero(self) -> None:
        assert progress(METRIC, Direction.AT_MOST, None, 0, 0) == 1.0
        assert progress(METRIC, Direction.AT_MOST, None, 0, 0.1) == 0.0

    def test_progress_is_always_within_the_unit_interval(self) -> None:
        for direction, baseline, target in [
            (Direction.INCREASE, -50, 50),
            (Direction.DECREASE, 10, -10),
            (Direction.AT_LEAST, None, 3),
            (Direction.AT_MOST, None, -3),
        ]:
            for value in (-1e9, -3, 0, 3, 1e9):
                assert 0.0 <= progress(METRIC, direction, baseline, target, value) <= 1.0


class TestSuggestedScore:
    @pytest.mark.parametrize(
        ("progress_value", "expected"),
        [(0.0, 0.0), (0.04, 0.0), (0.64, 0.6), (0.66, 0.7), (0.96, 1.0), (1.0, 1.0)],
    )
    def test_rounds_progress_to_one_decimal(self, progress_value: float, expected: float) -> None:
        assert suggested_score(progress_value) == expected

    def test_clamps_before_rounding(self) -> None:
        assert suggested_score(1.7) == 1.0
        assert suggested_score(-0.3) == 0.0


class TestWeightedMean:
    def test_nothing_to_average_is_none(self) -> None:
        assert weighted_mean([]) is None

    def test_weights_scores(self) -> None:
        assert weighted_mean([(1.0, 3.0), (0.0, 1.0)]) == pytest.approx(0.75)
        assert weighted_mean([(0.4, 1.0), (0.8, 1.0)]) == pytest.approx(0.6)

    def test_a_zero_weight_counts_for_nothing(self) -> None:
        assert weighted_mean([(1.0, 2.0), (0.0, 0.0)]) == pytest.approx(1.0)

    def test_all_zero_weights_fall_back_to_equal_weights(self) -> None:
        assert weighted_mean([(1.0, 0.0), (0.0, 0.0), (0.5, 0.0)]) == pytest.approx(0.5)

    def test_huge_weights_do_not_overflow_into_nan(self) -> None:
        # found by the property tests: 1.7e308 + 1.7e308 is inf, and inf / inf is NaN
        assert weighted_mean([(1.0, 1.7e308), (0.0, 1.7e308)]) == pytest.approx(0.5)
        assert weighted_mean([(1.0, 1.7e308), (1.0, 1.7e308)]) == 1.0
        assert weighted_mean([(0.3, 1e-300), (0.9, 3e-300)]) == pytest.approx(0.75)

    def test_a_mean_of_scores_never_leaves_their_range(self) -> None:
        for weights in ([0.1, 0.2, 0.7], [1e308, 1e-308, 5.0], [3.0, 3.0, 3.0]):
            value = weighted_mean(zip([1.0, 1.0, 1.0], weights, strict=True))
            assert value == 1.0

    def test_accepts_any_iterable(self) -> None:
        assert weighted_mean(iter([(0.3, 1.0)])) == pytest.approx(0.3)


class TestHealth:
    def test_on_track_when_progress_keeps_up_with_time(self) -> None:
        assert health(0.5, 0.5, 8) == Health.ON_TRACK
        assert health(0.4, 0.5, None) == Health.ON_TRACK  # gap 0.1

    def test_at_risk_when_progress_lags_by_more_than_fifteen_points(self) -> None:
        assert health(0.3, 0.5, 9) == Health.AT_RISK  # gap 0.2

    def test_off_track_when_progress_lags_by_more_than_thirty_points(self) -> None:
        assert health(0.1, 0.5, 9) == Health.OFF_TRACK  # gap 0.4

    @pytest.mark.parametrize(
        ("confidence", "expected"),
        [(0, Health.OFF_TRACK), (3, Health.OFF_TRACK), (4, Health.AT_RISK), (6, Health.AT_RISK)],
    )
    def test_low_confidence_lowers_the_status_by_itself(
        self, confidence: int, expected: Health
    ) -> None:
        assert health(1.0, 0.1, confidence) == expected

    def test_elapsed_share_is_clamped(self) -> None:
        assert health(1.0, 3.0, None) == Health.ON_TRACK
        assert health(0.0, -1.0, None) == Health.ON_TRACK


class TestCycleTime:
    def test_elapsed_share_runs_from_start_to_end_clamped(self) -> None:
        cycle = a_cycle(Phase.PLANNING, starts_on=date(2025, 4, 1), ends_on=date(2025, 4, 11))
        assert cycle.elapsed_share(date(2025, 3, 1)) == 0.0
        assert cycle.elapsed_share(date(2025, 4, 1)) == 0.0
        assert cycle.elapsed_share(date(2025, 4, 6)) == pytest.approx(0.5)
        assert cycle.elapsed_share(date(2025, 4, 11)) == 1.0
        assert cycle.elapsed_share(date(2025, 6, 1)) == 1.0

    def test_cadence_in_days(self) -> None:
        assert [c.days for c in Cadence] == [7, 14, 31]

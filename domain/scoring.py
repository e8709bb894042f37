"""How progress, suggested grades and objective scores are computed.

Pure functions of plain values, shared by the aggregate (suggesting grades) and the read side
(progress bars, status colours).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING


class Measure(StrEnum):
    METRIC = "metric"
    MILESTONE = "milestone"


class Direction(StrEnum):
    INCREASE = "increase"
    DECREASE = "decrease"
    AT_LEAST = "at_least"
    AT_MOST = "at_most"


class Health(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"


def clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    return max(low, min(high, value))


def progress(
    measure: str,
    direction: str,
    baseline: float | None,
    target: float | None,
    value: float | None,
) -> float:
    """Share of the way from baseline to target, 0.0–1.0 (no check-in yet means 0)."""
    if value is None:
        return 0.0
    if measure == Measure.MILESTONE:
        return 1.0 if value >= 1 else 0.0
    assert target is not None
    if direction in (Direction.INCREASE, Direction.DECREASE):
        assert baseline is not None
        span = target - baseline
        return clamp((value - baseline) / span) if span else 0.0
    if direction == Direction.AT_LEAST:
        if value >= target:
            return 1.0
        return clamp(value / target) if target > 0 else 0.0
    # at_most: met while at or under the ceiling, then falls off linearly
    if value <= target:
        return 1.0
    return clamp(1.0 - (value - target) / abs(target)) if target else 0.0


def suggested_score(progress_value: float) -> float:
    """The grade the method suggests: progress, rounded to one decimal as Google's scale does."""
    return round(clamp(progress_value), 1)


def weighted_mean(scores_and_weights: Iterable[tuple[float, float]]) -> float | None:
    """Weighted mean of (score, weight); equal weights when every weight is zero.

    Weights are scaled by the largest first, so that huge (finite) weights cannot overflow the
    sums into inf / inf = NaN.
    """
    pairs = list(scores_and_weights)
    if not pairs:
        return None
    top = max(w for _, w in pairs)
    if top <= 0:
        return sum(s for s, _ in pairs) / len(pairs)
    scaled = [(s, w / top) for s, w in pairs]
    return sum(s * w for s, w in scaled) / sum(w for _, w in scaled)


def health(progress_value: float, elapsed_share: float, confidence: int | None) -> Health:
    """On track / at risk / off track from progress against time elapsed and confidence.

    Progress is compared with the share of the cycle already gone; a low latest confidence
    lowers the status by itself, since owners usually know before the numbers show it.
    """
    expected = clamp(elapsed_share)
    gap = expected - progress_value
    if (confidence is not None and confidence <= 3) or gap > 0.3:
        return Health.OFF_TRACK
    if (confidence is not None and confidence <= 6) or gap > 0.15:
        return Health.AT_RISK
    return Health.ON_TRACK


def objective_score(
    explicit_score: float | None, key_result_grades: Iterable[tuple[float | None, float]]
) -> float | None:
    """An explicit grade stands; otherwise the weighted mean once every live KR is graded."""
    if explicit_score is not None:
        return explicit_score
    grades = list(key_result_grades)
    if not grades or any(score is None for score, _ in grades):
        return None
    return weighted_mean((score, weight) for score, weight in grades if score is not None)


class ScoredObjective:
    """An objective's score, the aggregate's and the alignment tree's node alike (a mixin):
    its explicit grade, else the weighted mean of its live key results' grades."""

    if TYPE_CHECKING:
        explicit_score: float | None

    @property
    def key_result_grades(self) -> list[tuple[float | None, float]]:
        """(grade, weight) of each live key result."""
        raise NotImplementedError

    @property
    def computed_score(self) -> float | None:
        """Weighted mean of the key results' grades, once every live key result is graded."""
        return objective_score(None, self.key_result_grades)

    @property
    def score(self) -> float | None:
        return objective_score(self.explicit_score, self.key_result_grades)

"""Cycle comparison per team and for the organisation, worked out by hand for the story.

Q1 is 89 days (12.71 weeks). Graded: KR1 0.5, KR2 0, KR3 1 (achieved), KR4 0.5; O1 scores
(0.5 × 2 + 0) / 3 = 0.3333, O2 was graded 0.8, O3 is ungraded.
"""

from __future__ import annotations

import pytest

from projections.comparison import (
    ComparisonFold,
    KindSummary,
    Summary,
    compare,
    target_move,
)
from tests.unit.projections.story import Story

WEEKS = 89 / 7


def test_the_organisation_and_each_team_after_the_quarter(story: Story) -> None:
    state = story.ledger.fold(ComparisonFold())
    (q1,) = compare(state, [story.q1])
    assert q1.organisation == Summary(
        cycle_id=story.q1,
        team_id=None,
        objectives=3,
        abandoned=0,
        key_results=5,
        graded_key_results=4,
        mean_score=pytest.approx((1 / 3 + 0.8) / 2),
        achieved_share=0.25,
        committed=KindSummary(2, pytest.approx((1 / 3 + 0.8) / 2), 0.25),
        aspirational=KindSummary(1, None, None),
        amendments_proposed=1,
        amendments_approved=1,
        amendments_rejected=0,
        targets_eased=1,  # 40 → 32 on an increase
        targets_raised=0,
        check_ins_per_key_result_per_week=pytest.approx(5 / 5 / WEEKS),
        stale_key_results=5,  # as of the cycle's last day, nothing was fresh
        # KR1 said 6 and missed, KR3 said 8 and made it, KR4 said 8 and missed; KR2 never
        # checked in.
        brier_score=pytest.approx((0.6**2 + 0.2**2 + 0.8**2) / 3),
        calibrated_key_results=3,
    )
    acme, platform = q1.teams
    assert acme.team_id == story.acme
    assert (acme.objectives, acme.key_results, acme.mean_score, acme.achieved_share) == (
        1,
        2,
        pytest.approx(1 / 3),
        0.0,
    )
    assert (acme.amendments_approved, acme.targets_eased, acme.brier_score) == (
        1,
        1,
        pytest.approx(0.36),
    )
    # Cy's own objective counts for Platform, the team Cy belongs to.
    assert platform.team_id == story.platform
    assert (
        platform.objectives,
        platform.key_results,
        platform.mean_score,
        platform.achieved_share,
        platform.committed,
        platform.aspirational,
        platform.amendments_approved,
        platform.check_ins_per_key_result_per_week,
        platform.stale_key_results,
        platform.brier_score,
    ) == (
        2,
        3,
        0.8,
        0.5,
        KindSummary(1, 0.8, 0.5),
        KindSummary(1, None, None),
        0,
        pytest.approx(3 / 3 / WEEKS),
        3,
        pytest.approx((0.04 + 0.64) / 2),
    )


def test_one_team_only_and_unknown_cycles_are_skipped(story: Story) -> None:
    state = story.ledger.fold(ComparisonFold())
    (q1,) = compare(state, [story.q1, story.o1], team_id=story.platform)
    assert [t.team_id for t in q1.teams] == [story.platform]


def test_during_planning_nothing_is_counted_as_stale_or_checked_in(story: Story) -> None:
    state = story.ledger.fold(ComparisonFold(), up_to=story.at["negotiated"])
    (q1,) = compare(state, [story.q1])
    assert (
        q1.organisation.objectives,
        q1.organisation.stale_key_results,
        q1.organisation.check_ins_per_key_result_per_week,
        q1.organisation.mean_score,
    ) == (3, 0, None, None)


@pytest.mark.parametrize(
    ("direction", "old", "new", "move"),
    [
        ("increase", 40, 32, "eased"),
        ("increase", 40, 50, "raised"),
        ("at_least", 99.9, 99.5, "eased"),
        ("decrease", 20, 30, "eased"),
        ("decrease", 20, 15, "raised"),
        ("at_most", 5, 3, "raised"),
        ("increase", 40, 40, None),
        ("increase", None, 40, None),
    ],
)
def test_target_moves_ease_or_raise_according_to_direction(
    direction: str, old: float | None, new: float | None, move: str | None
) -> None:
    assert target_move(direction, old, new) == move

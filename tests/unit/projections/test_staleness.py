"""Stale key results: no value for longer than the cycle's cadence, as of the fold's now."""

from __future__ import annotations

from datetime import date

from projections.staleness import StaleKeyResult, StalenessFold, stale_key_results
from tests.unit.projections.story import Story


def brief(found: list[StaleKeyResult]) -> list[tuple[str, int, date | None]]:
    return [(s.title, s.days_since, s.last_check_in_on) for s in found]


def test_on_24_january_the_silent_key_results_are_stale_longest_silent_first(
    story: Story,
) -> None:
    state = story.ledger.fold(StalenessFold(), up_to=story.at["jan24"])
    found = stale_key_results(state)
    # Never checked in: counted from the cycle's start (approved before it), 23 days.
    # Core API availability: last value on 10 January, 14 days. Weekly active teams: 7 days,
    # not more than the weekly cadence. Mean time to recover: checked in today.
    assert brief(found) == [
        ("Public API launched", 23, None),
        ("Tracing talk given at a meetup", 23, None),
        ("Core API availability", 14, date(2025, 1, 10)),
    ]
    first = found[0]
    assert (first.objective_id, first.objective_title, first.owner_team_id, first.cadence_days) == (
        story.o1,
        "Become the default OKR tool",
        story.acme,
        7,
    )
    assert found[1].owner_person_id == story.cy


def test_a_later_today_can_be_asked_for_and_closed_cycles_have_nothing_stale(
    story: Story,
) -> None:
    state = story.ledger.fold(StalenessFold(), up_to=story.at["jan24"])
    assert brief(stale_key_results(state, cycle_id=story.q1, today=date(2025, 1, 25)))[-1] == (
        "Weekly active teams",
        8,
        date(2025, 1, 17),
    )
    before_start = story.ledger.fold(StalenessFold(), up_to=story.at["negotiated"])
    assert stale_key_results(before_start) == []
    closed = story.ledger.fold(StalenessFold())
    assert stale_key_results(closed) == []

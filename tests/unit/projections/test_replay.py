"""Replays: the tree at each frame boundary and the events between frames."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time

from projections.base import fold
from projections.replay import cycle_events, period_ends, replay
from projections.tree import TreeFold, objective_view
from tests.unit.projections.story import Story


def end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=UTC)


def test_period_ends_by_day_and_by_week_close_on_the_last_day() -> None:
    assert period_ends(date(2025, 1, 1), date(2025, 1, 3)) == [
        end_of(date(2025, 1, 1)),
        end_of(date(2025, 1, 2)),
        end_of(date(2025, 1, 3)),
    ]
    assert period_ends(date(2025, 1, 1), date(2025, 1, 31), "week") == [
        end_of(date(2025, 1, 7)),
        end_of(date(2025, 1, 14)),
        end_of(date(2025, 1, 21)),
        end_of(date(2025, 1, 28)),
        end_of(date(2025, 1, 31)),
    ]


def test_weekly_frames_show_the_tree_as_january_unfolded(story: Story) -> None:
    events = list(cycle_events(story.ledger.log(), story.q1))
    frames = replay(events, period_ends(date(2025, 1, 1), date(2025, 1, 31), "week"))

    def kr1(frame_index: int) -> tuple[float | None, float | None]:
        view = objective_view(frames[frame_index].state, story.o1)
        return view.key_results[0].target, view.key_results[0].current_value

    assert [f.position for f in frames] == [28, 31, 35, 36, 36]
    assert [[e.position for e in f.events] for f in frames[1:]] == [
        [29, 30, 31],
        [32, 33, 34, 35],
        [36],
        [],
    ]
    assert len(frames[0].events) == 25  # planning and negotiation, people left out
    assert [kr1(i) for i in range(5)] == [
        (40.0, None),
        (40.0, 16.0),
        (32.0, 20.0),  # corrected on the 18th, target lowered on the 21st
        (32.0, 20.0),
        (32.0, 20.0),
    ]
    # Frames are snapshots: later frames do not leak into earlier ones.
    assert objective_view(frames[0].state, story.o1).state == "approved"
    assert frames[0].state.cursor.position == 28


def test_frames_by_position_and_from_a_checkpoint_match_frames_from_scratch(story: Story) -> None:
    log = story.ledger.log()
    tree = TreeFold()
    scratch = replay(log, [13, 27, 36])
    assert [f.position for f in scratch] == [13, 27, 36]
    assert [len(f.events) for f in scratch] == [13, 14, 9]
    checkpoint = tree.from_json(json.loads(json.dumps(tree.to_json(fold(tree, log, up_to=13)))))
    resumed = replay(log, [27, 36], start=checkpoint)
    assert [tree.to_json(f.state) for f in resumed] == [tree.to_json(f.state) for f in scratch[1:]]
    assert [len(f.events) for f in resumed] == [14, 9]

"""The replay of imported history: an imported event counts at its own time, a typed one at
its commit time, each aggregate's events in their order (`projections.replay`).

The scene: Q1 2025 is planned and started by hand, and Ada types O1 with a check-in on 10
January. On 20 February a spreadsheet import writes O9, dated 1 January, with a check-in every
Friday from 3 January to 14 February (each at 17:00 UTC of its day, as `okr import` dates them);
the chain commits it all on 20 February. Ada then types a check-in on O9 on 27 February.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.base import CommandContext
from domain.objective import Kind
from domain.scoring import Direction, Measure
from projections.base import Logged, fold
from projections.replay import Frame, counting_times, period_ends, replay
from projections.tree import TreeFold, objective_view
from tests.unit.projections.story import ADMIN, Q1_END, Q1_START, Ledger, organisation
from tests.unit.projections.test_properties import SETTINGS, Stages, history_of, stages

IMPORT_COMMIT = datetime(2025, 2, 20, 10, 0, tzinfo=UTC)
FRIDAYS = [date(2025, 1, 3) + timedelta(weeks=week) for week in range(7)]


def value_of_week(week: int) -> float:
    return 10.0 + 5 * week


def at(day: date, hour: int, actor: UUID | str) -> CommandContext:
    return CommandContext(actor=str(actor), at=datetime.combine(day, time(hour), UTC))


@dataclass
class Imported:
    log: list[Logged]
    imported: range
    q1: UUID
    o1: UUID
    o9: UUID
    kr9: UUID
    typed_o1_check_in: int
    typed_o9_check_in: int


def imported_quarter(*, correction_after_typing: bool = False) -> Imported:
    ledger = Ledger()
    app, by = ledger.app, ledger.by
    org = organisation(ledger)
    app.start_cycle(org.q1, by(ADMIN, date(2025, 1, 1)))
    o1 = app.draft_objective(
        cycle_id=org.q1,
        title="Typed by hand",
        kind=Kind.COMMITTED,
        owner_team_id=org.acme,
        ctx=by(org.ada),
    ).id
    kr1 = app.add_key_result(
        o1, title="Teams", measure=Measure.METRIC, baseline=0, target=40, ctx=by(org.ada)
    ).extra_id
    app.submit_objective(o1, org.ben, by(org.ada))
    app.approve_objective(o1, by(org.ben, date(2025, 1, 2)))
    app.check_in(o1, kr1, 16, 7, by(org.ada, date(2025, 1, 10)))
    typed_o1_check_in = ledger.position
    before_import = ledger.position

    # The import: every event at its own time, all committed on 20 February.
    o9 = app.draft_objective(
        cycle_id=org.q1,
        title="Imported from a spreadsheet",
        kind=Kind.COMMITTED,
        owner_team_id=org.platform,
        ctx=at(Q1_START, 8, org.ada),
    ).id
    kr9 = app.add_key_result(
        o9,
        title="Deploys per week",
        measure=Measure.METRIC,
        baseline=0,
        target=100,
        direction=Direction.INCREASE,
        ctx=at(Q1_START, 8, org.ada),
    ).extra_id
    app.submit_objective(o9, org.ada, at(Q1_START, 8, "system"))
    app.approve_objective(o9, at(Q1_START, 8, org.ada))
    check_ins = [
        app.check_in(
            o9, kr9, value_of_week(week), 6, at(friday, 17, org.ada), effective_on=friday
        ).extra_id
        for week, friday in enumerate(FRIDAYS)
    ]
    imported = range(before_import + 1, ledger.position + 1)

    app.check_in(o9, kr9, 60, 8, by(org.ada, date(2025, 2, 27)))
    typed_o9_check_in = ledger.position
    if correction_after_typing:
        # A second import on 10 March corrects the 17 January value, dated that day.
        app.correct_check_in(
            o9, kr9, check_ins[2], 21, "import", at(FRIDAYS[2], 17, org.ada), confidence=6
        )
        imported = range(imported.start, ledger.position + 1)
        second_import = ledger.position
    log = []
    for logged in ledger.log():
        commit = logged.recorded_at
        if logged.position in imported:
            commit = IMPORT_COMMIT
            if correction_after_typing and logged.position == second_import:
                commit = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
        log.append(Logged(logged.position, commit, logged.event))
    # The chain's commit times never go back.
    assert [e.recorded_at for e in log] == sorted(e.recorded_at for e in log)
    return Imported(log, imported, org.q1, o1, o9, kr9, typed_o1_check_in, typed_o9_check_in)


@pytest.fixture(scope="module")
def scene() -> Imported:
    return imported_quarter()


WEEKS = period_ends(Q1_START, Q1_END, "week")


def kr9_value(frame: Frame, scene: Imported) -> float | None:
    if scene.o9 not in frame.state.objectives:
        return None
    return objective_view(frame.state, scene.o9).key_results[0].current_value


def check_ins_of(frame: Frame, objective_id: UUID) -> list[date]:
    return [
        logged.event.effective_on
        for logged in frame.events
        if logged.event.originator_id == objective_id
        and type(logged.event).__name__ == "ProgressReported"
    ]


def test_an_imported_quarter_replays_week_by_week_on_its_own_dates(scene: Imported) -> None:
    frames = replay(scene.log, WEEKS, imported=scene.imported)

    # One Friday's check-in in each of the first seven weeks, with that week's value.
    for week, friday in enumerate(FRIDAYS):
        assert check_ins_of(frames[week], scene.o9) == [friday]
        assert kr9_value(frames[week], scene) == value_of_week(week)
        assert frames[week].state.cursor.now is not None
    assert frames[0].state.cursor.now == datetime.combine(FRIDAYS[0], time(17), UTC)
    # The objective is there, approved, from the first week: its definitions are dated 1 January.
    first = objective_view(frames[0].state, scene.o9)
    assert first.status == "approved"
    assert frames[0].state.objectives[scene.o9].approved_on == Q1_START
    # The typed check-ins count when they were committed.
    assert scene.typed_o1_check_in in [e.position for e in frames[1].events]
    typed_week = next(i for i, f in enumerate(frames) if scene.typed_o9_check_in in positions(f))
    assert WEEKS[typed_week - 1] < datetime(2025, 2, 27, tzinfo=UTC) <= WEEKS[typed_week]
    assert kr9_value(frames[typed_week], scene) == 60
    # Between the imported weeks and the typed one, the value stays where the history left it.
    assert [kr9_value(f, scene) for f in frames[len(FRIDAYS) : typed_week]] == [
        value_of_week(len(FRIDAYS) - 1)
    ] * (typed_week - len(FRIDAYS))
    # Every event counts exactly once, in log order within its frame.
    counted = [e.position for f in frames for e in f.events]
    assert sorted(counted) == [e.position for e in scene.log]
    for frame in frames:
        assert positions(frame) == sorted(positions(frame))


def test_by_commit_time_alone_the_import_would_be_one_jump(scene: Imported) -> None:
    """What the replay showed before imported events counted at their own time."""
    frames = replay(scene.log, WEEKS)
    jump = next(i for i, f in enumerate(frames) if check_ins_of(f, scene.o9))
    assert len(check_ins_of(frames[jump], scene.o9)) == len(FRIDAYS)
    assert WEEKS[jump - 1] < IMPORT_COMMIT <= WEEKS[jump]


def test_each_frame_is_the_tree_folded_over_what_it_counts_in_log_order(scene: Imported) -> None:
    tree = TreeFold()
    frames = replay(scene.log, WEEKS, imported=scene.imported)
    for index, frame in enumerate(frames):
        counted = {e.position for f in frames[: index + 1] for e in f.events}
        expected = fold(
            tree,
            [
                Logged(logged.position, when, logged.event)
                for logged, when in counting_times(scene.log, scene.imported)
                if logged.position in counted
            ],
        )
        assert tree.to_json(frame.state) == tree.to_json(expected), WEEKS[index]
        assert frame.position == max(counted)


def test_a_boundary_between_imported_dates(scene: Imported) -> None:
    """An imported check-in is dated 17:00 UTC of its day: by noon that day it has not counted;
    the check-in Ada typed that morning has."""
    noon = datetime.combine(FRIDAYS[1], time(12), UTC)
    evening = datetime.combine(FRIDAYS[1], time.max, UTC)
    morning_frame, evening_frame = replay(scene.log, [noon, evening], imported=scene.imported)
    assert kr9_value(morning_frame, scene) == value_of_week(0)
    assert scene.typed_o1_check_in in positions(morning_frame)
    assert check_ins_of(evening_frame, scene.o9) == [FRIDAYS[1]]
    assert kr9_value(evening_frame, scene) == value_of_week(1)


def test_position_boundaries_are_the_log_as_it_stood(scene: Imported) -> None:
    """Position boundaries ignore `imported`: a frame is the log up to the position."""
    tree = TreeFold()
    middle = scene.imported.start + 3
    frames = replay(scene.log, [middle, len(scene.log)], imported=scene.imported)
    assert frames[0].position == middle
    assert tree.to_json(frames[0].state) == tree.to_json(fold(tree, scene.log, up_to=middle))
    with pytest.raises(ValueError, match="all positions or all instants"):
        replay(scene.log, [middle, WEEKS[-1]])


def test_an_imported_event_never_counts_before_an_earlier_event_of_its_objective() -> None:
    """A correction imported after Ada typed on the objective counts no earlier than her
    check-in, though it is dated 17 January: the objective's events keep their order."""
    scene = imported_quarter(correction_after_typing=True)
    frames = replay(scene.log, WEEKS, imported=scene.imported)
    correction = scene.log[-1]
    assert type(correction.event).__name__ == "CheckInCorrected"
    week = next(i for i, f in enumerate(frames) if correction.position in positions(f))
    assert scene.typed_o9_check_in in positions(frames[week])
    assert positions(frames[week]).index(scene.typed_o9_check_in) < positions(frames[week]).index(
        correction.position
    )
    assert kr9_value(frames[2], scene) == value_of_week(2)  # the 17 January week is as imported


def positions(frame: Frame) -> list[int]:
    return [e.position for e in frame.events]


# ------------------------------------------------------------------ properties


@SETTINGS
@given(drawn=stages, data=st.data())
def test_typed_logs_replay_by_instant_as_the_log_stood(drawn: Stages, data: st.DataObject) -> None:
    """Nothing imported: the frame at an instant is the tree folded over the events committed
    by then, as before imported history counted on its own dates."""
    _, log = history_of(drawn)
    instants = _instants(log, data)
    tree = TreeFold()
    frames = replay(log, instants)
    for instant, frame in zip(instants, frames, strict=True):
        up_to = max((e.position for e in log if e.recorded_at <= instant), default=0)
        assert tree.to_json(frame.state) == tree.to_json(fold(tree, log, up_to=up_to))
        assert frame.position == up_to


@SETTINGS
@given(drawn=stages, data=st.data())
def test_a_stretch_imported_later_replays_as_if_typed_when_it_happened(
    drawn: Stages, data: st.DataObject
) -> None:
    """Commit a stretch of the log late (as an import into a live store is: one commit, later
    than the history it carries) and flag it imported: the replay by instants is the same as
    the replay of the log as it was typed, frame for frame."""
    _, log = history_of(drawn)
    low = data.draw(st.integers(0, len(log)), label="import starts after")
    high = data.draw(st.integers(low, len(log)), label="import ends at")
    committed = log[high - 1].recorded_at if high > low else None
    late = [
        Logged(e.position, committed, e.event) if committed and low < e.position <= high else e
        for e in log
    ]
    assert [e.recorded_at for e in late] == sorted(e.recorded_at for e in late)
    instants = _instants(log, data)
    tree = TreeFold()
    story = replay(late, instants, imported=range(low + 1, high + 1))
    typed = replay(log, instants)
    for frame, expected in zip(story, typed, strict=True):
        assert tree.to_json(frame.state) == tree.to_json(expected.state)
        assert [e.position for e in frame.events] == [e.position for e in expected.events]
        assert frame.position == expected.position


def _instants(log: list[Logged], data: st.DataObject) -> list[datetime]:
    """Ascending instants around the log's times: at events, just before them, and past both
    ends."""
    times = [e.recorded_at for e in log] or [datetime(2025, 1, 1, tzinfo=UTC)]
    candidates = sorted(
        {t + offset for t in times for offset in (-timedelta(seconds=1), timedelta(0))}
        | {times[0] - timedelta(days=1), times[-1] + timedelta(days=1)}
    )
    picked = data.draw(
        st.lists(st.sampled_from(candidates), min_size=1, max_size=6, unique=True), label="at"
    )
    return sorted(picked)

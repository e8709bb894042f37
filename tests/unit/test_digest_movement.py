"""The weekly digest's movement (`projections.reminders.movement_for`): each objective a person
owns, progress and confidence in force at the week's start → now, and its state changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.application import OkrLedger
from domain.ledger.base import CommandResult
from domain.scoring import progress
from projections.base import Logged
from projections.reminders import Movement, RemindersState, movement_for, remember
from tests.unit.builders import ADMIN, ALICE, BOB, CAROL, an_org, ctx

SINCE = datetime(2025, 5, 19, 9, tzinfo=UTC)  # a Monday, 09:00, after the builders' now
UNTIL = SINCE + timedelta(days=7)


def _state(app: OkrLedger) -> RemindersState:
    state = RemindersState()
    for notification in app.recorder.select_notifications(start=1, limit=10_000):
        remember(state, Logged.of(notification.id, app.mapper.to_domain_event(notification)))
    return state


def _movement(app: OkrLedger, person: UUID = ALICE) -> list[Movement]:
    return movement_for(_state(app), person, SINCE, UNTIL)


def _started(approve_on: datetime | None = None) -> tuple[OkrLedger, UUID, UUID]:
    """The Platform team's objective (alice a member, bob its manager), one key result
    100 → 200, approved (at `approve_on`, else four days before the week), its cycle active."""
    org = an_org()
    objective_id = org.objective()
    kr = org.key_result(objective_id)
    org.app.submit_objective(objective_id, BOB, ctx(ALICE))
    org.app.approve_objective(objective_id, ctx(BOB, approve_on))
    org.app.start_cycle(org.q2_id, ctx(ADMIN))
    return org.app, objective_id, kr


def _check_in(
    app: OkrLedger, objective_id: UUID, kr: UUID, value: int, confidence: int, days: int
) -> CommandResult:
    """Alice checks in `days` from the week's start, effective that day."""
    at = SINCE + timedelta(days=days)
    return app.check_in(objective_id, kr, value, confidence, ctx(ALICE, at), effective_on=at.date())


def test_progress_and_confidence_then_and_now_for_each_team_member() -> None:
    app, objective_id, kr = _started()
    _check_in(app, objective_id, kr, 110, 8, days=-3)
    _check_in(app, objective_id, kr, 150, 5, days=3)
    for person in (ALICE, BOB):
        [move] = _movement(app, person)
        assert (move.progress_then, move.progress_now) == (0.1, 0.5)
        assert (move.confidence_then, move.confidence_now) == (8, 5)
        assert move.changes == () and move.moved
        assert move.link == f"/objectives/{objective_id}"
    assert _movement(app, CAROL) == []  # manager of the parent team only: not an owner


def test_an_objective_that_did_not_move_says_so() -> None:
    app, objective_id, kr = _started()
    _check_in(app, objective_id, kr, 110, 8, days=-3)
    [move] = _movement(app)
    assert (move.progress_then, move.progress_now, move.confidence_now) == (0.1, 0.1, 8)
    assert not move.moved


def test_approval_in_the_week_is_a_state_change() -> None:
    app, _, _ = _started(SINCE + timedelta(days=1))
    [move] = _movement(app)
    assert move.changes == ("approved",)
    assert (move.progress_then, move.progress_now) == (0.0, 0.0)


def test_a_correction_made_in_the_week_moves_from_what_was_known_then() -> None:
    app, objective_id, kr = _started()
    first = _check_in(app, objective_id, kr, 110, 8, days=-3)
    assert first.extra_id is not None
    at = SINCE + timedelta(days=1)
    app.correct_check_in(
        objective_id, kr, first.extra_id, 130, "typo", ctx(ALICE, at), confidence=7
    )
    [move] = _movement(app)
    assert (move.progress_then, move.progress_now) == (0.1, 0.3)
    assert (move.confidence_then, move.confidence_now) == (8, 7)


def test_an_amendment_in_the_week_is_a_state_change_measured_by_the_definition_now() -> None:
    """Target 200 → 150 in the week: `amended`; the same check-in (125) counts 50% then and now,
    since progress is the key results' definitions now (a retargeting is not movement)."""
    app, objective_id, kr = _started()
    _check_in(app, objective_id, kr, 125, 6, days=-2)
    at = SINCE + timedelta(days=2)
    amendment = app.propose_amendment(
        objective_id, {"key_results": {str(kr): {"target": 150}}}, "too far", ctx(ALICE, at)
    )
    assert amendment.extra_id is not None
    app.approve_amendment(objective_id, amendment.extra_id, ctx(BOB, at))
    [move] = _movement(app)
    assert move.changes == ("amended",)
    assert (move.progress_then, move.progress_now) == (0.5, 0.5)
    assert (move.confidence_then, move.confidence_now) == (6, 6)


def test_old_check_ins_are_forgotten_but_the_one_in_force_stays() -> None:
    """Ten check-ins every three days until thirteen days before the week, one in it: the key
    result forgets those older than fifteen days before the latest, but not the one in force."""
    app, objective_id, kr = _started()
    for n, days in enumerate(range(-40, -12, 3)):
        _check_in(app, objective_id, kr, 100 + n, 5, days=days)
    _check_in(app, objective_id, kr, 180, 9, days=2)
    state = _state(app)
    kept = state.moving[objective_id].key_results[kr].check_ins
    assert len(kept) < 11
    [move] = movement_for(state, ALICE, SINCE, UNTIL)
    assert (move.progress_then, move.confidence_then) == (0.09, 5)  # 109, 40 - 13 days before
    assert (move.progress_now, move.confidence_now) == (0.8, 9)


check_ins = st.lists(
    st.tuples(
        st.integers(min_value=-40, max_value=6),  # recorded, days from the week's start
        st.integers(min_value=0, max_value=6),  # effective, days before recorded
        st.integers(min_value=0, max_value=300),
        st.integers(min_value=0, max_value=10),
    ),
    max_size=14,  # more than a key result keeps before forgetting the old ones
)


@settings(max_examples=40, deadline=None)
@given(check_ins)
def test_movement_is_now_minus_then(found: list[tuple[int, int, int, int]]) -> None:
    """Whatever the check-ins, then and now are the check-ins in force at those instants (the
    latest effective, the later recorded on a tie), and the movement is their difference."""
    app, objective_id, kr = _started()
    recorded: list[tuple[date, datetime, int, int]] = []
    for n, (days, back, value, confidence) in enumerate(sorted(found, key=lambda f: f[0])):
        at = SINCE + timedelta(days=days, minutes=n)
        effective = max(at.date() - timedelta(days=back), date(2025, 4, 1))  # the cycle's start
        app.check_in(objective_id, kr, value, confidence, ctx(ALICE, at), effective_on=effective)
        recorded.append((effective, at, value, confidence))

    def expected(moment: datetime) -> tuple[float, int | None]:
        known = [r for r in recorded if r[1] <= moment]
        if not known:
            return 0.0, None
        latest = max(known, key=lambda r: (r[0], r[1]))
        return progress("metric", "increase", 100, 200, latest[2]), latest[3]

    [move] = _movement(app)
    assert (move.progress_then, move.confidence_then) == expected(SINCE)
    assert (move.progress_now, move.confidence_now) == expected(UNTIL)
    assert move.progress_delta == expected(UNTIL)[0] - expected(SINCE)[0]
    assert move.moved == (expected(UNTIL) != expected(SINCE))

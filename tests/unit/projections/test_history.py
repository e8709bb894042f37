"""Cycle history: check-in series (valid and recorded time, corrections kept) and timelines."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from projections.history import (
    HistoryFold,
    HistoryState,
    check_in_series,
    cycle_history,
    lineage_series,
    objective_history,
)
from tests.steps import draft, metric
from tests.unit.projections.story import ADMIN, Story, organised


@pytest.fixture(scope="module")
def state(story: Story) -> HistoryState:
    return story.ledger.fold(HistoryFold())


def test_a_key_results_series_keeps_the_superseded_check_in_and_why_it_was_corrected(
    story: Story, state: HistoryState
) -> None:
    series = check_in_series(state, story.o1, story.kr1)
    ada = str(story.ada)
    jan17, fixed = story.check_ins["kr1_jan17"], story.check_ins["kr1_jan17_fixed"]
    assert [(c.effective_on, c.recorded_at) for c in series] == [
        (date(2025, 1, 10), datetime(2025, 1, 10, 9, 0, tzinfo=UTC)),
        (date(2025, 1, 17), datetime(2025, 1, 17, 9, 0, tzinfo=UTC)),
        (date(2025, 1, 17), datetime(2025, 1, 18, 9, 0, tzinfo=UTC)),  # recorded a day later
    ]
    assert [(c.position, c.value, c.confidence, c.actor) for c in series] == [
        (29, 16.0, 7, ada),
        (32, 22.0, 6, ada),
        (33, 20.0, 6, ada),
    ]
    assert [(c.superseded, c.superseded_by, c.supersedes, c.reason) for c in series] == [
        (False, None, None, ""),
        (True, fixed, None, ""),
        (False, None, jan17, "counted our own test teams"),
    ]
    live = check_in_series(state, story.o1, story.kr1, include_superseded=False)
    assert [c.value for c in live] == [16.0, 20.0]
    assert [c.note for c in check_in_series(state, story.o2, story.kr4)] == ["two long outages", ""]


def test_an_objectives_timeline_summarises_each_event(story: Story, state: HistoryState) -> None:
    history = objective_history(state, story.o2)
    assert history is not None
    ada, ben = str(story.ada), str(story.ben)
    assert [(e.position, e.event_type, e.actor, e.reason, e.summary) for e in history.timeline] == [
        (
            15,
            "Objective.Drafted",
            ben,
            "",
            "objective 'Make the platform boringly reliable' drafted for team 'Platform',"
            " aligned to key result 'Weekly active teams' of 'Become the default OKR tool'",
        ),
        (
            16,
            "Objective.KeyResultAdded",
            ben,
            "",
            "key result 'Core API availability' added to 'Make the platform boringly reliable'",
        ),
        (
            17,
            "Objective.KeyResultAdded",
            ben,
            "",
            "key result 'Mean time to recover' added to 'Make the platform boringly reliable'",
        ),
        (
            18,
            "Objective.SubmittedForApproval",
            ben,
            "",
            "'Make the platform boringly reliable' submitted for approval",
        ),
        (
            19,
            "Objective.ChangesRequested",
            ada,
            "",
            "changes requested on 'Make the platform boringly reliable'",
        ),
        (
            20,
            "Objective.KeyResultRetargeted",
            ben,
            "",
            "target of 'Mean time to recover' changed from 30 to 20",
        ),
        (
            21,
            "Objective.SubmittedForApproval",
            ben,
            "",
            "'Make the platform boringly reliable' submitted for approval",
        ),
        (22, "Objective.Approved", ada, "", "'Make the platform boringly reliable' approved"),
        (
            30,
            "Objective.ProgressReported",
            ben,
            "",
            "check-in on 'Core API availability': 99.95 (confidence 8) for 2025-01-10",
        ),
        (
            31,
            "Objective.ProgressReported",
            ben,
            "",
            "check-in on 'Mean time to recover': 50 (confidence 5) for 2025-01-10",
        ),
        (
            36,
            "Objective.ProgressReported",
            ben,
            "",
            "check-in on 'Mean time to recover': 40 (confidence 8) for 2025-01-24",
        ),
        (40, "Objective.KeyResultGraded", ben, "", "'Core API availability' graded 1 (achieved)"),
        (
            41,
            "Objective.KeyResultGraded",
            ben,
            "",
            "'Mean time to recover' graded 0.5 (not achieved)",
        ),
        (42, "Objective.Graded", ben, "", "'Make the platform boringly reliable' graded 0.8"),
    ]
    assert history.timeline[5].key_result_id == story.kr4


def test_titles_follow_renames_and_the_cycle_lists_its_objectives(
    story: Story, state: HistoryState
) -> None:
    o3 = objective_history(state, story.o3)
    assert o3 is not None
    assert o3.key_results[story.kr5].title == "Tracing talk given at a meetup"
    assert o3.timeline[-1].summary == (
        "counter-proposal on 'Learn the tracing stack' accepted:"
        " key result 'Tracing talk given' renamed to 'Tracing talk given at a meetup'"
    )
    assert [h.title for h in cycle_history(state, story.q1)] == [
        "Become the default OKR tool",
        "Make the platform boringly reliable",
        "Learn the tracing stack",
    ]
    lineage = o3.key_results[story.kr5].lineage_id
    assert lineage_series(state, lineage) == []
    o1 = objective_history(state, story.o1)
    assert o1 is not None
    assert [c.value for c in lineage_series(state, o1.key_results[story.kr1].lineage_id)] == [
        16.0,
        20.0,
    ]


def test_a_carried_over_key_result_is_followed_across_cycles_by_its_lineage() -> None:
    ledger, org = organised()
    app, by = ledger.app, ledger.by
    ada, ben, acme, q1 = org.ada, org.ben, org.acme, org.q1
    q2 = app.plan_cycle("Q2 2025", date(2025, 4, 1), date(2025, 6, 30), by(ADMIN)).id
    objective = draft(app, by(ada), q1, "Grow", owner_team_id=acme)
    kr = metric(app, by(ada), objective, "Teams", 0, 10)
    app.submit_objective(objective, ben, by(ada))
    app.approve_objective(objective, by(ben))
    app.start_cycle(q1, by(ADMIN, date(2025, 1, 1)))
    app.check_in(objective, kr, 4, 6, by(ada, date(2025, 3, 28)))
    successor = app.carry_over(objective, q2, by(ada, date(2025, 3, 31))).id
    carried = app.get_objective(successor)
    (next_kr,) = carried.key_results.values()
    app.submit_objective(successor, ben, by(ada))
    app.approve_objective(successor, by(ben))
    app.start_cycle(q2, by(ADMIN, date(2025, 4, 1)))
    app.check_in(successor, next_kr.id, 7, 7, by(ada, date(2025, 4, 11)))

    state = ledger.fold(HistoryFold())
    assert [(c.effective_on, c.value) for c in lineage_series(state, next_kr.lineage_id)] == [
        (date(2025, 3, 28), 4.0),
        (date(2025, 4, 11), 7.0),
    ]
    history = objective_history(state, objective)
    assert history is not None
    assert history.timeline[-1].summary == "'Grow' carried over to cycle 'Q2 2025'"
    successor_history = objective_history(state, successor)
    assert successor_history is not None
    assert successor_history.timeline[0].summary == (
        "objective 'Grow' drafted for team 'Acme', carried over from 'Grow'"
    )

"""The alignment tree: statuses, key results, progress, health, scores and nesting.

Expected values are worked out by hand from the story (see story.py). Q1 has 89 days; on
24 January 23 of them are gone (elapsed share 0.2584).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import pytest

from domain.base import CommandContext
from domain.errors import RuleViolated
from projections.tree import ALL, ObjectiveView, TreeFold, TreeState, as_json, objective_view, tree
from tests.steps import draft, metric, milestone
from tests.unit.projections.story import ADMIN, Story, organised


def shape(views: list[ObjectiveView]) -> list[Any]:
    """Titles and nesting only."""
    return [(v.title, shape(list(v.children))) for v in views]


def looks(view: ObjectiveView) -> tuple[Any, ...]:
    """What a person sees of an objective: state, progress, health, score and key results."""
    return (
        view.state,
        round(view.progress, 4) if view.progress is not None else None,
        view.health,
        round(view.score, 4) if view.score is not None else None,
        [
            (kr.title, kr.target, kr.current_value, kr.confidence, round(kr.progress, 4), kr.health)
            for kr in view.key_results
        ],
    )


def at(story: Story, moment: str) -> TreeState:
    return story.ledger.fold(TreeFold(), up_to=story.at[moment])


def test_on_24_january_progress_and_health_follow_check_ins_and_the_amended_target(
    story: Story,
) -> None:
    state = at(story, "jan24")
    assert looks(objective_view(state, story.o1)) == (
        "approved",
        0.303,  # (10/22 × 2 + 0 × 1) / 3
        "at_risk",  # lowest confidence 6
        None,
        [
            ("Weekly active teams", 32.0, 20.0, 6, 0.4545, "at_risk"),  # the correction counts
            ("Public API launched", 1.0, None, None, 0.0, "at_risk"),  # 0 against 0.26 elapsed
        ],
    )
    assert looks(objective_view(state, story.o2)) == (
        "approved",
        0.75,
        "on_track",
        None,
        [
            ("Core API availability", 99.9, 99.95, 8, 1.0, "on_track"),
            ("Mean time to recover", 20.0, 40.0, 8, 0.5, "on_track"),  # (40-60)/(20-60)
        ],
    )
    assert looks(objective_view(state, story.o3)) == (
        "approved",
        0.0,
        "at_risk",
        None,
        [("Tracing talk given at a meetup", 1.0, None, None, 0.0, "at_risk")],
    )


def test_states_through_negotiation_carry_no_health_before_approval(story: Story) -> None:
    assert objective_view(at(story, "o1_drafted"), story.o1).state == "draft"
    assert objective_view(at(story, "o1_submitted"), story.o1).state == "in_review"
    countered = objective_view(at(story, "o3_countered"), story.o3)
    assert (countered.state, countered.health) == ("countered", None)
    assert [kr.title for kr in countered.key_results] == ["Tracing talk given"]
    accepted = objective_view(at(story, "negotiated"), story.o3)
    assert accepted.state == "approved"
    assert [kr.title for kr in accepted.key_results] == ["Tracing talk given at a meetup"]
    # Approved but the cycle is still in planning: health waits for the cycle to start.
    assert objective_view(at(story, "negotiated"), story.o1).health is None
    pending = objective_view(at(story, "amendment_proposed"), story.o1)
    assert (pending.status, pending.state) == ("approved", "amendment_pending")
    assert pending.key_results[0].target == 40.0  # not moved until approved


def test_after_grading_scores_are_explicit_or_the_weighted_mean_of_key_result_grades(
    story: Story,
) -> None:
    state = at(story, "closed")
    o1, o2, o3 = (objective_view(state, o) for o in (story.o1, story.o2, story.o3))
    assert (o1.state, round(o1.score or 0, 4)) == ("graded", 0.3333)  # (0.5 × 2 + 0) / 3
    assert [(kr.score, kr.achieved) for kr in o1.key_results] == [(0.5, False), (0.0, False)]
    assert (o2.state, o2.score) == ("graded", 0.8)  # explicit, over the mean of 0.75
    assert (o3.state, o3.score) == ("approved", None)
    # The whole cycle is gone: 10/22 progress with confidence 6 is off track by then.
    assert o1.key_results[0].health == "off_track"


def test_the_tree_nests_by_alignment_and_hides_private_objectives_from_others(
    story: Story,
) -> None:
    state = at(story, "jan24")
    public = [("Become the default OKR tool", [("Make the platform boringly reliable", [])])]
    with_private = [
        (
            "Become the default OKR tool",
            [("Make the platform boringly reliable", [("Learn the tracing stack", [])])],
        )
    ]
    assert shape(tree(state, story.q1)) == public
    assert shape(tree(state, story.q1, include_private_for=story.ada)) == public
    assert shape(tree(state, story.q1, include_private_for=story.cy)) == with_private  # owner
    assert shape(tree(state, story.q1, include_private_for=story.ben)) == with_private  # approver
    assert shape(tree(state, story.q1, include_private_for=ALL)) == with_private
    platform = tree(state, story.q1, team_id=story.platform, include_private_for=ALL)
    # The company objective is outside the team: Platform's objective becomes a root.
    assert shape(platform) == [
        ("Make the platform boringly reliable", [("Learn the tracing stack", [])])
    ]
    assert platform[0].parent_objective_id == story.o1
    assert platform[0].parent_key_result_id == story.kr1
    assert shape(tree(state, story.q1, team_id=story.acme)) == public
    assert tree(state, UUID(int=0)) == []


def test_roots_are_ordered_company_then_teams_then_people_then_by_drafting() -> None:
    ledger, org = organised()
    app, by = ledger.app, ledger.by
    ada, ben, cy, acme, platform, q1 = org.ada, org.ben, org.cy, org.acme, org.platform, org.q1

    def drafted(title: str, actor: UUID, **owner: UUID) -> UUID:
        return draft(app, by(actor), q1, title, **owner)

    drafted("Cy's own", cy, owner_person_id=cy)
    drafted("Platform's first", ben, owner_team_id=platform)
    drafted("Company-wide", ada, owner_team_id=acme)
    drafted("Platform's second", ben, owner_team_id=platform)
    state = ledger.fold(TreeFold())
    assert shape(tree(state, q1)) == [
        ("Company-wide", []),
        ("Platform's first", []),
        ("Platform's second", []),
        ("Cy's own", []),
    ]


def test_an_alignment_loop_is_refused_and_the_tree_keeps_its_shape() -> None:
    """Aligning an objective under its own descendant is refused; the tree stays as it was."""
    ledger, org = organised()
    app, by = ledger.app, ledger.by
    ada, acme, q1 = org.ada, org.acme, org.q1
    first = draft(app, by(ada), q1, "First", owner_team_id=acme)
    second = draft(app, by(ada), q1, "Second", owner_team_id=acme, parent_objective_id=first)
    with pytest.raises(RuleViolated) as refused:
        app.update_objective(first, by(ada), realign=True, parent_objective_id=second)
    assert (refused.value.rule, refused.value.field) == ("alignment_cycle", "parent_objective_id")
    state = ledger.fold(TreeFold())
    assert shape(tree(state, q1)) == [("First", [("Second", [])])]


def test_removed_key_results_leave_the_tree_and_abandoned_objectives_stay_marked() -> None:
    ledger, org = organised()
    app, by = ledger.app, ledger.by
    ada, acme, q1 = org.ada, org.acme, org.q1
    objective = draft(app, by(ada), q1, "Tidy up", owner_team_id=acme)
    milestone(app, by(ada), objective, "Keep")
    drop = milestone(app, by(ada), objective, "Drop")
    app.remove_key_result(objective, drop, by(ada))
    app.abandon_objective(objective, "the team was reorganised", by(ADMIN, date(2024, 12, 20)))
    view = objective_view(ledger.fold(TreeFold()), objective)
    assert [kr.title for kr in view.key_results] == ["Keep"]
    assert (view.status, view.state) == ("abandoned", "abandoned")


def test_a_view_has_a_json_form(story: Story) -> None:
    data = as_json(objective_view(at(story, "jan24"), story.o2))
    assert data["objective_id"] == str(story.o2)
    assert data["key_results"][1]["current_effective_on"] == "2025-01-24"
    assert data["children"] == []


def test_of_two_check_ins_for_the_same_day_recorded_at_the_same_instant_the_first_stands() -> None:
    """As the aggregate's `KeyResult.current`: the latest (effective day, recorded time), the
    first one on a tie (a history imported with one timestamp per day can have ties)."""
    ledger, org = organised()
    app, by = ledger.app, ledger.by
    objective = draft(app, by(org.ada), org.q1, "Tie", owner_team_id=org.acme)
    kr = metric(app, by(org.ada), objective, "Count", 0, 10)
    app.submit_objective(objective, org.ben, by(org.ada))
    app.approve_objective(objective, by(org.ben))
    app.start_cycle(org.q1, by(ADMIN, date(2025, 1, 1)))
    same = CommandContext(str(org.ada), at=datetime(2025, 1, 10, 17, 0, tzinfo=UTC))
    app.check_in(objective, kr, 3, 7, same)
    app.check_in(objective, kr, 4, 5, same)
    view = objective_view(ledger.fold(TreeFold()), objective)
    current = app.get_objective(objective).key_results[kr].current
    assert current is not None
    assert (view.key_results[0].current_value, view.key_results[0].confidence) == (3.0, 7)
    assert current.value == 3.0

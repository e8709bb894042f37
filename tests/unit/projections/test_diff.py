"""Diffs between two moments of the tree, attributed from the audit rows in between."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from domain.scoring import Direction
from projections.audit import AuditFold, AuditRow
from projections.diff import (
    BASELINE_CHANGED,
    CONFIDENCE_SWING,
    GRADE_CHANGED,
    KEY_RESULT_ADDED,
    KEY_RESULT_REMOVED,
    KEY_RESULT_RETITLED,
    OBJECTIVE_ABANDONED,
    OBJECTIVE_ADDED,
    OBJECTIVE_REALIGNED,
    OBJECTIVE_REASSIGNED,
    OBJECTIVE_REMOVED,
    OBJECTIVE_RETITLED,
    SCORE_CHANGED,
    STATUS_CHANGED,
    TARGET_CHANGED,
    WEIGHT_CHANGED,
    Attribution,
    Change,
    TreeDiff,
    diff,
)
from projections.tree import TreeFold, TreeState
from tests.steps import draft, metric, milestone
from tests.unit.projections.story import ADMIN, Story, organised


@pytest.fixture(scope="module")
def rows(story: Story) -> list[AuditRow]:
    return story.ledger.fold(AuditFold()).rows


def tree_at(story: Story, moment: str) -> TreeState:
    return story.ledger.fold(TreeFold(), up_to=story.at[moment])


def attribution(change: Change) -> Attribution:
    assert change.by is not None
    return change.by


def brief(result: TreeDiff) -> list[tuple[Any, ...]]:
    return [
        (c.kind, c.title, c.key_result_title, c.before, c.after, c.by.position if c.by else None)
        for c in result.changes
    ]


def test_a_target_moved_by_amendment_names_proposer_reason_and_approver(
    story: Story, rows: list[AuditRow]
) -> None:
    result = diff(tree_at(story, "corrected"), tree_at(story, "jan24"), audit_rows=rows)
    assert (result.from_position, result.to_position) == (33, 36)
    assert result.changes == (
        Change(
            kind=TARGET_CHANGED,
            objective_id=story.o1,
            title="Become the default OKR tool",
            key_result_id=story.kr1,
            key_result_title="Weekly active teams",
            before=40.0,
            after=32.0,
            by=Attribution(
                position=35,
                recorded_at=datetime(2025, 1, 21, 9, 0, tzinfo=UTC),
                event_type="Objective.AmendmentApproved",
                actor=str(story.ada),
                reason="the market is smaller than we thought",
                approver=str(story.ben),
                comment="fair, the data supports it",
            ),
        ),
        Change(
            kind=CONFIDENCE_SWING,
            objective_id=story.o2,
            title="Make the platform boringly reliable",
            key_result_id=story.kr4,
            key_result_title="Mean time to recover",
            before=5,
            after=8,
            by=Attribution(
                36,
                datetime(2025, 1, 24, 9, 0, tzinfo=UTC),
                "Objective.ProgressReported",
                str(story.ben),
                "",
                None,
            ),
        ),
    )


def test_negotiation_adds_objectives_and_key_results_and_approves(
    story: Story, rows: list[AuditRow]
) -> None:
    result = diff(tree_at(story, "o1_drafted"), tree_at(story, "negotiated"), audit_rows=rows)
    assert brief(result) == [
        (STATUS_CHANGED, "Become the default OKR tool", None, "draft", "approved", 14),
        (OBJECTIVE_ADDED, "Make the platform boringly reliable", None, None, "approved", 15),
        (
            KEY_RESULT_ADDED,
            "Make the platform boringly reliable",
            "Core API availability",
            None,
            99.9,
            16,
        ),
        (
            KEY_RESULT_ADDED,
            "Make the platform boringly reliable",
            "Mean time to recover",
            None,
            20.0,
            17,
        ),
        (OBJECTIVE_ADDED, "Learn the tracing stack", None, None, "approved", 23),
        (
            KEY_RESULT_ADDED,
            "Learn the tracing stack",
            "Tracing talk given at a meetup",
            None,
            1.0,
            24,
        ),
    ]
    assert attribution(result.of_kind(STATUS_CHANGED)[0]).approver == str(story.ben)


def test_grades_and_scores_appear_when_the_quarter_is_graded(
    story: Story, rows: list[AuditRow]
) -> None:
    result = diff(tree_at(story, "jan24"), tree_at(story, "graded"), audit_rows=rows)
    assert [(c.kind, c.key_result_title, c.before, c.after) for c in result.changes] == [
        (GRADE_CHANGED, "Weekly active teams", None, 0.5),
        (GRADE_CHANGED, "Public API launched", None, 0.0),
        (SCORE_CHANGED, None, None, pytest.approx(1 / 3)),
        (GRADE_CHANGED, "Core API availability", None, 1.0),
        (GRADE_CHANGED, "Mean time to recover", None, 0.5),
        (SCORE_CHANGED, None, None, 0.8),
    ]
    assert [attribution(c).position for c in result.of_kind(SCORE_CHANGED)] == [39, 42]


def test_without_audit_rows_changes_are_unattributed_and_other_cycles_are_left_out(
    story: Story,
) -> None:
    result = diff(tree_at(story, "corrected"), tree_at(story, "jan24"))
    assert [c.by for c in result.changes] == [None, None]
    assert (
        diff(tree_at(story, "o1_drafted"), tree_at(story, "jan24"), cycle_id=story.o1).changes == ()
    )


def test_diffing_backwards_reports_objectives_that_did_not_exist_yet(story: Story) -> None:
    result = diff(tree_at(story, "negotiated"), tree_at(story, "o1_drafted"))
    assert [c.title for c in result.of_kind(OBJECTIVE_REMOVED)] == [
        "Make the platform boringly reliable",
        "Learn the tracing stack",
    ]
    assert [c.kind for c in result.changes if c.objective_id == story.o1] == [STATUS_CHANGED]


def test_drafts_reworded_realigned_reassigned_reshaped_and_abandoned() -> None:
    ledger, org = organised()
    app, by = ledger.app, ledger.by
    parent = draft(app, by(org.ada), org.q1, "Parent", owner_team_id=org.acme)
    child = draft(app, by(org.ben), org.q1, "Child", owner_team_id=org.platform)
    keep = metric(app, by(org.ben), child, "Latency", 300, 200, direction=Direction.DECREASE)
    drop = milestone(app, by(org.ben), child, "Docs")
    before = ledger.fold(TreeFold())
    app.update_objective(
        child, by(org.ben), title="Fast child", realign=True, parent_objective_id=parent
    )
    app.update_objective(child, by(org.ben), reassign=True, owner_person_id=org.ben)
    app.update_key_result(child, keep, by(org.ben), title="p99 latency", baseline=350, weight=3)
    app.remove_key_result(child, drop, by(org.ben))
    app.abandon_objective(child, "folded into the parent", by(ADMIN, date(2024, 12, 20)))
    after = ledger.fold(TreeFold())
    result = diff(before, after, audit_rows=ledger.fold(AuditFold()).rows)
    assert [
        (c.kind, c.before, c.after, c.by.event_type if c.by else None) for c in result.changes
    ] == [
        (OBJECTIVE_RETITLED, "Child", "Fast child", "Objective.Reworded"),
        (OBJECTIVE_ABANDONED, "draft", "abandoned", "Objective.Abandoned"),
        (
            OBJECTIVE_REALIGNED,
            {"parent_objective_id": None, "parent_key_result_id": None},
            {"parent_objective_id": str(parent), "parent_key_result_id": None},
            "Objective.Realigned",
        ),
        (
            OBJECTIVE_REASSIGNED,
            {"owner_team_id": str(org.platform), "owner_person_id": None},
            {"owner_team_id": None, "owner_person_id": str(org.ben)},
            "Objective.Reassigned",
        ),
        (KEY_RESULT_RETITLED, "Latency", "p99 latency", "Objective.KeyResultReworded"),
        (BASELINE_CHANGED, 300.0, 350.0, "Objective.KeyResultRetargeted"),
        (WEIGHT_CHANGED, 1.0, 3.0, "Objective.KeyResultReweighted"),
        (KEY_RESULT_REMOVED, False, True, "Objective.KeyResultRemoved"),
    ]
    assert attribution(result.of_kind(OBJECTIVE_ABANDONED)[0]).reason == "folded into the parent"

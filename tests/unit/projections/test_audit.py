"""The audit trail: who did what to which thing, when, why, before → after, approved by whom."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from domain.access import Role
from projections.audit import AuditFold, AuditRow, AuditState, audit_trail, row_json
from tests.unit.projections.story import ADMIN, Story, organised


@pytest.fixture(scope="module")
def state(story: Story) -> AuditState:
    return story.ledger.fold(AuditFold())


def row_at(state: AuditState, position: int) -> AuditRow:
    (row,) = audit_trail(state, after_position=position - 1, up_to_position=position)
    return row


def test_one_row_per_event_in_log_order(story: Story, state: AuditState) -> None:
    assert [r.position for r in state.rows] == list(range(1, 44))


def test_an_approved_amendment_says_what_moved_from_what_to_what_and_who_approved(
    story: Story, state: AuditState
) -> None:
    kr1 = str(story.kr1)
    proposed, approved = row_at(state, 34), row_at(state, 35)
    assert (proposed.actor, proposed.action, proposed.reason, proposed.approver) == (
        str(story.ada),
        "amendment proposed to 'Become the default OKR tool':"
        " target of 'Weekly active teams' from 40 to 32",
        "the market is smaller than we thought",
        None,
    )
    assert approved == AuditRow(
        position=35,
        recorded_at=datetime(2025, 1, 21, 9, 0, tzinfo=UTC),
        actor=str(story.ben),
        request_id=approved.request_id,
        event_type="Objective.AmendmentApproved",
        entity_type="objective",
        entity_id=story.o1,
        entity_version=10,  # drafted, 2 KRs, submitted, approved, 3 check-ins, proposed
        objective_id=story.o1,
        cycle_id=story.q1,
        key_result_id=None,
        action="amendment to 'Become the default OKR tool' approved:"
        " target of 'Weekly active teams' changed from 40 to 32",
        before={"key_results": {kr1: {"target": 40.0}}},
        after={"key_results": {kr1: {"target": 32.0}}, "amendment_id": str(story.amendment)},
        reason="fair, the data supports it",
        approver=str(story.ben),
    )


def test_approvals_name_the_approver_including_the_author_of_an_accepted_counter_proposal(
    story: Story, state: AuditState
) -> None:
    approvals = [(r.position, r.event_type, r.actor, r.approver) for r in state.rows if r.approver]
    ada, ben, cy = str(story.ada), str(story.ben), str(story.cy)
    assert approvals == [
        (14, "Objective.Approved", ben, ben),
        (22, "Objective.Approved", ada, ada),
        (27, "Objective.CounterProposalAccepted", cy, ben),
        (35, "Objective.AmendmentApproved", ben, ben),
    ]


def test_edits_corrections_and_grades_read_as_sentences_with_before_and_after(
    story: Story, state: AuditState
) -> None:
    kr4 = str(story.kr4)
    retarget = row_at(state, 20)
    assert (retarget.action, retarget.before, retarget.after, retarget.key_result_id) == (
        "target of 'Mean time to recover' changed from 30 to 20",
        {"key_results": {kr4: {"target": 30.0}}},
        {"key_results": {kr4: {"target": 20.0}}},
        story.kr4,
    )
    correction = row_at(state, 33)
    assert (correction.action, correction.reason) == (
        "check-in on 'Weekly active teams' for 2025-01-17 corrected from 22 to 20",
        "counted our own test teams",
    )
    assert (correction.before["value"], correction.after["value"]) == (22.0, 20.0)
    assert row_at(state, 42).action == "'Make the platform boringly reliable' graded 0.8"
    assert (row_at(state, 42).before, row_at(state, 42).after) == (
        {"score": 0.75},
        {"score": 0.8},
    )
    assert row_at(state, 19).after == {
        "status": "changes_requested",
        "comment": "MTTR of 30 minutes is what we have on a good day",
    }
    assert [row_at(state, p).action for p in (5, 9, 28, 43)] == [
        "team 'Platform' formed under 'Acme'",
        "cycle 'Q1 2025' planned from 2025-01-01 to 2025-03-31",
        "cycle 'Q1 2025' started",
        "cycle 'Q1 2025' closed",
    ]


def test_people_stay_ids_no_name_or_e_mail_appears_in_any_row(state: AuditState) -> None:
    exported = json.dumps([row_json(r) for r in state.rows])
    for personal in ("Ada", "Lovelace", "Okafor", "Cy Young", "@acme.example"):
        assert personal not in exported
    assert row_at(state, 1).action == "person registered"


def test_filters_by_actor_entity_type_cycle_and_time(story: Story, state: AuditState) -> None:
    by_cy = audit_trail(state, actor=str(story.cy))
    assert [r.position for r in by_cy] == [23, 24, 25, 27]
    on_kr1 = audit_trail(state, entity_id=story.kr1)
    assert [r.event_type for r in on_kr1] == [
        "Objective.KeyResultAdded",
        "Objective.ProgressReported",
        "Objective.ProgressReported",
        "Objective.CheckInCorrected",
        "Objective.KeyResultGraded",
    ]
    assert len(audit_trail(state, entity_id=story.o1)) == 12
    assert [r.position for r in audit_trail(state, event_type="Cycle.Started")] == [28]
    january = audit_trail(
        state,
        since=datetime(2025, 1, 1, tzinfo=UTC),
        until=datetime(2025, 1, 31, 23, 59, tzinfo=UTC),
    )
    assert [r.position for r in january] == list(range(28, 37))
    assert [r.position for r in audit_trail(state, cycle_id=story.q1)] == list(range(9, 44))


def test_tokens_membership_changes_and_unknown_events_get_rows_too() -> None:
    ledger, org = organised()
    app, by = ledger.app, ledger.by
    ada, cy, platform = org.ada, org.cy, org.platform
    _, issued = app.issue_token(ada, Role.MANAGER, by(ADMIN), label="laptop")
    app.revoke_token(issued.id, "laptop lost", by(ADMIN))
    app.rename_team(platform, "Platform Engineering", by(ADMIN))
    app.remove_team_member(platform, cy, by(ADMIN))
    app.deactivate_person(cy, "left the company", by(ADMIN))
    state = ledger.fold(AuditFold())
    tail = [(r.entity_type, r.action, r.before, r.after) for r in state.rows[-6:]]
    assert tail == [
        (
            "token",
            "manager token issued",
            {},
            {"person_id": str(ada), "role": "manager", "label": "laptop", "revoked": False},
        ),
        ("person", "role changed to manager", {"role": None}, {"role": "manager"}),
        ("token", "token revoked", {"revoked": False}, {"revoked": True}),
        (
            "team",
            "team 'Platform' renamed to 'Platform Engineering'",
            {"name": "Platform"},
            {"name": "Platform Engineering"},
        ),
        (
            "team",
            "member removed from team 'Platform Engineering'",
            {"person_id": str(cy), "role": "member"},
            {},
        ),
        ("person", "person deactivated", {"active": True}, {"active": False}),
    ]
    assert "token_hash" not in json.dumps([row_json(r) for r in state.rows])

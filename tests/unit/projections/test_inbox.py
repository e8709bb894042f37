"""The approval inbox: reviews for approvers, amendments for the objective's approver,
counter-proposals for the contributor."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID

from projections.inbox import InboxFold, InboxItem, inbox
from tests.steps import draft, milestone
from tests.unit.projections.story import ADMIN, Story, organised


def kinds(items: list[InboxItem]) -> list[tuple[str, str, str]]:
    return [(i.kind, i.title, i.requested_by) for i in items]


def test_a_submission_waits_on_the_approver_it_was_submitted_to(story: Story) -> None:
    state = story.ledger.fold(InboxFold(), up_to=story.at["o1_submitted"])
    assert inbox(state, story.ben) == [
        InboxItem(
            kind="review",
            objective_id=story.o1,
            cycle_id=story.q1,
            title="Become the default OKR tool",
            owner_team_id=story.acme,
            owner_person_id=None,
            requested_by=str(story.ada),
            since=datetime(2024, 12, 9, 9, 3, tzinfo=UTC),
            position=13,
            comment="",
            changes={},
        )
    ]
    assert inbox(state, story.ada) == []


def test_a_counter_proposal_waits_on_the_contributor_not_the_approver(story: Story) -> None:
    state = story.ledger.fold(InboxFold(), up_to=story.at["o3_countered"])
    (item,) = inbox(state, story.cy)
    assert (item.kind, item.title, item.requested_by, item.comment) == (
        "counter_proposal",
        "Learn the tracing stack",
        str(story.ben),
        "make it public",
    )
    assert item.changes == {
        "key_results": {str(story.kr5): {"title": "Tracing talk given at a meetup"}}
    }
    assert inbox(state, story.ben) == []
    accepted = story.ledger.fold(InboxFold(), up_to=story.at["negotiated"])
    assert inbox(accepted, story.cy) == []


def test_a_pending_amendment_waits_on_the_objectives_approver(story: Story) -> None:
    state = story.ledger.fold(InboxFold(), up_to=story.at["amendment_proposed"])
    (item,) = inbox(state, str(story.ben))
    assert (item.kind, item.title, item.requested_by, item.comment, item.amendment_id) == (
        "amendment",
        "Become the default OKR tool",
        str(story.ada),
        "the market is smaller than we thought",
        story.amendment,
    )
    assert inbox(state, story.ada) == []
    decided = story.ledger.fold(InboxFold(), up_to=story.at["jan24"])
    assert inbox(decided, story.ben) == []


def test_withdrawals_edits_that_decline_a_counter_and_closed_negotiation_empty_inboxes() -> None:
    ledger, org = organised()
    app, by = ledger.app, ledger.by

    def submitted(title: str) -> tuple[UUID, UUID]:
        objective = draft(app, by(org.cy), org.q1, title, owner_person_id=org.cy)
        kr = milestone(app, by(org.cy), objective, "Done")
        app.submit_objective(objective, org.ben, by(org.cy))
        return objective, kr

    withdrawn, _ = submitted("Withdrawn")
    declined, declined_kr = submitted("Declined")
    submitted("Still waiting")
    app.withdraw_objective(withdrawn, by(org.cy))
    app.counter_propose(
        declined,
        {"key_results": {str(declined_kr): {"weight": 2}}},
        "this one matters more",
        by(org.ben),
    )
    assert kinds(inbox(ledger.fold(InboxFold()), org.cy)) == [
        ("counter_proposal", "Declined", str(org.ben))
    ]
    app.update_key_result(declined, declined_kr, by(org.cy), title="Done and shipped")
    state = ledger.fold(InboxFold())
    assert kinds(inbox(state, org.cy)) == []
    assert kinds(inbox(state, org.ben)) == [("review", "Still waiting", str(org.cy))]

    app.start_cycle(org.q1, by(ADMIN, date(2025, 1, 1)))
    app.open_grading(org.q1, by(ADMIN, date(2025, 4, 1)))
    assert inbox(ledger.fold(InboxFold()), org.ben) == []

"""Negotiation: submit → approve | request changes | counter-propose → accept or revise; withdraw."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.cycle import Phase
from domain.errors import InvalidValue, RuleViolated
from domain.objective import Objective, Status
from tests.unit.builders import ALICE, BOB, CAROL, ObjectiveBuilder, an_objective, ctx, metric
from tests.unit.gwt import classes, payload, refused, when


class TestSubmit:
    def test_submits_to_an_approver(self) -> None:
        given = an_objective().build()
        o = given.objective
        events = when(o, lambda: o.submit_for_approval(given.cycle, BOB, ctx(ALICE)))
        assert classes(events) == [Objective.SubmittedForApproval]
        assert payload(events[0]) == {"actor": str(ALICE), "reason": "", "approver_id": BOB}
        assert (o.status, o.submitted_by, o.approver_id) == (Status.IN_REVIEW, str(ALICE), BOB)

    def test_nobody_submits_to_themselves(self) -> None:
        given = an_objective().build()
        o = given.objective
        refused(
            o,
            lambda: o.submit_for_approval(given.cycle, ALICE, ctx(ALICE)),
            "no_self_approval",
            "approver_id",
            RuleViolated,
        )

    def test_needs_at_least_one_live_key_result(self) -> None:
        given = an_objective().build()
        o = given.objective
        o.remove_key_result(given.cycle, given.kr_ids[0], ctx(ALICE))
        o.collect_events()
        refused(
            o, lambda: o.submit_for_approval(given.cycle, BOB, ctx(ALICE)), "key_results_required"
        )

    def test_not_twice(self) -> None:
        given = an_objective().submitted().build()
        o = given.objective
        refused(o, lambda: o.submit_for_approval(given.cycle, CAROL, ctx(ALICE)), "not_editable")

    def test_an_approved_objective_is_not_resubmitted(self) -> None:
        given = an_objective().approved().build()
        o = given.objective
        refused(
            o, lambda: o.submit_for_approval(given.cycle, BOB, ctx(ALICE)), "amendment_required"
        )

    @pytest.mark.parametrize("phase", [Phase.GRADING, Phase.CLOSED])
    def test_only_while_planning_or_active(self, phase: Phase) -> None:
        given = an_objective().in_phase(phase).build()
        o = given.objective
        refused(o, lambda: o.submit_for_approval(given.cycle, BOB, ctx(ALICE)), "wrong_cycle_phase")

    def test_resubmitting_after_changes_were_requested_clears_the_comment(self) -> None:
        given = an_objective().changes_requested().build()
        o = given.objective
        assert o.review_comment == "Make the targets bolder"
        o.update_key_result(given.cycle, given.kr_ids[0], ctx(ALICE), target=400)
        o.submit_for_approval(given.cycle, BOB, ctx(ALICE))
        assert (o.status, o.review_comment) == (Status.IN_REVIEW, "")


class TestApprove:
    def test_approval_records_the_hash_of_what_was_approved(self) -> None:
        given = an_objective().submitted().build()
        o = given.objective
        expected_hash = o.content_hash()
        events = when(o, lambda: o.approve(given.cycle, ctx(BOB)))
        assert classes(events) == [Objective.Approved]
        assert payload(events[0]) == {
            "actor": str(BOB),
            "reason": "",
            "content_hash": expected_hash,
        }
        assert (o.status, o.approved_by, o.approved_content_hash) == (
            Status.APPROVED,
            str(BOB),
            expected_hash,
        )

    def test_the_content_hash_covers_the_agreed_definition(self) -> None:
        a = an_objective().build()
        h = a.objective.content_hash()
        assert len(h) == 64 and h == a.objective.content_hash()
        a.objective.update_key_result(a.cycle, a.kr_ids[0], ctx(ALICE), target=201)
        assert a.objective.content_hash() != h

    def test_nobody_approves_their_own_proposal(self) -> None:
        given = an_objective().submitted().build()
        o = given.objective
        refused(o, lambda: o.approve(given.cycle, ctx(ALICE)), "no_self_approval")

    def test_another_manager_than_the_named_approver_may_approve(self) -> None:
        # Roles (who manages which team) are checked at the edge; the domain forbids only
        # approving one's own proposal.
        given = an_objective().submitted().build()
        o = given.objective
        when(o, lambda: o.approve(given.cycle, ctx(CAROL)))
        assert o.approved_by == str(CAROL)

    @pytest.mark.parametrize("state", ["draft", "approved", "changes_requested", "countered"])
    def test_only_what_is_in_review(self, state: str) -> None:
        given = an_objective().negotiated(state).build()
        o = given.objective
        refused(o, lambda: o.approve(given.cycle, ctx(BOB)), "not_in_review")

    def test_approval_in_the_active_phase(self) -> None:
        given = an_objective().submitted().in_phase(Phase.ACTIVE).build()
        when(given.objective, lambda: given.objective.approve(given.cycle, ctx(BOB)))
        assert given.objective.status == Status.APPROVED

    def test_not_in_grading(self) -> None:
        given = an_objective().submitted().in_phase(Phase.GRADING).build()
        o = given.objective
        refused(o, lambda: o.approve(given.cycle, ctx(BOB)), "wrong_cycle_phase")


class TestRequestChanges:
    def test_requests_changes_with_a_comment(self) -> None:
        given = an_objective().submitted().build()
        o = given.objective
        events = when(o, lambda: o.request_changes(given.cycle, " Too timid ", ctx(BOB)))
        assert classes(events) == [Objective.ChangesRequested]
        assert payload(events[0]) == {"actor": str(BOB), "reason": "", "comment": "Too timid"}
        assert (o.status, o.review_comment) == (Status.CHANGES_REQUESTED, "Too timid")

    def test_needs_a_comment(self) -> None:
        given = an_objective().submitted().build()
        o = given.objective
        refused(o, lambda: o.request_changes(given.cycle, "", ctx(BOB)), "text_required", "comment")

    def test_not_by_the_proposer(self) -> None:
        given = an_objective().submitted().build()
        o = given.objective
        refused(o, lambda: o.request_changes(given.cycle, "hm", ctx(ALICE)), "no_self_approval")

    def test_only_in_review(self) -> None:
        given = an_objective().build()
        o = given.objective
        refused(o, lambda: o.request_changes(given.cycle, "hm", ctx(BOB)), "not_in_review")


class TestCounterPropose:
    def test_counter_proposes_concrete_changes_in_canonical_form(self) -> None:
        given = an_objective().submitted().build()
        o, kr_id = given.objective, given.kr_ids[0]
        changes = {"title": " Delight all customers ", "key_results": {kr_id: {"target": 300}}}
        events = when(o, lambda: o.counter_propose(given.cycle, changes, "Aim higher", ctx(BOB)))
        assert classes(events) == [Objective.CounterProposed]
        assert payload(events[0]) == {
            "actor": str(BOB),
            "reason": "",
            "changes": {
                "title": "Delight all customers",
                "key_results": {str(kr_id): {"target": 300.0}},
            },
            "comment": "Aim higher",
        }
        assert o.status == Status.COUNTERED
        assert o.counter_proposal is not None
        assert o.counter_proposal.proposed_by == str(BOB)
        assert given.kr().target == 200.0, "nothing changes until the contributor accepts"

    @pytest.mark.parametrize(
        ("objective", "comment", "by", "rule", "field"),
        [
            (an_objective().submitted(), "c", ALICE, "no_self_approval", None),
            (an_objective().submitted(), " ", BOB, "text_required", "comment"),
            (an_objective().changes_requested(), "c", BOB, "not_in_review", None),
        ],
        ids=["not by the proposer", "with a comment", "only in review"],
    )
    def test_refused(
        self, objective: ObjectiveBuilder, comment: str, by: UUID, rule: str, field: str | None
    ) -> None:
        given = objective.build()
        o = given.objective
        refused(
            o, lambda: o.counter_propose(given.cycle, {"title": "T"}, comment, ctx(by)), rule, field
        )

    @pytest.mark.parametrize(
        ("changes", "rule", "field"),
        [
            ({}, "changes_empty", "changes"),
            ({"key_results": {}}, "changes_empty", "changes"),
            ({"owner_person_id": "x"}, "unknown_change", "changes"),
            ({"key_results": ["not", "a", "map"]}, "changes_shape", "changes.key_results"),
            ({"key_results": {"nope": {"weight": 1}}}, "key_result_id_invalid", "changes"),
            ({"key_results": {str(uuid4()): {"weight": 1}}}, "key_result_not_found", None),
            ({"add_key_results": ["x"]}, "changes_shape", "changes.add_key_results"),
            ({"add_key_results": [{"title": "t", "target": 5}]}, "baseline_required", "baseline"),
            ({"remove_key_results": ["KR0"]}, "key_results_required", "changes"),
            ({"title": " "}, "text_required", "changes.title"),
        ],
    )
    def test_refuses_an_invalid_change_set(
        self, changes: dict[str, Any], rule: str, field: str | None
    ) -> None:
        given = an_objective().submitted().build()
        o = given.objective
        if changes.get("remove_key_results") == ["KR0"]:
            changes = {"remove_key_results": [str(given.kr_ids[0])]}
        refused(
            o,
            lambda: o.counter_propose(given.cycle, changes, "c", ctx(BOB)),
            rule,
            field,
            InvalidValue,
        )

    @pytest.mark.parametrize(
        ("fields", "rule", "field"),
        [
            ({}, "changes_shape", None),
            ({"unit": "%"}, "changes_shape", None),
            ({"weight": -2}, "weight_negative", "weight"),
            ({"target": 100}, "target_equals_baseline", "target"),
            ({"baseline": 250}, "target_below_baseline", "target"),
            ({"title": ""}, "text_required", "changes.key_results.title"),
        ],
    )
    def test_refuses_an_invalid_key_result_change(
        self, fields: dict[str, Any], rule: str, field: str | None
    ) -> None:
        given = an_objective().submitted().build()
        o, kr_id = given.objective, given.kr_ids[0]
        changes = {"key_results": {str(kr_id): fields}}
        error = refused(
            o, lambda: o.counter_propose(given.cycle, changes, "c", ctx(BOB)), rule, field
        )
        if rule == "changes_shape":
            assert error.field == f"changes.key_results.{kr_id}"


class TestAcceptCounterProposal:
    def test_accepting_applies_the_changes_and_approves_them(self) -> None:
        given = an_objective().with_kr().with_kr(title="Old").submitted().build()
        o, c = given.objective, given.cycle
        changes = {
            "key_results": {str(given.kr_ids[0]): {"target": 300, "weight": 2}},
            "add_key_results": [{"title": "NPS", "baseline": 20, "target": 40, "unit": "pts"}],
            "remove_key_results": [str(given.kr_ids[1])],
        }
        o.counter_propose(c, changes, "Bolder, and measure NPS", ctx(BOB))
        o.collect_events()
        canonical = o.counter_proposal.changes  # type: ignore[union-attr]
        added_id = canonical["add_key_results"][0]["key_result_id"]

        events = when(o, lambda: o.accept_counter_proposal(c, ctx(ALICE)))

        assert classes(events) == [Objective.CounterProposalAccepted]
        assert payload(events[0]) == {
            "actor": str(ALICE),
            "reason": "",
            "changes": canonical,
            "approved_by": str(BOB),
            "content_hash": o.content_hash(),
        }
        assert (o.status, o.approved_by, o.counter_proposal) == (Status.APPROVED, str(BOB), None)
        assert o.approved_content_hash == o.content_hash()
        kr = given.kr(0)
        assert (kr.target, kr.weight) == (300.0, 2.0)
        assert o.key_results[given.kr_ids[1]].removed
        nps = o.key_results[UUID(added_id)]
        assert (nps.title, nps.baseline, nps.target, nps.unit) == ("NPS", 20.0, 40.0, "pts")

    def test_the_author_of_the_counter_proposal_cannot_accept_it(self) -> None:
        given = an_objective().countered().build()
        o = given.objective
        refused(o, lambda: o.accept_counter_proposal(given.cycle, ctx(BOB)), "no_self_approval")

    @pytest.mark.parametrize("state", ["draft", "submitted", "approved"])
    def test_there_must_be_a_counter_proposal(self, state: str) -> None:
        given = an_objective().negotiated(state).build()
        o = given.objective
        refused(
            o, lambda: o.accept_counter_proposal(given.cycle, ctx(ALICE)), "no_counter_proposal"
        )

    @pytest.mark.parametrize(
        "edit",
        [
            lambda g: g.objective.update_key_result(g.cycle, g.kr_ids[0], ctx(ALICE), target=250),
            lambda g: g.objective.add_key_result(
                **metric(title="New"), cycle=g.cycle, ctx=ctx(ALICE)
            ),
            lambda g: g.objective.reword(g.cycle, "Revised", None, ctx(ALICE)),
            lambda g: g.objective.realign(g.cycle, None, None, ctx(ALICE)),
            lambda g: g.objective.reassign(g.cycle, None, CAROL, ctx(ALICE)),
        ],
        ids=["update_kr", "add_kr", "reword", "realign", "reassign"],
    )
    def test_revising_instead_declines_the_counter_proposal(self, edit: Any) -> None:
        given = an_objective().with_kr().with_kr(title="Second").countered().build()
        o = given.objective
        events = when(o, lambda: edit(given))
        assert type(events[0]) is Objective.CounterProposalDeclined
        assert events[0].actor == str(ALICE) and len(events) == 2
        assert (o.status, o.counter_proposal) == (Status.DRAFT, None)
        refused(
            o, lambda: o.accept_counter_proposal(given.cycle, ctx(ALICE)), "no_counter_proposal"
        )
        when(o, lambda: o.submit_for_approval(given.cycle, BOB, ctx(ALICE)))
        assert o.status == Status.IN_REVIEW

    def test_removing_a_key_result_while_countered_declines_it_too(self) -> None:
        given = an_objective().with_kr().with_kr(title="Second").countered().build()
        o = given.objective
        o.remove_key_result(given.cycle, given.kr_ids[1], ctx(ALICE))
        assert (o.status, o.counter_proposal) == (Status.DRAFT, None)

    def test_resubmitting_a_countered_objective_drops_the_counter_proposal(self) -> None:
        given = an_objective().countered().build()
        o = given.objective
        when(o, lambda: o.submit_for_approval(given.cycle, BOB, ctx(ALICE)))
        assert (o.status, o.counter_proposal) == (Status.IN_REVIEW, None)


class TestWithdraw:
    @pytest.mark.parametrize("state", ["submitted", "changes_requested", "countered"])
    def test_withdraws_back_to_draft(self, state: str) -> None:
        given = an_objective().negotiated(state).build()
        o = given.objective
        events = when(o, lambda: o.withdraw(given.cycle, ctx(ALICE)))
        assert classes(events) == [Objective.Withdrawn]
        assert payload(events[0]) == {"actor": str(ALICE), "reason": ""}
        assert (o.status, o.approver_id, o.counter_proposal) == (Status.DRAFT, None, None)

    @pytest.mark.parametrize("state", ["draft", "approved"])
    def test_nothing_to_withdraw(self, state: str) -> None:
        given = an_objective().negotiated(state).build()
        o = given.objective
        refused(o, lambda: o.withdraw(given.cycle, ctx(ALICE)), "not_submitted")

"""The application service on in-memory persistence: loading, cross-aggregate rules, atomic saves,
command results, optimistic concurrency at the edge, access tokens."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.access import Role
from domain.cycle import Phase
from domain.errors import InvalidValue, NotFound, OkrError, RuleViolated
from domain.objective import Objective, Status
from domain.person import person_id_for
from domain.team import MemberRole
from tests.unit.builders import (
    ADMIN,
    ALICE,
    BOB,
    CAROL,
    Q2_START,
    TODAY,
    Org,
    a_ledger,
    an_org,
    ctx,
)


def stored(org: Org) -> int:
    """How many events the ledger holds."""
    return org.app.recorder.max_notification_id() or 0


def assert_nothing_stored(org: Org, before: int, error: pytest.ExceptionInfo[OkrError]) -> None:
    assert stored(org) == before, f"refused command {error.value.rule} stored events"


class TestPeople:
    def test_registers_and_finds_a_person_by_any_spelling_of_the_address(self) -> None:
        app = a_ledger()
        result = app.register_person("Dana", " Dana@Example.com", ctx(ADMIN))
        assert (result.id, result.version, result.position) == (
            person_id_for("dana@example.com"),
            1,
            1,
        )
        found = app.find_person_by_email("DANA@example.COM")
        assert found is not None and (found.name, found.email) == ("Dana", "dana@example.com")
        assert app.find_person_by_email("nobody@example.com") is None

    def test_the_same_address_is_registered_once(self) -> None:
        org = an_org()
        before = stored(org)
        with pytest.raises(RuleViolated) as info:
            org.app.register_person("Alice Again", "ALICE@example.com ", ctx(ADMIN))
        assert (info.value.rule, info.value.field) == ("email_taken", "email")
        assert_nothing_stored(org, before, info)

    def test_an_e_mail_change_keeps_the_person_and_frees_the_old_address(self) -> None:
        app = a_ledger()
        dana = app.register_person("Dana", "dana@example.com", ctx(ADMIN)).id
        app.register_person("Eli", "eli@example.com", ctx(ADMIN))
        with pytest.raises(RuleViolated) as taken:  # someone registered with it and has it
            app.change_email(dana, "ELI@example.com", "typo", ctx(ADMIN))
        assert (taken.value.rule, taken.value.field) == ("email_taken", "email")
        with pytest.raises(RuleViolated) as same:
            app.change_email(dana, "dana@example.com", "again", ctx(ADMIN))
        assert same.value.rule == "email_unchanged"
        changed = app.change_email(dana, "Dana@New.example", "married", ctx(ADMIN))
        assert changed.id == dana and app.get_person(dana).email == "dana@new.example"
        assert app.find_person_by_email("dana@example.com") is None
        again = app.register_person("Another Dana", "dana@example.com", ctx(ADMIN)).id
        assert again not in (dana, person_id_for("dana@example.com"))
        assert app.find_person_by_email("dana@example.com").id == again  # type: ignore[union-attr]

    def test_an_invalid_address_is_an_invalid_value(self) -> None:
        with pytest.raises(InvalidValue) as info:
            a_ledger().register_person("X", "not-an-address", ctx(ADMIN))
        assert (info.value.rule, info.value.field) == ("email_invalid", "email")

    def test_rename_deactivate_reactivate(self) -> None:
        org = an_org()
        org.app.rename_person(ALICE, "Alice L.", ctx(ADMIN))
        org.app.deactivate_person(ALICE, "parental leave", ctx(ADMIN))
        assert org.app.get_person(ALICE).active is False
        result = org.app.reactivate_person(ALICE, "back", ctx(ADMIN))
        person = org.app.get_person(ALICE)
        assert (person.name, person.active, result.version) == ("Alice L.", True, 4)

    def test_a_forgotten_address_can_register_again_as_a_new_person(self) -> None:
        org = an_org()
        org.app.forget_person(CAROL, 1, "erasure request", ctx(ADMIN))
        assert org.app.find_person_by_email("carol@example.com") is None
        again = org.app.register_person("Carol", "Carol@example.com", ctx(ADMIN))
        assert again.id != CAROL
        assert again.id == org.app.person_id_for("carol@example.com", generation=1)
        found = org.app.find_person_by_email("carol@example.com")
        assert found is not None and found.id == again.id
        forgotten = org.app.get_person(CAROL)
        assert (forgotten.name, forgotten.email, forgotten.forgotten) == (
            "forgotten person #1",
            "",
            True,
        )
        with pytest.raises(RuleViolated) as info:
            org.app.forget_person(CAROL, 2, "again", ctx(ADMIN))
        assert info.value.rule == "person_forgotten"
        with pytest.raises(RuleViolated) as info:
            org.app.register_person("Carol", "carol@example.com", ctx(ADMIN))
        assert info.value.rule == "email_taken"

    def test_unknown_ids_are_not_found(self) -> None:
        org = an_org()
        with pytest.raises(NotFound) as info:
            org.app.get_person(uuid4())
        assert info.value.rule == "person_not_found"
        with pytest.raises(NotFound) as info:
            org.app.get_objective(ALICE)  # a person's id is not an objective's
        assert (info.value.rule, info.value.kind, info.value.identifier) == (
            "objective_not_found",
            "objective",
            ALICE,
        )
        with pytest.raises(NotFound) as info:
            org.app.get_team(uuid4(), version=1)
        assert info.value.rule == "team_not_found"
        # a version past the last one is the current state
        assert org.app.get_team(org.team_id, version=99) == org.app.get_team(org.team_id)


class TestTeams:
    def test_ancestors_run_nearest_first(self) -> None:
        org = an_org()
        sub = org.app.form_team("Storage", ctx(ADMIN), parent_id=org.team_id).id
        assert org.app.team_ancestors(sub) == [sub, org.team_id, org.company_id]
        assert org.app.team_ancestors(None) == []

    def test_no_cycles_in_the_hierarchy(self) -> None:
        org = an_org()
        sub = org.app.form_team("Storage", ctx(ADMIN), parent_id=org.team_id).id
        before = stored(org)
        with pytest.raises(RuleViolated) as info:
            org.app.move_team(org.company_id, sub, ctx(ADMIN))
        assert (info.value.rule, info.value.field) == ("team_hierarchy_cycle", "parent_id")
        assert_nothing_stored(org, before, info)
        org.app.move_team(sub, org.company_id, ctx(ADMIN))
        assert org.app.team_ancestors(sub) == [sub, org.company_id]

    def test_the_parent_exists_and_is_not_disbanded(self) -> None:
        org = an_org()
        with pytest.raises(NotFound) as info:
            org.app.form_team("Orphan", ctx(ADMIN), parent_id=uuid4())
        assert (info.value.rule, info.value.field) == ("team_not_found", "parent_id")
        with pytest.raises(NotFound) as info:
            org.app.move_team(org.team_id, uuid4(), ctx(ADMIN))
        assert (info.value.rule, info.value.field) == ("team_not_found", "parent_id")
        old = org.app.form_team("Old", ctx(ADMIN)).id
        org.app.disband_team(old, "merged", ctx(ADMIN))
        with pytest.raises(RuleViolated) as info:
            org.app.form_team("Under old", ctx(ADMIN), parent_id=old)
        assert (info.value.rule, info.value.field) == ("team_disbanded", "parent_id")

    def test_no_moving_under_a_disbanded_team(self) -> None:
        org = an_org()
        old = org.app.form_team("Old", ctx(ADMIN)).id
        org.app.disband_team(old, "merged", ctx(ADMIN))
        before = stored(org)
        with pytest.raises(RuleViolated) as info:
            org.app.move_team(org.team_id, old, ctx(ADMIN))
        assert (info.value.rule, info.value.field) == ("team_disbanded", "parent_id")
        assert_nothing_stored(org, before, info)

    def test_membership(self) -> None:
        org = an_org()
        org.app.change_member_role(org.team_id, ALICE, MemberRole.MANAGER, ctx(ADMIN))
        org.app.remove_team_member(org.team_id, BOB, ctx(ADMIN))
        assert org.app.get_team(org.team_id).members == {ALICE: MemberRole.MANAGER}
        org.app.rename_team(org.team_id, "Core", ctx(ADMIN))
        assert org.app.get_team(org.team_id).name == "Core"

    def test_a_deactivated_or_unknown_person_does_not_join(self) -> None:
        org = an_org()
        org.app.deactivate_person(CAROL, "left", ctx(ADMIN))
        with pytest.raises(RuleViolated) as info:
            org.app.add_team_member(org.team_id, CAROL, MemberRole.MEMBER, ctx(ADMIN))
        assert (info.value.rule, info.value.field) == ("person_inactive", "person_id")
        with pytest.raises(NotFound) as info:
            org.app.add_team_member(org.team_id, uuid4(), MemberRole.MEMBER, ctx(ADMIN))
        assert (info.value.rule, info.value.field) == ("person_not_found", "person_id")


class TestObjectives:
    def test_drafting_checks_the_cycle_the_owner_and_the_parent_exist(self) -> None:
        org = an_org()
        cases = [
            ({"cycle_id": uuid4()}, "cycle_not_found", "cycle_id"),
            ({"owner_team_id": uuid4()}, "team_not_found", "owner_team_id"),
            (
                {"owner_team_id": None, "owner_person_id": uuid4()},
                "person_not_found",
                "owner_person_id",
            ),
            ({"parent_objective_id": uuid4()}, "objective_not_found", "parent_objective_id"),
        ]
        for kw, rule, field in cases:
            with pytest.raises(NotFound) as info:
                org.objective(**kw)
            assert (info.value.rule, info.value.field) == (rule, field)

    def test_the_owner_is_active(self) -> None:
        org = an_org()
        org.app.deactivate_person(ALICE, "left", ctx(ADMIN))
        with pytest.raises(RuleViolated) as info:
            org.objective(owner_team_id=None, owner_person_id=ALICE)
        assert (info.value.rule, info.value.field) == ("person_inactive", "owner_person_id")
        org.app.disband_team(org.team_id, "reorg", ctx(ADMIN))
        with pytest.raises(RuleViolated) as info:
            org.objective()
        assert (info.value.rule, info.value.field) == ("team_disbanded", "owner_team_id")

    def test_the_approver_exists_and_is_active(self) -> None:
        org = an_org()
        objective_id = org.objective()
        org.key_result(objective_id)
        with pytest.raises(NotFound) as info:
            org.app.submit_objective(objective_id, uuid4(), ctx(ALICE))
        assert (info.value.rule, info.value.field) == ("person_not_found", "approver_id")
        org.app.deactivate_person(BOB, "left", ctx(ADMIN))
        with pytest.raises(RuleViolated) as info:
            org.app.submit_objective(objective_id, BOB, ctx(ALICE))
        assert (info.value.rule, info.value.field) == ("person_inactive", "approver_id")

    def test_update_objective_is_all_or_nothing(self) -> None:
        org = an_org()
        objective_id = org.objective()
        org.app.disband_team(org.company_id, "reorg", ctx(ADMIN))
        before, version = stored(org), org.app.get_objective(objective_id).version
        with pytest.raises(RuleViolated) as info:
            org.app.update_objective(
                objective_id,
                ctx(ALICE),
                title="Reworded first",
                reassign=True,
                owner_team_id=org.company_id,
            )
        assert info.value.rule == "team_disbanded"
        assert_nothing_stored(org, before, info)
        objective = org.app.get_objective(objective_id)
        assert (objective.title, objective.version) == ("Delight new customers", version)

    def test_update_objective_rewords_realigns_and_reassigns_in_one_write(self) -> None:
        org = an_org()
        parent_id = org.objective(title="Company goal", owner_team_id=org.company_id)
        parent_kr = org.key_result(parent_id)
        objective_id = org.objective()
        result = org.app.update_objective(
            objective_id,
            ctx(ALICE),
            title="Sharper",
            description="why",
            realign=True,
            parent_objective_id=parent_id,
            parent_key_result_id=parent_kr,
            reassign=True,
            owner_person_id=ALICE,
        )
        objective = org.app.get_objective(objective_id)
        assert (objective.title, objective.description) == ("Sharper", "why")
        assert (objective.parent_objective_id, objective.parent_key_result_id) == (
            parent_id,
            parent_kr,
        )
        assert (objective.owner_team_id, objective.owner_person_id) == (None, ALICE)
        assert result.version == 4 and result.position == stored(org)

    def test_if_match_guards_against_lost_updates(self) -> None:
        org = an_org()
        objective_id = org.objective()
        kr_id = org.key_result(objective_id)
        before = stored(org)
        with pytest.raises(RuleViolated) as info:
            org.app.update_key_result.expecting(1)(objective_id, kr_id, ctx(ALICE), target=300)
        assert info.value.rule == "version_mismatch"
        assert_nothing_stored(org, before, info)
        result = org.app.update_key_result.expecting(2)(objective_id, kr_id, ctx(ALICE), target=300)
        assert (result.version, result.extra_id) == (3, kr_id)

    def test_commands_answer_the_child_they_created(self) -> None:
        org = an_org()
        objective_id, kr_id = org.approved_objective()
        app = org.app
        amendment = app.propose_amendment(
            objective_id, {"key_results": {str(kr_id): {"target": 180}}}, "r", ctx(ALICE)
        )
        assert amendment.extra_id in app.get_objective(objective_id).amendments
        assert app.approve_amendment(objective_id, amendment.extra_id, ctx(BOB)).extra_id == (
            amendment.extra_id
        )
        app.start_cycle(org.q2_id, ctx(ADMIN))
        check_in = app.check_in(objective_id, kr_id, 150, 7, ctx(ALICE))
        correction = app.correct_check_in(
            objective_id,
            kr_id,
            check_in.extra_id,
            140,
            "typo",
            ctx(ALICE),  # type: ignore[arg-type]
        )
        ids = [c.id for c in app.get_objective(objective_id).key_results[kr_id].check_ins]
        assert ids == [check_in.extra_id, correction.extra_id]

    def test_positions_increase_with_every_write_and_name_the_last_event(self) -> None:
        org = an_org()
        app = org.app
        results = []
        objective_id = org.objective()
        results.append(app.add_key_result(objective_id, title="K", measure="milestone", ctx=ctx()))  # type: ignore[arg-type]
        results.append(app.submit_objective(objective_id, BOB, ctx(ALICE)))
        results.append(app.approve_objective(objective_id, ctx(BOB)))
        results.append(app.start_cycle(org.q2_id, ctx(ADMIN)))
        positions = [r.position for r in results]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
        assert positions[-1] == stored(org)

    def test_past_versions_are_kept(self) -> None:
        org = an_org()
        objective_id = org.objective()
        org.key_result(objective_id)
        org.app.update_objective(objective_id, ctx(ALICE), title="Second title")
        assert org.app.get_objective(objective_id, version=1).title == "Delight new customers"
        assert org.app.get_objective(objective_id, version=1).key_results == {}
        assert len(org.app.get_objective(objective_id, version=2).key_results) == 1
        assert org.app.get_objective(objective_id).title == "Second title"

    def test_carry_over_saves_predecessor_and_successor_in_one_write(self) -> None:
        org = an_org()
        objective_id, kr_id = org.approved_objective()
        org.app.start_cycle(org.q2_id, ctx(ADMIN))
        org.app.check_in(objective_id, kr_id, 150, 6, ctx(ALICE), effective_on=TODAY)
        before = stored(org)
        result = org.app.carry_over(objective_id, org.q3_id, ctx(ALICE))
        successor = org.app.get_objective(result.id)
        predecessor = org.app.get_objective(objective_id)
        assert (successor.carried_from, predecessor.carried_to) == (objective_id, result.id)
        assert successor.cycle_id == org.q3_id
        assert result.version == 2  # drafted, one key result added
        assert result.position == before + 3 == stored(org)
        [kr] = successor.active_key_results
        assert kr.lineage_id == predecessor.key_results[kr_id].lineage_id
        assert kr.baseline == 150.0

    def test_a_whole_quarter(self) -> None:
        org = an_org()
        app = org.app
        objective_id = org.objective()
        kr_id = org.key_result(objective_id)
        milestone_id = app.add_key_result(
            objective_id,
            title="Launch",
            measure="milestone",
            ctx=ctx(ALICE),  # type: ignore[arg-type]
        ).extra_id
        app.submit_objective(objective_id, BOB, ctx(ALICE))
        app.counter_propose(
            objective_id, {"key_results": {str(kr_id): {"target": 250}}}, "bolder", ctx(BOB)
        )
        app.accept_counter_proposal(objective_id, ctx(ALICE))
        app.start_cycle(org.q2_id, ctx(ADMIN))
        app.check_in(objective_id, kr_id, 190, 6, ctx(ALICE), effective_on=Q2_START)
        app.check_in(objective_id, milestone_id, 1, 9, ctx(ALICE))  # type: ignore[arg-type]
        app.open_grading(org.q2_id, ctx(ADMIN))
        app.grade_key_result(objective_id, kr_id, ctx(ALICE))
        app.grade_key_result(objective_id, milestone_id, ctx(ALICE))  # type: ignore[arg-type]
        app.grade_objective(objective_id, ctx(ALICE))
        app.reflect(objective_id, "Counter-proposal was right", ctx(ALICE))
        app.close_cycle(org.q2_id, ctx(ADMIN))
        objective = app.get_objective(objective_id)
        assert objective.status == Status.APPROVED
        assert objective.key_results[kr_id].score == 0.6  # (190 - 100) / (250 - 100)
        assert objective.score == pytest.approx(0.8)
        assert objective.reflection == "Counter-proposal was right"
        assert app.get_cycle(org.q2_id).phase == Phase.CLOSED
        with pytest.raises(RuleViolated):
            app.abandon_objective(objective_id, "too late", ctx(ALICE))
        app.reopen_cycle(org.q2_id, "late grade fix", ctx(ADMIN))
        assert app.get_cycle(org.q2_id).phase == Phase.GRADING

    def test_loaded_objectives_equal_their_replay(self) -> None:
        org = an_org()
        objective_id, _ = org.approved_objective()
        loaded = org.app.get_objective(objective_id)
        assert isinstance(loaded, Objective)
        assert loaded == org.app.repository.get(objective_id)


class TestAccessTokens:
    def test_issues_authenticates_and_revokes(self) -> None:
        org = an_org()
        secret, result = org.app.issue_token(ALICE, Role.MEMBER, ctx(ADMIN), label=" laptop ")
        assert secret.startswith("okr_")
        token = org.app.authenticate(secret)
        assert token is not None and token.id == result.id
        assert (token.person_id, token.role, token.label, token.revoked) == (
            ALICE,
            Role.MEMBER,
            "laptop",
            False,
        )
        assert secret not in repr(vars(token)), "the secret itself is never stored"
        assert org.app.authenticate(secret + "x") is None
        with pytest.raises(InvalidValue) as info:
            org.app.revoke_token(result.id, " ", ctx(ADMIN))
        assert info.value.rule == "text_required"
        org.app.revoke_token(result.id, "lost laptop", ctx(ADMIN))
        assert org.app.authenticate(secret) is None
        with pytest.raises(RuleViolated) as info:
            org.app.revoke_token(result.id, "again", ctx(ADMIN))
        assert info.value.rule == "token_revoked"

    def test_a_deactivated_person_neither_gets_nor_uses_a_token(self) -> None:
        org = an_org()
        secret, _ = org.app.issue_token(BOB, Role.MANAGER, ctx(ADMIN))
        org.app.deactivate_person(BOB, "left", ctx(ADMIN))
        assert org.app.authenticate(secret) is None
        with pytest.raises(RuleViolated) as info:
            org.app.issue_token(BOB, Role.MANAGER, ctx(ADMIN))
        assert (info.value.rule, info.value.field) == ("person_inactive", "person_id")
        with pytest.raises(NotFound):
            org.app.issue_token(uuid4(), Role.ADMIN, ctx(ADMIN))

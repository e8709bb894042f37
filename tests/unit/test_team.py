"""Teams: the hierarchy (no cycles) and membership rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest

from domain.errors import InvalidValue, OkrError, RuleViolated
from domain.team import MemberRole, Team
from tests.unit.builders import ADMIN, ALICE, BOB, CAROL, a_team, ctx
from tests.unit.gwt import classes, created, payload, refused, when

MEMBER, MANAGER = MemberRole.MEMBER, MemberRole.MANAGER
Refusal = tuple[str, str, type[OkrError]]
"""The rule, the field and the error class a refused command names."""
ROLE_INVALID: Refusal = ("role_invalid", "role", InvalidValue)
ALREADY_MEMBER: Refusal = ("already_member", "person_id", RuleViolated)
SAME_ROLE: Refusal = ("role_unchanged", "role", OkrError)
NOT_A_MEMBER: Refusal = ("not_a_member", "person_id", OkrError)


class TestForm:
    def test_forms_a_team_without_members(self) -> None:
        parent_id = uuid4()
        team = Team.form("  Platform ", parent_id, ctx(ADMIN))
        assert created(team, Team.Formed) == {
            "actor": ADMIN,
            "reason": "",
            "name": "Platform",
            "parent_id": parent_id,
        }
        assert (team.name, team.parent_id, team.members, team.disbanded) == (
            "Platform",
            parent_id,
            {},
            False,
        )

    def test_needs_a_name(self) -> None:
        with pytest.raises(InvalidValue) as info:
            Team.form(" ", None, ctx(ADMIN))
        assert (info.value.rule, info.value.field) == ("text_required", "name")


class TestHierarchy:
    def test_renames(self) -> None:
        team = a_team()
        events = when(team, lambda: team.rename("Core Platform", ctx(ADMIN)))
        assert classes(events) == [Team.Renamed]
        assert team.name == "Core Platform"

    def test_moves_under_another_parent_or_to_the_top(self) -> None:
        team, new_parent = a_team(), uuid4()
        events = when(team, lambda: team.move(new_parent, [new_parent], ctx(ADMIN)))
        assert classes(events) == [Team.Moved]
        assert payload(events[0])["parent_id"] == new_parent
        events = when(team, lambda: team.move(None, [], ctx(ADMIN)))
        assert payload(events[0])["parent_id"] is None
        assert team.parent_id is None

    def test_cannot_move_under_itself(self) -> None:
        team = a_team()
        refused(
            team,
            lambda: team.move(team.id, [team.id], ctx(ADMIN)),
            "team_hierarchy_cycle",
            "parent_id",
            RuleViolated,
        )

    def test_cannot_move_under_one_of_its_own_sub_teams(self) -> None:
        # company > team > child > grandchild: moving team under grandchild closes a loop
        company = a_team("Company")
        team = a_team("Engineering", company.id)
        child = a_team("Platform", team.id)
        grandchild = a_team("Storage", child.id)
        ancestors_of_grandchild = [grandchild.id, child.id, team.id, company.id]
        refused(
            team,
            lambda: team.move(grandchild.id, ancestors_of_grandchild, ctx(ADMIN)),
            "team_hierarchy_cycle",
            "parent_id",
        )


class TestMembership:
    def test_adds_members_with_a_role(self) -> None:
        team = a_team()
        events = when(team, lambda: team.add_member(ALICE, MemberRole.MEMBER, ctx(ADMIN)))
        assert classes(events) == [Team.MemberAdded]
        assert payload(events[0]) == {
            "actor": ADMIN,
            "reason": "",
            "person_id": ALICE,
            "role": "member",
        }
        when(team, lambda: team.add_member(BOB, MemberRole.MANAGER, ctx(ADMIN)))
        assert team.members == {ALICE: MemberRole.MEMBER, BOB: MemberRole.MANAGER}
        assert team.managers == {BOB}

    def test_roles_may_be_given_as_plain_strings(self) -> None:
        team = a_team()
        team.add_member(ALICE, "manager", ctx(ADMIN))  # type: ignore[arg-type]
        assert team.members[ALICE] is MemberRole.MANAGER

    def test_changes_a_members_role(self) -> None:
        team = a_team(members={ALICE: MemberRole.MEMBER})
        events = when(team, lambda: team.change_member_role(ALICE, MemberRole.MANAGER, ctx(ADMIN)))
        assert classes(events) == [Team.MemberRoleChanged]
        assert payload(events[0])["role"] == "manager"
        assert team.managers == {ALICE}

    @pytest.mark.parametrize(
        ("role", "command", "refusal"),
        [
            (MEMBER, lambda t: t.add_member(BOB, "boss", ctx(ADMIN)), ROLE_INVALID),
            (MEMBER, lambda t: t.change_member_role(ALICE, "boss", ctx(ADMIN)), ROLE_INVALID),
            (MEMBER, lambda t: t.add_member(ALICE, MANAGER, ctx(ADMIN)), ALREADY_MEMBER),
            (MANAGER, lambda t: t.change_member_role(ALICE, MANAGER, ctx(ADMIN)), SAME_ROLE),
            (MEMBER, lambda t: t.change_member_role(CAROL, MANAGER, ctx(ADMIN)), NOT_A_MEMBER),
            (MEMBER, lambda t: t.remove_member(CAROL, ctx(ADMIN)), NOT_A_MEMBER),
        ],
        ids=[
            "an_unknown_role_is_an_invalid_value_to_add",
            "an_unknown_role_is_an_invalid_value_to_change_to",
            "a_person_joins_a_team_once",
            "changing_to_the_same_role_is_refused",
            "only_members_change_role",
            "only_members_leave",
        ],
    )
    def test_membership_refusals(
        self, role: MemberRole, command: Callable[[Team], Any], refusal: Refusal
    ) -> None:
        """Alice is in the team with `role`; the command is refused and changes nothing."""
        team = a_team(members={ALICE: role})
        rule, field, error = refusal
        refused(team, lambda: command(team), rule, field, error)

    def test_removes_a_member(self) -> None:
        team = a_team(members={ALICE: MemberRole.MEMBER, BOB: MemberRole.MANAGER})
        events = when(team, lambda: team.remove_member(BOB, ctx(ADMIN)))
        assert classes(events) == [Team.MemberRemoved]
        assert payload(events[0])["person_id"] == BOB
        assert team.members == {ALICE: MemberRole.MEMBER}
        assert team.managers == set()


class TestDisband:
    def test_disbanding_needs_a_reason(self) -> None:
        team = a_team()
        refused(team, lambda: team.disband("", ctx(ADMIN)), "text_required", "reason")

    def test_disbands_with_the_reason(self) -> None:
        team = a_team()
        events = when(team, lambda: team.disband("merged into Core", ctx(ADMIN)))
        assert classes(events) == [Team.Disbanded]
        assert payload(events[0])["reason"] == "merged into Core"
        assert team.disbanded is True

    @pytest.mark.parametrize(
        "command",
        [
            lambda t: t.rename("New name", ctx(ADMIN)),
            lambda t: t.move(None, [], ctx(ADMIN)),
            lambda t: t.add_member(CAROL, MemberRole.MEMBER, ctx(ADMIN)),
            lambda t: t.change_member_role(ALICE, MemberRole.MANAGER, ctx(ADMIN)),
            lambda t: t.remove_member(ALICE, ctx(ADMIN)),
            lambda t: t.disband("again", ctx(ADMIN)),
        ],
        ids=["rename", "move", "add_member", "change_role", "remove_member", "disband"],
    )
    def test_a_disbanded_team_refuses_every_change(self, command) -> None:  # type: ignore[no-untyped-def]
        team = a_team(members={ALICE: MemberRole.MEMBER}, disbanded=True)
        refused(team, lambda: command(team), "team_disbanded", error=RuleViolated)

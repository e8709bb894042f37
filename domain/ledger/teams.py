"""Teams: forming, renaming, moving in the tree, members, disbanding."""

from __future__ import annotations

from uuid import UUID

from domain.base import CommandContext
from domain.errors import require
from domain.ledger.base import PERSON, TEAM, CommandResult, LedgerBase
from domain.ledger.command import change_of, command
from domain.team import MemberRole, Team


class TeamLedger(LedgerBase):
    def get_team(self, team_id: UUID, version: int | None = None) -> Team:
        return self._load_version(TEAM, team_id, version)

    def team_ancestors(self, team_id: UUID | None) -> list[UUID]:
        """The chain of parent teams above `team_id`, nearest first (bounded against loops)."""
        chain: list[UUID] = []
        while team_id is not None and len(chain) < 100:
            chain.append(team_id)
            team_id = self.get_team(team_id).parent_id
        return chain

    def _live_parent(self, parent_id: UUID | None) -> None:
        if parent_id is not None:
            parent = self._load(TEAM, parent_id, "parent_id")
            require(not parent.disbanded, "team_disbanded", "parent team is disbanded", "parent_id")

    def form_team(
        self, name: str, ctx: CommandContext, parent_id: UUID | None = None, reason: str = ""
    ) -> CommandResult:
        self._live_parent(parent_id)
        return self._commit(Team.form(name, parent_id, ctx, reason))

    rename_team = command(TEAM, Team.rename)

    @change_of(TEAM)
    def move_team(self, team: Team, parent_id: UUID | None, ctx: CommandContext) -> None:
        self._live_parent(parent_id)
        team.move(parent_id, self.team_ancestors(parent_id), ctx)

    @change_of(TEAM)
    def add_team_member(
        self,
        team: Team,
        person_id: UUID,
        role: MemberRole,
        ctx: CommandContext,
        reason: str = "",
        *,
        mirrored: bool = False,
    ) -> None:
        """`mirrored`: the membership mirrors an identity provider's group, which may list a
        disabled account (they stay deactivated; only admins' additions need them active)."""
        person = self._load(PERSON, person_id, "person_id")
        require(
            person.active or mirrored,
            "person_inactive",
            "a deactivated person cannot join a team",
            "person_id",
        )
        team.add_member(person_id, role, ctx, reason)

    change_member_role = command(TEAM, Team.change_member_role)
    remove_team_member = command(TEAM, Team.remove_member)
    disband_team = command(TEAM, Team.disband)

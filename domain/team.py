"""Teams form the alignment hierarchy (company → teams → sub-teams) and hold members."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from domain.base import Assigns, CommandContext, OkrAggregate
from domain.errors import clean_text, require, require_choice, require_text


class MemberRole(StrEnum):
    MEMBER = "member"
    MANAGER = "manager"


class Team(OkrAggregate):
    if TYPE_CHECKING:  # state set by events; not dataclass fields of the aggregate
        name: str
        parent_id: UUID | None
        members: dict[UUID, MemberRole]
        disbanded: bool

    class Formed(OkrAggregate.Created):
        name: str
        parent_id: UUID | None

        def apply(self, team: Team) -> None:
            team.name = self.name
            team.parent_id = self.parent_id
            team.members = {}
            team.disbanded = False

    class Renamed(Assigns):
        name: str

    class Moved(Assigns):
        parent_id: UUID | None

    class MemberAdded(OkrAggregate.Event):
        person_id: UUID
        role: str

        def apply(self, team: Team) -> None:
            team.members[self.person_id] = MemberRole(self.role)

    class MemberRoleChanged(OkrAggregate.Event):
        person_id: UUID
        role: str

        def apply(self, team: Team) -> None:
            team.members[self.person_id] = MemberRole(self.role)

    class MemberRemoved(OkrAggregate.Event):
        person_id: UUID

        def apply(self, team: Team) -> None:
            del team.members[self.person_id]

    class Disbanded(OkrAggregate.Event):
        def apply(self, team: Team) -> None:
            team.disbanded = True

    @classmethod
    def form(cls, name: str, parent_id: UUID | None, ctx: CommandContext, reason: str = "") -> Team:
        return cls._create(
            cls.Formed,
            id=uuid4(),
            name=require_text(name, "name", max_length=200),
            parent_id=parent_id,
            **ctx.stamp(clean_text(reason, "reason")),
        )

    def _require_active(self) -> None:
        require(not self.disbanded, "team_disbanded", f"team '{self.name}' is disbanded")

    def rename(self, name: str, ctx: CommandContext, reason: str = "") -> None:
        self._require_active()
        self._trigger(self.Renamed, ctx, reason, name=require_text(name, "name", max_length=200))

    def move(
        self, parent_id: UUID | None, ancestors_of_parent: list[UUID], ctx: CommandContext
    ) -> None:
        """Move under another parent; `ancestors_of_parent` guards against a cycle in the tree."""
        self._require_active()
        require(
            parent_id != self.id and self.id not in ancestors_of_parent,
            "team_hierarchy_cycle",
            f"team '{self.name}' cannot move under itself or one of its own sub-teams",
            "parent_id",
        )
        self._trigger(self.Moved, ctx, parent_id=parent_id)

    def add_member(
        self, person_id: UUID, role: MemberRole, ctx: CommandContext, reason: str = ""
    ) -> None:
        self._require_active()
        require(
            person_id not in self.members,
            "already_member",
            f"person {person_id} is already a member of '{self.name}'",
            "person_id",
        )
        role_ = require_choice(MemberRole, role, "role")
        self._trigger(self.MemberAdded, ctx, reason, person_id=person_id, role=role_.value)

    def change_member_role(self, person_id: UUID, role: MemberRole, ctx: CommandContext) -> None:
        self._require_active()
        self._require_member(person_id)
        role_ = require_choice(MemberRole, role, "role")
        require(self.members[person_id] != role_, "role_unchanged", f"already {role_}", "role")
        self._trigger(self.MemberRoleChanged, ctx, person_id=person_id, role=role_.value)

    def remove_member(self, person_id: UUID, ctx: CommandContext, reason: str = "") -> None:
        self._require_active()
        self._require_member(person_id)
        self._trigger(self.MemberRemoved, ctx, reason, person_id=person_id)

    def disband(self, reason: str, ctx: CommandContext) -> None:
        self._require_active()
        self._trigger(self.Disbanded, ctx, reason=require_text(reason, "reason"))

    def _require_member(self, person_id: UUID) -> None:
        require(
            person_id in self.members,
            "not_a_member",
            f"person {person_id} is not a member of '{self.name}'",
            "person_id",
        )

    @property
    def managers(self) -> set[UUID]:
        return {p for p, role in self.members.items() if role == MemberRole.MANAGER}

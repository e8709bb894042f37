"""Who may do what: every authorization rule of the HTTP API, as pure functions.

Inputs are the caller (`Principal`: a person and the role of the token they used), the
directory (`DirectoryState`: teams, their members and managers) and, for objectives, the few
facts about one objective that the rules look at (`ObjectiveFacts`). Nothing here does I/O,
so the whole policy is unit-tested on hand-built directories.

The rules (see docs/api.md):

- admin: people, teams, cycles and tokens; reads everything, the audit trail included; may also
  act as a contributor on objectives it owns or whose team it belongs to.
- auditor: reads everything, the audit trail and private objectives included; writes nothing.
- member: contributes to objectives it owns, or that a team it belongs to owns: drafts, edits,
  submits, accepts counter-proposals, proposes amendments, checks in, corrects, grades,
  reflects, carries over, abandons.
- manager: what a member does, also on objectives of the teams it manages and all their
  sub-teams (and of the people in them), and decides there: approves, requests changes,
  counter-proposes, approves or rejects amendments, adjusts a grade (with a comment). A manager
  also decides on an objective that names it as the approver. Nobody decides on their own
  proposal (the domain enforces that part).
- a read-only personal access token writes nothing, whatever its person's role (`may_write`).
- a provisioner (`Provisioner`: SCIM, single sign-on, the command line) is no person: it
  provisions people, each source only what it is for (`may_provision`).
- private objectives are seen only by their owner (the person, or the owning team's members),
  the owner's managers, the named approver, admins and auditors. For everyone else they do not
  exist (404, not 403).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.access import Role
from domain.team import MemberRole
from projections.directory import DirectoryState, team_ancestors, teams_of


@dataclass(frozen=True)
class Principal:
    """The caller: the person a token was issued to, and the token's role."""

    person_id: UUID
    role: Role
    token_id: UUID
    read_only: bool = False
    """A read-only personal access token: it reads what its person may read, writes nothing."""
    expires_at: datetime | None = None

    @property
    def actor(self) -> str:
        """The actor recorded on every event this caller causes."""
        return str(self.person_id)


@dataclass(frozen=True)
class ObjectiveFacts:
    """What the rules need to know about one objective."""

    owner_team_id: UUID | None = None
    owner_person_id: UUID | None = None
    private: bool = False
    approver_id: UUID | None = None
    submitted_by: str | None = None


CONTRIBUTING_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.MEMBER})
"""Token roles that may contribute to objectives (auditors write nothing)."""


# ----------------------------------------------------------------- the directory


def managed_teams(directory: DirectoryState, person_id: UUID) -> set[UUID]:
    """Teams the person manages, with every team below them."""
    managed = {
        team_id
        for team_id, team in directory.teams.items()
        if team.members.get(person_id) == MemberRole.MANAGER.value and not team.disbanded
    }
    return {
        team_id
        for team_id in directory.teams
        if team_id in managed or managed.intersection(team_ancestors(directory, team_id))
    }


def owning_teams(directory: DirectoryState, facts: ObjectiveFacts) -> set[UUID]:
    """The teams an objective belongs to: its owning team, or every team of its owner."""
    if facts.owner_team_id is not None:
        return {facts.owner_team_id}
    if facts.owner_person_id is not None:
        return set(teams_of(directory, facts.owner_person_id))
    return set()


def is_owner(directory: DirectoryState, person_id: UUID, facts: ObjectiveFacts) -> bool:
    """The owning person, or a member (any role) of the owning team."""
    if facts.owner_person_id is not None:
        return facts.owner_person_id == person_id
    team = directory.teams.get(facts.owner_team_id) if facts.owner_team_id else None
    return team is not None and not team.disbanded and person_id in team.members


def manages(directory: DirectoryState, person_id: UUID, facts: ObjectiveFacts) -> bool:
    """The person manages a team the objective belongs to, or a team above one."""
    return bool(owning_teams(directory, facts) & managed_teams(directory, person_id))


# --------------------------------------------------------------------- reading


def reads_everything(principal: Principal) -> bool:
    return principal.role in (Role.ADMIN, Role.AUDITOR)


def may_write(principal: Principal) -> bool:
    """Whether the caller's token may change anything at all (a read-only token may not)."""
    return not principal.read_only


def may_read_audit(principal: Principal) -> bool:
    return principal.role in (Role.ADMIN, Role.AUDITOR)


def may_view(directory: DirectoryState, principal: Principal, facts: ObjectiveFacts) -> bool:
    """Everyone sees non-private objectives; private ones only the few who work on them."""
    if not facts.private or reads_everything(principal):
        return True
    me = principal.person_id
    return (
        is_owner(directory, me, facts)
        or manages(directory, me, facts)
        or facts.approver_id == me
        or facts.submitted_by == str(me)
    )


# --------------------------------------------------------------------- writing


def may_administer(principal: Principal) -> bool:
    """People, teams, cycles and tokens."""
    return principal.role == Role.ADMIN


def may_manage_own_tokens(principal: Principal) -> bool:
    """Everyone creates and revokes their own tokens, but not with a read-only token."""
    return may_write(principal)


# ------------------------------------------------------------------ provisioning


@dataclass(frozen=True)
class Provisioner:
    """A caller that is no person: the identity provider through SCIM (`scim`), a single
    sign-on (`sso:<issuer>`), or the command line run on the server (`system`)."""

    actor: str
    """The actor recorded on every event this caller causes."""

    @property
    def source(self) -> str:
        """`scim`, `sso` or `system`."""
        return self.actor.split(":", 1)[0]


PROVISIONING: dict[str, frozenset[str]] = {
    "scim": frozenset(
        {"register", "rename", "change_email", "deactivate", "reactivate", "link", "unlink"}
        | {"teams"}
    ),
    "sso": frozenset({"register", "link", "change_email", "change_role", "issue_token"}),
    "system": frozenset(
        {"register", "rename", "change_email", "deactivate", "reactivate", "change_role"}
        | {"link", "unlink", "issue_token", "revoke_token", "list_tokens", "forget", "teams"}
    ),
}
"""What each provisioner may do to people: SCIM keeps who exists and what they are called, and
teams and their members as its Groups (roles come from the sign-in's groups); a sign-in registers (auto-provision), links its `sub`, follows
the verified e-mail, gives the role its groups name and opens a session; the command line, run
by whoever runs the server, does all of it."""


def may_provision(provisioner: Provisioner, action: str) -> bool:
    return action in PROVISIONING.get(provisioner.source, frozenset())


def may_contribute(directory: DirectoryState, principal: Principal, facts: ObjectiveFacts) -> bool:
    """Draft, edit, submit, accept, amend, check in, correct, grade, reflect, carry over."""
    if principal.role not in CONTRIBUTING_ROLES:
        return False
    if is_owner(directory, principal.person_id, facts):
        return True
    return principal.role == Role.MANAGER and manages(directory, principal.person_id, facts)


def may_decide(directory: DirectoryState, principal: Principal, facts: ObjectiveFacts) -> bool:
    """Approve, request changes, counter-propose, approve or reject amendments."""
    if principal.role != Role.MANAGER:
        return False
    return facts.approver_id == principal.person_id or manages(
        directory, principal.person_id, facts
    )


def grade_is_adjustment(
    directory: DirectoryState, principal: Principal, facts: ObjectiveFacts
) -> bool:
    """A manager grading an objective it does not own adjusts the self-assessment:
    that needs a comment saying why."""
    return not is_owner(directory, principal.person_id, facts)


def may_reassign_to(
    directory: DirectoryState,
    principal: Principal,
    owner_team_id: UUID | None,
    owner_person_id: UUID | None,
) -> bool:
    """Drafting for, or handing an objective over to, a team or a person."""
    return may_contribute(
        directory,
        principal,
        ObjectiveFacts(owner_team_id=owner_team_id, owner_person_id=owner_person_id),
    )


def may_attach_source(
    directory: DirectoryState, principal: Principal, facts: ObjectiveFacts
) -> bool:
    """Attach, detach or sync a key result's data source: the key result's owner (the owning
    person, or a member of the owning team) or an admin; not the managers above it."""
    if principal.role == Role.ADMIN:
        return True
    return principal.role in CONTRIBUTING_ROLES and is_owner(directory, principal.person_id, facts)

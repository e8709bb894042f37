"""The directory: people, teams and cycles by id.

Personal data (names, e-mails) lives here and nowhere else on the read side: every other fold
keeps ids only, and queries join names from this fold at read time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

from domain.cycle import Cycle, Phase
from domain.objective import Objective
from domain.person import Person, forgotten_name
from domain.team import MemberRole, Team
from projections.base import (
    PEOPLE_TEAMS_STRATEGY,
    DataclassFold,
    FoldState,
    Handlers,
    Logged,
    fields_of,
)


@dataclass
class Grant:
    """The event that gave a person their current role or active state."""

    position: int
    at: datetime
    actor: str
    reason: str


@dataclass
class PersonEntry:
    name: str
    email: str
    active: bool = True
    role: str | None = None
    """The person's role; None until first set (their tokens' roles apply then)."""
    role_granted: Grant | None = field(default=None, compare=False)
    active_since: Grant | None = field(default=None, compare=False)


@dataclass
class TeamEntry:
    name: str
    parent_id: UUID | None
    members: dict[UUID, str] = field(default_factory=dict)
    """Person id → role (`member` or `manager`), in joining order."""
    granted: dict[UUID, Grant] = field(default_factory=dict, compare=False)
    """Person id → the event that gave them their current membership role."""
    disbanded: bool = False


@dataclass
class PhaseChange:
    phase: str
    at: datetime
    position: int
    actor: str
    reason: str


@dataclass
class PlannedCycle:
    """What a cycle's entry takes from its `Cycle.Planned` event."""

    name: str
    starts_on: date
    ends_on: date
    cadence: str
    scoring: str
    success_threshold: float


@dataclass
class CycleEntry(PlannedCycle):
    phase: str = Phase.PLANNING.value
    phase_history: list[PhaseChange] = field(default_factory=list)


@dataclass
class DirectoryState(FoldState):
    people: dict[UUID, PersonEntry] = field(default_factory=dict)
    teams: dict[UUID, TeamEntry] = field(default_factory=dict)
    cycles: dict[UUID, CycleEntry] = field(default_factory=dict)
    emails: dict[str, UUID] = field(default_factory=dict)
    """E-mail → the person who has it now (following e-mail changes; forgotten people leave)."""
    identities: dict[str, UUID] = field(default_factory=dict)
    """`identity_key(issuer, subject)` → the person an identity provider signs in."""


_on: Handlers[DirectoryState] = Handlers()


class DirectoryFold(DataclassFold[DirectoryState]):
    name = "directory"
    version = 3  # 3: the e-mail index (`emails`), following e-mail changes
    state_type = DirectoryState
    handlers = _on
    ignores = (
        Objective,
        *(aggregate for aggregate in PEOPLE_TEAMS_STRATEGY if aggregate not in (Person, Team)),
    )


# ----------------------------------------------------------------- people


def _grant(e: Person.Event | Team.Event, logged: Logged) -> Grant:
    return Grant(logged.position, logged.recorded_at, e.actor, e.reason)


@_on.on(Person.Registered)
def _registered(state: DirectoryState, e: Person.Registered, logged: Logged) -> None:
    state.people[e.originator_id] = PersonEntry(
        name=e.name, email=e.email, active_since=_grant(e, logged)
    )
    if e.email:  # "" once the person is forgotten
        state.emails[e.email] = e.originator_id


@_on.on(Person.EmailChanged)
def _email_changed(state: DirectoryState, e: Person.EmailChanged, logged: Logged) -> None:
    person = state.people[e.originator_id]
    if state.emails.get(person.email) == e.originator_id:
        del state.emails[person.email]
    person.email = e.email
    if e.email:
        state.emails[e.email] = e.originator_id


@_on.on(Person.RoleChanged)
def _person_role_changed(state: DirectoryState, e: Person.RoleChanged, logged: Logged) -> None:
    person = state.people[e.originator_id]
    person.role = e.role
    person.role_granted = _grant(e, logged)


@_on.on(Person.Renamed)
def _renamed(state: DirectoryState, e: Person.Renamed, logged: Logged) -> None:
    state.people[e.originator_id].name = e.name


@_on.on(Person.Deactivated)
def _deactivated(state: DirectoryState, e: Person.Deactivated, logged: Logged) -> None:
    state.people[e.originator_id].active = False
    state.people[e.originator_id].active_since = _grant(e, logged)


@_on.on(Person.Reactivated)
def _reactivated(state: DirectoryState, e: Person.Reactivated, logged: Logged) -> None:
    state.people[e.originator_id].active = True
    state.people[e.originator_id].active_since = _grant(e, logged)


def holder_of(state: DirectoryState, email: str) -> UUID | None:
    """The person who has ``email`` now (an address compared as the registry stores it)."""
    return state.emails.get(email.strip().lower())


def identity_key(issuer: str, subject: str) -> str:
    return issuer.rstrip("/") + " " + subject


@_on.on(Person.IdentityLinked)
def _identity_linked(state: DirectoryState, e: Person.IdentityLinked, logged: Logged) -> None:
    state.identities[identity_key(e.issuer, e.subject)] = e.originator_id


@_on.on(Person.IdentityUnlinked)
def _identity_unlinked(state: DirectoryState, e: Person.IdentityUnlinked, logged: Logged) -> None:
    prefix = identity_key(e.issuer, "")
    for key in [k for k, person in state.identities.items() if person == e.originator_id]:
        if key.startswith(prefix):
            del state.identities[key]


@_on.on(Person.Forgotten)
def _forgotten(state: DirectoryState, e: Person.Forgotten, logged: Logged) -> None:
    for key in [k for k, person in state.identities.items() if person == e.originator_id]:
        del state.identities[key]
    for address in [a for a, person in state.emails.items() if person == e.originator_id]:
        del state.emails[address]
    # Erased personal data leaves live folds at once; earlier checkpoints must be rebuilt.
    state.people[e.originator_id] = PersonEntry(forgotten_name(e.number), "", active=False)


# ------------------------------------------------------------------ teams


@_on.on(Team.Formed)
def _formed(state: DirectoryState, e: Team.Formed, logged: Logged) -> None:
    state.teams[e.originator_id] = TeamEntry(name=e.name, parent_id=e.parent_id)


def _team(state: DirectoryState, e: Team.Event) -> TeamEntry:
    return state.teams[e.originator_id]


_on.restates(Team.Renamed, _team, "name")
_on.restates(Team.Moved, _team, "parent_id")


def _member_role(
    state: DirectoryState, e: Team.MemberAdded | Team.MemberRoleChanged, logged: Logged
) -> None:
    """A member joins with a role, or takes another one."""
    state.teams[e.originator_id].members[e.person_id] = e.role
    state.teams[e.originator_id].granted[e.person_id] = _grant(e, logged)


_on.on(Team.MemberAdded)(_member_role)
_on.on(Team.MemberRoleChanged)(_member_role)


@_on.on(Team.MemberRemoved)
def _member_removed(state: DirectoryState, e: Team.MemberRemoved, logged: Logged) -> None:
    state.teams[e.originator_id].members.pop(e.person_id, None)
    state.teams[e.originator_id].granted.pop(e.person_id, None)


@_on.on(Team.Disbanded)
def _disbanded(state: DirectoryState, e: Team.Disbanded, logged: Logged) -> None:
    state.teams[e.originator_id].disbanded = True


# ----------------------------------------------------------------- cycles


@_on.on(Cycle.Planned)
def _planned(state: DirectoryState, e: Cycle.Planned, logged: Logged) -> None:
    state.cycles[e.originator_id] = CycleEntry(
        **fields_of(PlannedCycle, e),
        phase_history=[
            PhaseChange(Phase.PLANNING.value, logged.recorded_at, logged.position, e.actor, "")
        ],
    )


def _enter(state: DirectoryState, e: Cycle.Event, logged: Logged, phase: Phase) -> None:
    cycle = state.cycles[e.originator_id]
    cycle.phase = phase.value
    cycle.phase_history.append(
        PhaseChange(phase.value, logged.recorded_at, logged.position, e.actor, e.reason)
    )


_on.on_phase_entered(_enter)


# ---------------------------------------------------------------- queries


def person_name(state: DirectoryState, person_id: UUID | str) -> str | None:
    """The person's name, or None for `system` and unknown ids."""
    try:
        key = person_id if isinstance(person_id, UUID) else UUID(person_id)
    except ValueError:
        return None
    entry = state.people.get(key)
    return entry.name if entry else None


def team_ancestors(state: DirectoryState, team_id: UUID) -> list[UUID]:
    """Parent teams above `team_id`, nearest first (bounded, in case of a bad history)."""
    chain: list[UUID] = []
    parent = state.teams[team_id].parent_id if team_id in state.teams else None
    while parent is not None and parent in state.teams and len(chain) < 100:
        chain.append(parent)
        parent = state.teams[parent].parent_id
    return chain


def sub_teams(state: DirectoryState, team_id: UUID) -> list[UUID]:
    """`team_id` and every team below it, in formation order."""
    return [t for t in state.teams if t == team_id or team_id in team_ancestors(state, t)]


def managers_of(state: DirectoryState, team_id: UUID) -> list[UUID]:
    team = state.teams.get(team_id)
    if team is None:
        return []
    return [p for p, role in team.members.items() if role == MemberRole.MANAGER.value]


def teams_of(state: DirectoryState, person_id: UUID) -> list[UUID]:
    """Teams (not disbanded) the person belongs to, in formation order."""
    return [
        t for t, team in state.teams.items() if person_id in team.members and not team.disbanded
    ]

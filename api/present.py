"""Aggregates as the API shows them (single-aggregate reads come from the event store)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel

from api import schemas as s
from domain.cycle import Cadence, Cycle, Scoring
from domain.objective import KeyResult, Objective
from domain.person import Person
from domain.team import MemberRole, Team
from projections.directory import CycleEntry, DirectoryState, PersonEntry, TeamEntry

M = TypeVar("M", bound=BaseModel)


def shaped(model: type[M], source: object, **given: Any) -> M:
    """`model` with `given`, every other field read from `source`'s attribute of that name
    (an attribute it lacks is an error, never a default)."""
    return model(**{f: getattr(source, f) for f in model.model_fields if f not in given}, **given)


def person(p: Person) -> s.PersonOut:
    return shaped(s.PersonOut, p)


def team(t: Team) -> s.TeamOut:
    members = [s.TeamMember(person_id=pid, role=role) for pid, role in t.members.items()]
    return shaped(s.TeamOut, t, members=members)


def cycle(c: Cycle) -> s.CycleOut:
    return shaped(s.CycleOut, c, phase=c.phase.value)


def _key_result(kr: KeyResult) -> s.KeyResultOut:
    current = kr.current
    return shaped(
        s.KeyResultOut,
        kr,
        key_result_id=kr.id,
        current_value=current.value if current else None,
        check_ins=[shaped(s.CheckInOut, c, check_in_id=c.id) for c in kr.check_ins],
    )


def objective(o: Objective, as_of: datetime | None = None) -> s.ObjectiveOut:
    counter = o.counter_proposal
    return shaped(
        s.ObjectiveOut,
        o,
        status=o.status.value,
        counter_proposal=shaped(s.CounterProposalOut, counter) if counter else None,
        amendments=[shaped(s.AmendmentOut, a, amendment_id=a.id) for a in o.amendments.values()],
        key_results=[_key_result(kr) for kr in o.key_results.values()],
        as_of=as_of,
    )


# ------------------------------------------------------------ directory lists
# Lists of people, teams and cycles come from the API's directory fold (api.directory), which
# also remembers each aggregate's version.


def person_entry(person_id: UUID, entry: PersonEntry, version: int) -> s.PersonOut:
    return shaped(s.PersonOut, entry, id=person_id, version=version)


def team_entry(team_id: UUID, entry: TeamEntry, version: int) -> s.TeamOut:
    members = [
        s.TeamMember(person_id=pid, role=MemberRole(role)) for pid, role in entry.members.items()
    ]
    return shaped(s.TeamOut, entry, id=team_id, version=version, members=members)


def cycle_entry(cycle_id: UUID, entry: CycleEntry, version: int) -> s.CycleOut:
    return shaped(
        s.CycleOut,
        entry,
        id=cycle_id,
        version=version,
        cadence=Cadence(entry.cadence),
        scoring=Scoring(entry.scoring),
    )


def memberships(directory: DirectoryState, person_id: UUID) -> list[s.Membership]:
    return [
        s.Membership(
            team_id=team_id, team_name=entry.name, role=MemberRole(entry.members[person_id])
        )
        for team_id, entry in directory.teams.items()
        if person_id in entry.members and not entry.disbanded
    ]

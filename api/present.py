"""Aggregates as the API shows them (single-aggregate reads come from the event store)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from api import schemas as s
from domain.cycle import Cadence, Cycle, Scoring
from domain.objective import KeyResult, Objective
from domain.person import Person
from domain.team import MemberRole, Team
from projections.directory import CycleEntry, DirectoryState, PersonEntry, TeamEntry


def person(p: Person) -> s.PersonOut:
    return s.PersonOut(id=p.id, version=p.version, name=p.name, email=p.email, active=p.active)


def team(t: Team) -> s.TeamOut:
    return s.TeamOut(
        id=t.id,
        version=t.version,
        name=t.name,
        parent_id=t.parent_id,
        members=[s.TeamMember(person_id=pid, role=role) for pid, role in t.members.items()],
        disbanded=t.disbanded,
    )


def cycle(c: Cycle) -> s.CycleOut:
    return s.CycleOut(
        id=c.id,
        version=c.version,
        name=c.name,
        starts_on=c.starts_on,
        ends_on=c.ends_on,
        cadence=c.cadence,
        scoring=c.scoring,
        success_threshold=c.success_threshold,
        phase=c.phase.value,
    )


def _key_result(kr: KeyResult) -> s.KeyResultOut:
    current = kr.current
    return s.KeyResultOut(
        key_result_id=kr.id,
        lineage_id=kr.lineage_id,
        title=kr.title,
        measure=kr.measure,
        baseline=kr.baseline,
        target=kr.target,
        unit=kr.unit,
        direction=kr.direction,
        weight=kr.weight,
        removed=kr.removed,
        progress=kr.progress,
        current_value=current.value if current else None,
        score=kr.score,
        achieved=kr.achieved,
        grade_comment=kr.grade_comment,
        check_ins=[
            s.CheckInOut(
                check_in_id=c.id,
                value=c.value,
                confidence=c.confidence,
                note=c.note,
                effective_on=c.effective_on,
                recorded_at=c.recorded_at,
                actor=c.actor,
                supersedes=c.supersedes,
                superseded_by=c.superseded_by,
                reason=c.reason,
            )
            for c in kr.check_ins
        ],
        kpi_id=kr.kpi_id,
    )


def objective(o: Objective, as_of: datetime | None = None) -> s.ObjectiveOut:
    counter = o.counter_proposal
    return s.ObjectiveOut(
        id=o.id,
        version=o.version,
        cycle_id=o.cycle_id,
        owner_team_id=o.owner_team_id,
        owner_person_id=o.owner_person_id,
        title=o.title,
        description=o.description,
        kind=o.kind,
        perspective=o.perspective,
        parent_objective_id=o.parent_objective_id,
        parent_key_result_id=o.parent_key_result_id,
        private=o.private,
        status=o.status.value,
        approver_id=o.approver_id,
        submitted_by=o.submitted_by,
        approved_by=o.approved_by,
        review_comment=o.review_comment,
        counter_proposal=s.CounterProposalOut(
            changes=counter.changes, comment=counter.comment, proposed_by=counter.proposed_by
        )
        if counter
        else None,
        amendments=[
            s.AmendmentOut(
                amendment_id=a.id,
                changes=a.changes,
                reason=a.reason,
                proposed_by=a.proposed_by,
                status=a.status,
                decided_by=a.decided_by,
                comment=a.comment,
            )
            for a in o.amendments.values()
        ],
        key_results=[_key_result(kr) for kr in o.key_results.values()],
        score=o.score,
        grade_comment=o.grade_comment,
        reflection=o.reflection,
        carried_from=o.carried_from,
        carried_to=o.carried_to,
        abandon_reason=o.abandon_reason,
        as_of=as_of,
        theme_id=o.theme_id,
    )


# ------------------------------------------------------------ directory lists
# Lists of people, teams and cycles come from the API's directory fold (api.directory), which
# also remembers each aggregate's version.


def person_entry(person_id: UUID, entry: PersonEntry, version: int) -> s.PersonOut:
    return s.PersonOut(
        id=person_id, version=version, name=entry.name, email=entry.email, active=entry.active
    )


def team_entry(team_id: UUID, entry: TeamEntry, version: int) -> s.TeamOut:
    return s.TeamOut(
        id=team_id,
        version=version,
        name=entry.name,
        parent_id=entry.parent_id,
        members=[
            s.TeamMember(person_id=pid, role=MemberRole(role))
            for pid, role in entry.members.items()
        ],
        disbanded=entry.disbanded,
    )


def cycle_entry(cycle_id: UUID, entry: CycleEntry, version: int) -> s.CycleOut:
    return s.CycleOut(
        id=cycle_id,
        version=version,
        name=entry.name,
        starts_on=entry.starts_on,
        ends_on=entry.ends_on,
        cadence=Cadence(entry.cadence),
        scoring=Scoring(entry.scoring),
        success_threshold=entry.success_threshold,
        phase=entry.phase,
    )


def memberships(directory: DirectoryState, person_id: UUID) -> list[s.Membership]:
    return [
        s.Membership(
            team_id=team_id, team_name=entry.name, role=MemberRole(entry.members[person_id])
        )
        for team_id, entry in directory.teams.items()
        if person_id in entry.members and not entry.disbanded
    ]

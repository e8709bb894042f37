"""The approval inbox: what waits on each person.

- objectives in review, for the approver they were submitted to;
- pending amendments, for the approver of that objective (never for the amendment's proposer);
- counter-proposals, for the contributor who submitted the objective.

Only cycles still open to negotiation (planning or active) fill inboxes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.cycle import Cycle, Phase
from domain.objective import Objective, Status
from projections.base import PEOPLE_TEAMS_STRATEGY, DataclassFold, FoldState, Handlers, Logged
from projections.headings import GRADING_AND_LINKS, ObjectiveHeading, follow_headings

NEGOTIATING = frozenset({Phase.PLANNING.value, Phase.ACTIVE.value})


@dataclass
class Request:
    """Something asked of someone: who asked, when, with what comment."""

    by: str
    at: datetime
    position: int
    comment: str = ""
    changes: dict[str, Any] = field(default_factory=dict)
    amendment_id: UUID | None = None


@dataclass
class Negotiation(ObjectiveHeading):
    status: str = Status.DRAFT.value
    approver_id: UUID | None = None
    submitted_by: str | None = None
    submission: Request | None = None
    counter_proposal: Request | None = None
    amendment: Request | None = None


@dataclass
class InboxState(FoldState):
    cycle_phases: dict[UUID, str] = field(default_factory=dict)
    objectives: dict[UUID, Negotiation] = field(default_factory=dict)


_on: Handlers[InboxState] = Handlers()


class InboxFold(DataclassFold[InboxState]):
    name = "inbox"
    state_type = InboxState
    handlers = _on
    ignores = (
        # Negotiation is about status: what the objective says and tracks does not move it.
        Objective.Realigned,
        Objective.KeyResultAdded,
        Objective.KeyResultReworded,
        Objective.KeyResultRetargeted,
        Objective.KeyResultReweighted,
        Objective.KeyResultRemoved,
        Objective.ProgressReported,
        Objective.CheckInCorrected,
        *GRADING_AND_LINKS,
        *PEOPLE_TEAMS_STRATEGY,
    )


@_on.on(Cycle.Planned)
def _planned(state: InboxState, e: Cycle.Planned, logged: Logged) -> None:
    state.cycle_phases[e.originator_id] = Phase.PLANNING.value


def _enter(state: InboxState, e: Cycle.Event, logged: Logged, phase: Phase) -> None:
    state.cycle_phases[e.originator_id] = phase.value


_on.on_phase_entered(_enter)


follow_headings(_on, Negotiation, lambda state: state.objectives)


@_on.on(Objective.CounterProposalDeclined)
def _counter_declined(
    state: InboxState, e: Objective.CounterProposalDeclined, logged: Logged
) -> None:
    item = state.objectives[e.originator_id]
    item.status, item.counter_proposal = Status.DRAFT.value, None


@_on.on(Objective.Abandoned)
def _abandoned(state: InboxState, e: Objective.Abandoned, logged: Logged) -> None:
    item = state.objectives[e.originator_id]
    item.status = Status.ABANDONED.value
    item.submission = item.counter_proposal = item.amendment = None


@_on.on(Objective.SubmittedForApproval)
def _submitted(state: InboxState, e: Objective.SubmittedForApproval, logged: Logged) -> None:
    item = state.objectives[e.originator_id]
    item.status = Status.IN_REVIEW.value
    item.approver_id, item.submitted_by = e.approver_id, e.actor
    item.submission = Request(e.actor, logged.recorded_at, logged.position)
    item.counter_proposal = None


def _answered(status: Status) -> Callable[[InboxState, Objective.Event, Logged], None]:
    """The handler of an approver's answer to a submission that moves the objective to
    `status`: the submission waits no more."""

    def answered(state: InboxState, e: Objective.Event, logged: Logged) -> None:
        item = state.objectives[e.originator_id]
        item.status, item.submission = status.value, None

    return answered


_on.on(Objective.ChangesRequested)(_answered(Status.CHANGES_REQUESTED))
_on.on(Objective.Approved)(_answered(Status.APPROVED))


@_on.on(Objective.CounterProposed)
def _countered(state: InboxState, e: Objective.CounterProposed, logged: Logged) -> None:
    item = state.objectives[e.originator_id]
    item.status, item.submission = Status.COUNTERED.value, None
    item.counter_proposal = Request(
        e.actor, logged.recorded_at, logged.position, e.comment, e.changes
    )


def _agreed(
    state: InboxState, e: Objective.CounterProposalAccepted | Objective.AmendmentApproved
) -> Negotiation:
    """The negotiation, retitled if the agreed changes retitle the objective."""
    item = state.objectives[e.originator_id]
    if "title" in e.changes:
        item.title = e.changes["title"]
    return item


@_on.on(Objective.CounterProposalAccepted)
def _accepted(state: InboxState, e: Objective.CounterProposalAccepted, logged: Logged) -> None:
    item = _agreed(state, e)
    item.status, item.counter_proposal = Status.APPROVED.value, None


@_on.on(Objective.Withdrawn)
def _withdrawn(state: InboxState, e: Objective.Withdrawn, logged: Logged) -> None:
    item = state.objectives[e.originator_id]
    item.status, item.approver_id = Status.DRAFT.value, None
    item.submission = item.counter_proposal = None


@_on.on(Objective.AmendmentProposed)
def _amendment_proposed(state: InboxState, e: Objective.AmendmentProposed, logged: Logged) -> None:
    state.objectives[e.originator_id].amendment = Request(
        e.actor, logged.recorded_at, logged.position, e.reason, e.changes, e.amendment_id
    )


@_on.on(Objective.AmendmentApproved)
def _amendment_approved(state: InboxState, e: Objective.AmendmentApproved, logged: Logged) -> None:
    _agreed(state, e).amendment = None


@_on.on(Objective.AmendmentRejected)
def _amendment_rejected(state: InboxState, e: Objective.AmendmentRejected, logged: Logged) -> None:
    state.objectives[e.originator_id].amendment = None


# ---------------------------------------------------------------- queries


@dataclass(frozen=True)
class InboxItem:
    kind: str
    """`review` (approve, request changes or counter-propose), `amendment` (approve or reject)
    or `counter_proposal` (accept or revise)."""
    objective_id: UUID
    cycle_id: UUID
    title: str
    owner_team_id: UUID | None
    owner_person_id: UUID | None
    requested_by: str
    since: datetime
    position: int
    comment: str
    changes: dict[str, Any]
    amendment_id: UUID | None = None


def _item(kind: str, n: Negotiation, request: Request) -> InboxItem:
    return InboxItem(
        kind=kind,
        objective_id=n.objective_id,
        cycle_id=n.cycle_id,
        title=n.title,
        owner_team_id=n.owner_team_id,
        owner_person_id=n.owner_person_id,
        requested_by=request.by,
        since=request.at,
        position=request.position,
        comment=request.comment,
        changes=request.changes,
        amendment_id=request.amendment_id,
    )


def inbox(state: InboxState, person_id: UUID | str) -> list[InboxItem]:
    """What waits on `person_id`, oldest first."""
    person = str(person_id)
    items: list[InboxItem] = []
    for n in state.objectives.values():
        if state.cycle_phases.get(n.cycle_id) not in NEGOTIATING:
            continue
        is_approver = n.approver_id is not None and str(n.approver_id) == person
        if n.status == Status.IN_REVIEW.value and is_approver and n.submission:
            items.append(_item("review", n, n.submission))
        if n.status == Status.COUNTERED.value and n.submitted_by == person and n.counter_proposal:
            items.append(_item("counter_proposal", n, n.counter_proposal))
        if n.amendment is not None and is_approver and n.amendment.by != person:
            items.append(_item("amendment", n, n.amendment))
    return sorted(items, key=lambda i: i.position)

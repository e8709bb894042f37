"""Notices: which events ask whom to act, decided by a pure fold over the log.

The notifier (`infra/notify`) follows the log and, for each event, asks `notices_for` which
notices it causes; it writes them to its outbox in the transaction that moves its position.
This module decides *who* and *about what* only: a notice names its recipient, the person who
acted and the objective by id, never by name. Names, titles and addresses are looked up when a
notice is rendered (at send time, or when a notifications page shows it), so a person forgotten
after the event appears in no message rendered after the erasure.

Negotiation notices (issue 17):

| event | kind | recipients |
|---|---|---|
| `Objective.SubmittedForApproval` | `submitted` | the approver it names |
| `Objective.ChangesRequested` | `changes_requested` | the submitter and the owners |
| `Objective.CounterProposed` | `counter_proposed` | the submitter and the owners |
| `Objective.Approved` | `approved` | the owners |
| `Objective.Withdrawn` | `withdrawn` | the owners |
| `Objective.AmendmentProposed` | `amendment_proposed` | the decider (the approver the objective was submitted to; without one, the managers of its team) |
| `Objective.AmendmentApproved` / `AmendmentRejected` | `amendment_decided` | the amendment's proposer |
| `Objective.ProgressReported` 3+ points less confident than the key result's previous check-in | `confidence_dropped` | the managers (of the owning team; of a person's teams) |

The owners of a person's objective are that person; of a team's objective, the team's members
and managers. Nobody is told about what they did themselves, and people deactivated or
forgotten are told nothing.

Extending: a new kind of notice is a handler that returns `Notice`s (see `_RULES`); notices
that time alone triggers (reminders, digests) are made by the scheduler with the same `Notice`
shape and go through the same outbox and channels (docs/notifications.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.objective import Objective
from domain.person import Person
from domain.team import Team
from projections.base import Logged

KINDS = (
    "submitted",
    "changes_requested",
    "counter_proposed",
    "approved",
    "withdrawn",
    "amendment_proposed",
    "amendment_decided",
    "confidence_dropped",
)
"""Every kind of notice the log causes, in the order the docs list them."""


@dataclass(frozen=True, slots=True)
class Notice:
    """One person asked to look at one thing: the unit the outbox stores and channels send."""

    id: UUID
    """Deterministic: the same event and recipient always give the same id (see `notice_id`)."""
    kind: str
    recipient_id: UUID
    position: int
    """The log position of the event that caused it (0 for notices time caused)."""
    actor: str
    """Who acted: a person id, or `system`."""
    objective_id: UUID | None
    link: str
    """The path of the page that acts on it, e.g. `/objectives/<id>`."""
    data: dict[str, str] = field(default_factory=dict)
    """Kind-specific facts, ids and words only (a comment, `approved`/`rejected`); no names."""


def notice_id(position: int, kind: str, recipient_id: UUID) -> UUID:
    """A notice's id from what caused it: following the same log twice gives the same ids."""
    return uuid5(NAMESPACE_URL, f"okrledger:notice:{position}:{kind}:{recipient_id}")


@dataclass
class ObjectiveFacts:
    owner_team_id: UUID | None
    owner_person_id: UUID | None
    approver_id: UUID | None = None
    submitted_by: str | None = None
    amendments: dict[UUID, str] = field(default_factory=dict)
    """Amendment id → its proposer's id."""


@dataclass
class NoticesState:
    """What deciding recipients needs: owners, approvers, proposers, teams, who is active."""

    position: int = 0
    objectives: dict[UUID, ObjectiveFacts] = field(default_factory=dict)
    teams: dict[UUID, dict[UUID, str]] = field(default_factory=dict)
    """Team id → member id → role (`member` or `manager`)."""
    inactive: set[UUID] = field(default_factory=set)
    """People deactivated or forgotten."""
    confidence: dict[UUID, int] = field(default_factory=dict)
    """Key result id → the confidence of its latest check-in (for `confidence_dropped`)."""


def _objective_link(objective_id: UUID) -> str:
    return f"/objectives/{objective_id}"


def owners(state: NoticesState, facts: ObjectiveFacts) -> list[UUID]:
    if facts.owner_person_id is not None:
        return [facts.owner_person_id]
    if facts.owner_team_id is not None:
        return list(state.teams.get(facts.owner_team_id, {}))
    return []


def managers(state: NoticesState, facts: ObjectiveFacts) -> list[UUID]:
    if facts.owner_team_id is None:
        return []
    members = state.teams.get(facts.owner_team_id, {})
    return [person for person, role in members.items() if role == "manager"]


def managers_of_owner(state: NoticesState, facts: ObjectiveFacts) -> list[UUID]:
    """The managers an objective's trouble goes to: its team's; for a person's objective, the
    managers of the teams the person belongs to (not the person)."""
    if facts.owner_person_id is None:
        return managers(state, facts)
    person = facts.owner_person_id
    return [
        member
        for members in state.teams.values()
        if person in members
        for member, role in members.items()
        if role == "manager" and member != person
    ]


def _person(value: str | None) -> UUID | None:
    if not value:
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


# ---------------------------------------------------------------- the state


def _drafted(state: NoticesState, e: Any) -> None:
    state.objectives[e.originator_id] = ObjectiveFacts(e.owner_team_id, e.owner_person_id)


def _reassigned(state: NoticesState, e: Any) -> None:
    facts = state.objectives.get(e.originator_id)
    if facts is not None:
        facts.owner_team_id = e.owner_team_id
        facts.owner_person_id = e.owner_person_id


def _submitted(state: NoticesState, e: Any) -> None:
    facts = state.objectives.get(e.originator_id)
    if facts is not None:
        facts.approver_id = e.approver_id
        facts.submitted_by = e.actor


def _withdrawn(state: NoticesState, e: Any) -> None:
    facts = state.objectives.get(e.originator_id)
    if facts is not None:
        facts.approver_id = None


def _amendment_proposed(state: NoticesState, e: Any) -> None:
    facts = state.objectives.get(e.originator_id)
    if facts is not None:
        facts.amendments[e.amendment_id] = e.actor


def _checked_in(state: NoticesState, e: Any) -> None:
    state.confidence[e.key_result_id] = int(e.confidence)


def _team_formed(state: NoticesState, e: Any) -> None:
    state.teams[e.originator_id] = {}


def _member_set(state: NoticesState, e: Any) -> None:
    state.teams.setdefault(e.originator_id, {})[e.person_id] = str(e.role)


def _member_removed(state: NoticesState, e: Any) -> None:
    state.teams.get(e.originator_id, {}).pop(e.person_id, None)


def _gone(state: NoticesState, e: Any) -> None:
    state.inactive.add(e.originator_id)


def _back(state: NoticesState, e: Any) -> None:
    state.inactive.discard(e.originator_id)


UPDATES: dict[type[Any], Callable[[NoticesState, Any], None]] = {
    Objective.Drafted: _drafted,
    Objective.Reassigned: _reassigned,
    Objective.SubmittedForApproval: _submitted,
    Objective.Withdrawn: _withdrawn,
    Objective.AmendmentProposed: _amendment_proposed,
    Objective.ProgressReported: _checked_in,
    Objective.CheckInCorrected: _checked_in,
    Team.Formed: _team_formed,
    Team.MemberAdded: _member_set,
    Team.MemberRoleChanged: _member_set,
    Team.MemberRemoved: _member_removed,
    Person.Deactivated: _gone,
    Person.Forgotten: _gone,
    Person.Reactivated: _back,
}
"""How each event the decisions read moves the state (every other event only moves `position`)."""


# ---------------------------------------------------------------- the rules

Rule = Callable[[NoticesState, Any, ObjectiveFacts], tuple[str, Iterable[UUID], dict[str, str]]]


def _on_submitted(state: NoticesState, e: Any, facts: ObjectiveFacts) -> Any:
    return "submitted", [e.approver_id], {}


def _on_review_answer(state: NoticesState, e: Any, facts: ObjectiveFacts) -> Any:
    """Changes requested or a counter-proposal: the submitter and the owners answer next."""
    kind = "changes_requested" if isinstance(e, Objective.ChangesRequested) else "counter_proposed"
    submitter = _person(facts.submitted_by)
    return (
        kind,
        [*([submitter] if submitter else []), *owners(state, facts)],
        {"comment": e.comment},
    )


def _on_approved(state: NoticesState, e: Any, facts: ObjectiveFacts) -> Any:
    return "approved", owners(state, facts), {}


def _on_withdrawn(state: NoticesState, e: Any, facts: ObjectiveFacts) -> Any:
    return "withdrawn", owners(state, facts), {}


def _on_amendment_proposed(state: NoticesState, e: Any, facts: ObjectiveFacts) -> Any:
    decider = [facts.approver_id] if facts.approver_id else managers(state, facts)
    return (
        "amendment_proposed",
        decider,
        {"amendment_id": str(e.amendment_id), "reason": e.reason},
    )


def _on_amendment_decided(state: NoticesState, e: Any, facts: ObjectiveFacts) -> Any:
    proposer = _person(facts.amendments.get(e.amendment_id))
    outcome = "approved" if isinstance(e, Objective.AmendmentApproved) else "rejected"
    return (
        "amendment_decided",
        [proposer] if proposer else [],
        {"amendment_id": str(e.amendment_id), "outcome": outcome, "comment": e.reason},
    )


CONFIDENCE_DROP = 3
"""A check-in whose confidence is this many points (of 10) below the key result's previous one
tells the managers."""


def _on_check_in(state: NoticesState, e: Any, facts: ObjectiveFacts) -> Any:
    """A confidence drop of 3 or more points since the key result's previous check-in: the
    managers (a correction moves the baseline but is no drop of its own)."""
    before = state.confidence.get(e.key_result_id)
    if before is None or before - int(e.confidence) < CONFIDENCE_DROP:
        return "confidence_dropped", [], {}
    return (
        "confidence_dropped",
        managers_of_owner(state, facts),
        {"key_result_id": str(e.key_result_id), "from": str(before), "to": str(e.confidence)},
    )


_RULES: dict[type[Any], Rule] = {
    Objective.SubmittedForApproval: _on_submitted,
    Objective.ChangesRequested: _on_review_answer,
    Objective.CounterProposed: _on_review_answer,
    Objective.Approved: _on_approved,
    Objective.Withdrawn: _on_withdrawn,
    Objective.AmendmentProposed: _on_amendment_proposed,
    Objective.AmendmentApproved: _on_amendment_decided,
    Objective.AmendmentRejected: _on_amendment_decided,
    Objective.ProgressReported: _on_check_in,
}
"""Event class → the rule that names its notice's kind, recipients and facts."""

HANDLED: frozenset[type[Any]] = frozenset(UPDATES) | frozenset(_RULES)
"""Every event class the notices read (the others only move the state's position)."""


def notices_for(state: NoticesState, logged: Logged) -> list[Notice]:
    """The notices `logged` causes, decided against `state` as it stood *before* the event,
    then `state` moved past it. Events at or before the state's position cause nothing (a
    page of the log read twice notifies once)."""
    if logged.position <= state.position:
        return []
    event = logged.event
    kind_of = type(event)
    found: list[Notice] = []
    rule = _RULES.get(kind_of)
    if rule is not None:
        facts = state.objectives.get(event.originator_id)
        if facts is not None:
            kind, recipients, data = rule(state, event, facts)
            actor = _person(event.actor)
            seen: set[UUID] = set()
            for recipient in recipients:
                if recipient in seen or recipient == actor or recipient in state.inactive:
                    continue
                seen.add(recipient)
                found.append(
                    Notice(
                        id=notice_id(logged.position, kind, recipient),
                        kind=kind,
                        recipient_id=recipient,
                        position=logged.position,
                        actor=event.actor,
                        objective_id=event.originator_id,
                        link=_objective_link(event.originator_id),
                        data={key: value for key, value in data.items() if value},
                    )
                )
    update = UPDATES.get(kind_of)
    if update is not None:
        update(state, event)
    state.position = logged.position
    return found


# ---------------------------------------------------------------- data sources

SOURCE_KINDS = ("source_failing", "source_recovered")
"""Notices a data source's health causes (written by the sync, `infra/sources/sync.py`, in the
transaction that records the health; not decided from the log)."""


def source_notice_id(kind: str, recipient_id: UUID, source_id: UUID, failing_since: str) -> UUID:
    """One notice per failure of a source and recipient: a second sync, a retry or another
    process that records the same failure (or the same recovery) finds the id already stored."""
    return uuid5(
        NAMESPACE_URL, f"okrledger:notice:{kind}:{recipient_id}:{source_id}:{failing_since}"
    )


def source_notices(
    kind: str,
    recipients: Iterable[UUID],
    *,
    source_id: UUID,
    failing_since: str,
    position: int,
    objective_id: UUID | None,
    link: str,
    data: dict[str, str],
) -> list[Notice]:
    """`source_failing` or `source_recovered` for each recipient (once each); `failing_since`
    (ISO 8601) names the failure, so its recovery has an id of its own too."""
    found: list[Notice] = []
    for recipient in dict.fromkeys(recipients):
        found.append(
            Notice(
                id=source_notice_id(kind, recipient, source_id, failing_since),
                kind=kind,
                recipient_id=recipient,
                position=position,
                actor="system",
                objective_id=objective_id,
                link=link,
                data={
                    "source_id": str(source_id),
                    "failing_since": failing_since,
                    **{key: value for key, value in data.items() if value},
                },
            )
        )
    return found

"""Readable sentences and before → after values for events, shared by the audit and history folds.

Each phraser is declared with its event's catalogue entry (`@_event(Objective.Approved)`); the
catalogue (`projections.catalogue`) gathers these entries and `catalogue.narrate` picks the
phraser. A phraser reads the context as it was *before* the event (titles, current
targets, the check-in being corrected) and phrases the event: "target of 'Weekly active teams'
changed from 40 to 32". `advance(context, logged)` then applies the event. The context is the
alignment tree's state plus the names of teams and cycles; sentences name things, never people
(people stay as ids in the before/after values, for the API to resolve).

Before/after values are JSON-native. Key result fields always sit under
`{"key_results": {key_result_id: {field: value}}}`, whichever event changed them, so a reader
(such as `projections.diff`) can find who changed a given field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from domain.access import AccessToken
from domain.base import OkrAggregate
from domain.channel import ChatChannel
from domain.cycle import Cycle, Phase
from domain.objective import NEGOTIABLE_FIELDS, Objective, Status
from domain.person import Person
from domain.source import describe
from domain.team import Team
from domain.webhook import WebhookEndpoint
from projections.base import PHASE_ENTERED, KindTest, Logged
from projections.changes import added_key_results, edited_key_results, removed_key_results
from projections.entries import Entries
from projections.strategy import StrategyFold, StrategyState
from projections.tree import CheckInPoint, KeyResultNode, ObjectiveNode, TreeFold, TreeState

Json = dict[str, Any]


@dataclass
class Context:
    """What phrasing needs: the alignment tree so far, team and cycle names, and the strategy
    layer (strategy, KPIs, initiatives) so far."""

    tree: TreeState = field(default_factory=TreeState)
    names: dict[UUID, str] = field(default_factory=dict)
    strategy: StrategyState = field(default_factory=StrategyState)


@dataclass(slots=True)
class Narration:
    """How one event reads, against the context before it. Treated as a value and never
    changed; not `frozen`, whose generated `__init__` (nine `object.__setattr__` calls) cost
    more than phrasing most events."""

    entity_type: str
    """person, team, cycle or objective (the aggregate the event belongs to)."""
    entity_id: UUID
    objective_id: UUID | None
    cycle_id: UUID | None
    key_result_id: UUID | None
    action: str
    before: Json
    after: Json
    approver: str | None = None
    """Who approved, for events that needed an approval (approvals, accepted counters,
    approved amendments)."""


_TREE = TreeFold()
_STRATEGY = StrategyFold()
NAMING = (Team.Formed, Team.Renamed, Cycle.Planned)
"""The events that name what sentences quote (teams and cycles), kept in `Context.names`."""
_NAMING = KindTest[Team.Formed | Team.Renamed | Cycle.Planned](*NAMING)


def advance(context: Context, logged: Logged) -> None:
    """Apply the event to the context, after it was narrated."""
    event = logged.event
    if _NAMING(event):
        context.names[event.originator_id] = event.name
    _TREE.apply(context.tree, logged)
    _STRATEGY.apply(context.strategy, logged)


Phraser = Callable[[Context, Any, Logged], Narration]

ENTRIES = Entries()
"""The catalogue entries of the people's, tokens', teams', cycles' and objectives' events, each
declared on its phraser; `projections.catalogue` reads them (and `narrate` lives there)."""
_event = ENTRIES.event


# ---------------------------------------------------------------- phrasing


def q(text: str) -> str:
    return f"'{text}'"


def number(value: float | None) -> str:
    """40.0 → 40, 32.5 → 32.5; no scientific notation for ordinary magnitudes."""
    if value is None:
        return "none"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".12g")


def _id(value: UUID | None) -> str | None:
    return str(value) if value is not None else None


def _name(context: Context, entity_id: UUID | None, fallback: str) -> str:
    if entity_id is None:
        return fallback
    return q(context.names.get(entity_id, str(entity_id)))


def kr_json(kr_id: UUID, fields: Json) -> Json:
    return {"key_results": {str(kr_id): fields}}


def describe_changes(
    node: ObjectiveNode, changes: Json, *, applied: bool
) -> tuple[list[str], Json, Json]:
    """Phrases and before/after values for a normalised change set on `node`."""
    verb = "changed from" if applied else "from"
    phrases: list[str] = []
    before: Json = {}
    after: Json = {}
    if "title" in changes:
        phrases.append(f"title {verb} {q(node.title)} to {q(changes['title'])}")
        before["title"], after["title"] = node.title, changes["title"]
    if "description" in changes:
        phrases.append("description changed" if applied else "new description")
        before["description"], after["description"] = node.description, changes["description"]
    kr_before: Json = {}
    kr_after: Json = {}
    for kr_id, edits in edited_key_results(changes).items():
        kr = node.key_results[kr_id]
        old: Json = {}
        for name in NEGOTIABLE_FIELDS:
            if name in edits:
                old[name] = getattr(kr, name)
                if name == "title":
                    renamed = "renamed to" if applied else "to be renamed"
                    phrases.append(f"key result {q(kr.title)} {renamed} {q(edits[name])}")
                else:
                    phrases.append(
                        f"{name} of {q(kr.title)} {verb} {number(old[name])}"
                        f" to {number(edits[name])}"
                    )
        kr_before[str(kr_id)] = old
        kr_after[str(kr_id)] = {k: edits[k] for k in NEGOTIABLE_FIELDS if k in edits}
    for added in added_key_results(changes):
        phrases.append(f"key result {q(added.title)} {'added' if applied else 'to add'}")
        kr_after[str(added.key_result_id)] = {
            "title": added.title,
            "measure": added.measure,
            "baseline": added.baseline,
            "target": added.target,
            "unit": added.unit,
            "direction": added.direction,
            "weight": added.weight,
        }
    for kr_id in removed_key_results(changes):
        removed = node.key_results[kr_id]
        phrases.append(f"key result {q(removed.title)} {'removed' if applied else 'to remove'}")
        kr_before[str(kr_id)] = {"removed": False}
        kr_after[str(kr_id)] = {"removed": True}
    if kr_before:
        before["key_results"] = kr_before
    if kr_after:
        after["key_results"] = kr_after
    return phrases, before, after


# ------------------------------------------------------------------ people


def about_entity(
    entity_type: str, entity_id: UUID, action: str, before: Json, after: Json
) -> Narration:
    """About an aggregate that is neither an objective nor a cycle: no objective, cycle or key
    result to name."""
    return Narration(entity_type, entity_id, None, None, None, action, before, after)


def _person(logged: Logged, action: str, before: Json, after: Json) -> Narration:
    return about_entity("person", logged.event.originator_id, action, before, after)


@_event(Person.Registered, personal=("name", "email"))
def _registered(context: Context, e: Person.Registered, logged: Logged) -> Narration:
    return _person(logged, "person registered", {}, {"active": True})


@_event(Person.Renamed, personal=("name",))
def _person_renamed(context: Context, e: Person.Renamed, logged: Logged) -> Narration:
    return _person(logged, "person renamed", {}, {})


@_event(Person.EmailChanged, personal=("email",))
def _email_changed(context: Context, e: Person.EmailChanged, logged: Logged) -> Narration:
    return _person(logged, "e-mail changed", {}, {})


@_event(Person.RoleChanged)
def _person_role_changed(context: Context, e: Person.RoleChanged, logged: Logged) -> Narration:
    return _person(
        logged,
        f"role changed to {e.role}" + (f" (was {e.previous})" if e.previous else ""),
        {"role": e.previous or None},
        {"role": e.role},
    )


@_event(Person.IdentityLinked, personal=("subject",))
def _identity_linked(context: Context, e: Person.IdentityLinked, logged: Logged) -> Narration:
    return _person(logged, f"signs in through {e.issuer}", {}, {"issuer": e.issuer})


@_event(Person.IdentityUnlinked)
def _identity_unlinked(context: Context, e: Person.IdentityUnlinked, logged: Logged) -> Narration:
    return _person(logged, f"no longer named by {e.issuer}", {"issuer": e.issuer}, {})


@_event(Person.Forgotten)
def _forgotten(context: Context, e: Person.Forgotten, logged: Logged) -> Narration:
    return _person(logged, "personal data erased", {}, {"forgotten_number": e.number})


@_event(Person.NotificationPreferencesChanged, ignored_by=("directory",))
def _notification_preferences(
    context: Context, e: Person.NotificationPreferencesChanged, logged: Logged
) -> Narration:
    after: Json = {
        "channels": dict(e.channels),
        "delivery": e.delivery,
        "quiet_hours": f"{e.quiet_from}-{e.quiet_to}" if e.quiet_from else None,
        "time_zone": e.time_zone or None,
    }
    return _person(logged, "notification preferences changed", {}, after)


# ------------------------------------------------------------------ tokens


@_event(AccessToken.Issued)
def _token_issued(context: Context, e: AccessToken.Issued, logged: Logged) -> Narration:
    after = {"person_id": str(e.person_id), "role": e.role, "label": e.label, "revoked": False}
    return about_entity("token", e.originator_id, f"{e.role} token issued", {}, after)


@_event(AccessToken.Limited)
def _token_limited(context: Context, e: AccessToken.Limited, logged: Logged) -> Narration:
    until = e.expires_at.isoformat() if e.expires_at else None
    scope = "read-only" if e.read_only else "read-write"
    action = f"token limited: {scope}" + (f", until {until}" if until else "")
    after = {"expires_at": until, "read_only": e.read_only}
    return about_entity("token", e.originator_id, action, {}, after)


# -------------------------------------------------------- webhook endpoints


def _endpoint(logged: Logged, action: str, before: Json, after: Json) -> Narration:
    return about_entity("webhook_endpoint", logged.event.originator_id, action, before, after)


@_event(WebhookEndpoint.Registered)
def _endpoint_registered(
    context: Context, e: WebhookEndpoint.Registered, logged: Logged
) -> Narration:
    after = {
        "url": e.url,
        "event_types": list(e.event_types),
        "private_content": e.private_content,
        "enabled": True,
    }
    return _endpoint(logged, f"webhook endpoint registered for {e.url}", {}, after)


@_event(WebhookEndpoint.EventTypesChanged)
def _endpoint_types_changed(
    context: Context, e: WebhookEndpoint.EventTypesChanged, logged: Logged
) -> Narration:
    types = ", ".join(e.event_types)
    return _endpoint(
        logged, f"webhook event types set to {types}", {}, {"event_types": list(e.event_types)}
    )


@_event(ChatChannel.Connected)
def _channel_connected(context: Context, e: ChatChannel.Connected, logged: Logged) -> Narration:
    scope = f"team {q(context.names.get(e.team_id, str(e.team_id)))}" if e.team_id else "everyone"
    after = {
        "kind": e.kind,
        "team_id": str(e.team_id) if e.team_id else None,
        "url_hint": e.url_hint,
        "enabled": True,
    }
    return _channel(logged, f"{e.kind} channel connected for {scope}", {}, after)


def _channel(logged: Logged, action: str, before: Json, after: Json) -> Narration:
    return about_entity("chat_channel", logged.event.originator_id, action, before, after)


# --------------------------------------------------------------- switches


@dataclass(frozen=True)
class _Switch:
    """An event that only turns one flag of its aggregate on or off, and how it reads."""

    entity_type: str
    action: str
    flag: str
    value: bool
    """The flag's value after the event (before it, the opposite)."""


_SWITCHES: dict[type[OkrAggregate.Event], _Switch] = {
    Person.Deactivated: _Switch("person", "person deactivated", "active", False),
    Person.Reactivated: _Switch("person", "person reactivated", "active", True),
    AccessToken.Revoked: _Switch("token", "token revoked", "revoked", True),
    WebhookEndpoint.Disabled: _Switch(
        "webhook_endpoint", "webhook endpoint disabled", "enabled", False
    ),
    WebhookEndpoint.Reenabled: _Switch(
        "webhook_endpoint", "webhook endpoint re-enabled", "enabled", True
    ),
    ChatChannel.Disabled: _Switch("chat_channel", "chat channel disabled", "enabled", False),
    ChatChannel.Reenabled: _Switch("chat_channel", "chat channel re-enabled", "enabled", True),
}


def _switched(context: Context, e: OkrAggregate.Event, logged: Logged) -> Narration:
    switch = _SWITCHES[type(e)]
    before, after = {switch.flag: not switch.value}, {switch.flag: switch.value}
    return about_entity(switch.entity_type, e.originator_id, switch.action, before, after)


for _switching in _SWITCHES:
    _event(_switching)(_switched)


# ------------------------------------------------------------------- teams


def _team(logged: Logged, action: str, before: Json, after: Json) -> Narration:
    return about_entity("team", logged.event.originator_id, action, before, after)


@_event(Team.Formed)
def _formed(context: Context, e: Team.Formed, logged: Logged) -> Narration:
    under = f" under {_name(context, e.parent_id, '')}" if e.parent_id else ""
    return _team(
        logged,
        f"team {q(e.name)} formed{under}",
        {},
        {"name": e.name, "parent_id": _id(e.parent_id)},
    )


@_event(Team.Renamed)
def _team_renamed(context: Context, e: Team.Renamed, logged: Logged) -> Narration:
    old = context.names.get(e.originator_id, "")
    return _team(logged, f"team {q(old)} renamed to {q(e.name)}", {"name": old}, {"name": e.name})


@_event(Team.Moved)
def _team_moved(context: Context, e: Team.Moved, logged: Logged) -> Narration:
    link = context.tree.teams.get(e.originator_id)
    where = f"under {_name(context, e.parent_id, '')}" if e.parent_id else "to the top level"
    return _team(
        logged,
        f"team {_name(context, e.originator_id, '')} moved {where}",
        {"parent_id": _id(link.parent_id) if link else None},
        {"parent_id": _id(e.parent_id)},
    )


@_event(Team.MemberAdded)
def _member_added(context: Context, e: Team.MemberAdded, logged: Logged) -> Narration:
    return _team(
        logged,
        f"member added to team {_name(context, e.originator_id, '')} as {e.role}",
        {},
        {"person_id": str(e.person_id), "role": e.role},
    )


@_event(Team.MemberRoleChanged)
def _role_changed(context: Context, e: Team.MemberRoleChanged, logged: Logged) -> Narration:
    link = context.tree.teams.get(e.originator_id)
    old = link.members.get(e.person_id) if link else None
    return _team(
        logged,
        f"role in team {_name(context, e.originator_id, '')} changed from {old} to {e.role}",
        {"person_id": str(e.person_id), "role": old},
        {"person_id": str(e.person_id), "role": e.role},
    )


@_event(Team.MemberRemoved)
def _member_removed(context: Context, e: Team.MemberRemoved, logged: Logged) -> Narration:
    link = context.tree.teams.get(e.originator_id)
    return _team(
        logged,
        f"member removed from team {_name(context, e.originator_id, '')}",
        {"person_id": str(e.person_id), "role": link.members.get(e.person_id) if link else None},
        {},
    )


@_event(Team.Disbanded)
def _disbanded(context: Context, e: Team.Disbanded, logged: Logged) -> Narration:
    return _team(
        logged,
        f"team {_name(context, e.originator_id, '')} disbanded",
        {"disbanded": False},
        {"disbanded": True},
    )


# ------------------------------------------------------------------ cycles


def _about_cycle(e: Cycle.Event, action: str, before: Json, after: Json) -> Narration:
    """About a cycle: the cycle is the entity and the cycle named."""
    return Narration("cycle", e.originator_id, None, e.originator_id, None, action, before, after)


def _cycle(context: Context, e: Cycle.Event, logged: Logged, verb: str, phase: Phase) -> Narration:
    clock = context.tree.cycles.get(e.originator_id)
    return _about_cycle(
        e,
        verb.format(cycle=f"cycle {_name(context, e.originator_id, '')}"),
        {"phase": clock.phase if clock else None},
        {"phase": phase.value},
    )


@_event(Cycle.Planned)
def _planned(context: Context, e: Cycle.Planned, logged: Logged) -> Narration:
    return _about_cycle(
        e,
        f"cycle {q(e.name)} planned from {e.starts_on.isoformat()} to {e.ends_on.isoformat()}",
        {},
        {
            "name": e.name,
            "starts_on": e.starts_on.isoformat(),
            "ends_on": e.ends_on.isoformat(),
            "cadence": e.cadence,
            "scoring": e.scoring,
            "success_threshold": e.success_threshold,
            "phase": Phase.PLANNING.value,
        },
    )


_PHASE_SENTENCES: dict[type[Cycle.Event], str] = {
    Cycle.Started: "{cycle} started",
    Cycle.GradingOpened: "grading opened for {cycle}",
    Cycle.Closed: "{cycle} closed",
    Cycle.Reopened: "{cycle} reopened",
}
"""How each event of `PHASE_ENTERED` reads; the phase it enters is the one `PHASE_ENTERED` says."""


def _phase_entered(context: Context, e: Cycle.Event, logged: Logged) -> Narration:
    kind = type(e)
    return _cycle(context, e, logged, _PHASE_SENTENCES[kind], PHASE_ENTERED[kind])


for _entering in PHASE_ENTERED:
    _event(_entering)(_phase_entered)


# -------------------------------------------------------------- objectives


def about_objective(
    context: Context,
    e: Objective.Event,
    action: str,
    before: Json,
    after: Json,
    *,
    key_result_id: UUID | None = None,
    approver: str | None = None,
    cycle_id: UUID | None = None,
) -> Narration:
    node = context.tree.objectives.get(e.originator_id)
    return Narration(
        "objective",
        e.originator_id,
        e.originator_id,
        cycle_id or (node.cycle_id if node else None),
        key_result_id,
        action,
        before,
        after,
        approver,
    )


def _node(context: Context, e: Objective.Event) -> ObjectiveNode:
    return context.tree.objectives[e.originator_id]


def _kr(context: Context, e: Objective.Event, key_result_id: UUID) -> KeyResultNode:
    return context.tree.objectives[e.originator_id].key_results[key_result_id]


def _status(before: str, after: str) -> tuple[Json, Json]:
    return {"status": before}, {"status": after}


def _status_change(
    context: Context,
    e: Objective.Event,
    status: Status,
    action: str,
    approver: str | None = None,
    **after: str,
) -> Narration:
    """The objective moves to `status`; `action` names it as `{title}`; `after` adds values
    to the after side."""
    node = _node(context, e)
    old, new = _status(node.status, status.value)
    return about_objective(
        context, e, action.format(title=q(node.title)), old, new | after, approver=approver
    )


def _about_kr(
    context: Context,
    e: Objective.Event,
    key_result_id: UUID,
    action: str,
    before: Json | None,
    after: Json,
) -> Narration:
    """About one key result: its fields sit under `key_results` (`before` None: nothing)."""
    return about_objective(
        context,
        e,
        action,
        {} if before is None else kr_json(key_result_id, before),
        kr_json(key_result_id, after),
        key_result_id=key_result_id,
    )


def _parent_phrase(context: Context, parent_id: UUID | None, parent_kr_id: UUID | None) -> str:
    parent = context.tree.objectives.get(parent_id) if parent_id else None
    if parent is None:
        return ""
    kr = parent.key_results.get(parent_kr_id) if parent_kr_id else None
    if kr is not None:
        return f"key result {q(kr.title)} of {q(parent.title)}"
    return q(parent.title)


@_event(Objective.Drafted)
def _drafted(context: Context, e: Objective.Drafted, logged: Logged) -> Narration:
    action = f"objective {q(e.title)} drafted"
    if e.owner_team_id is not None:
        action += f" for team {_name(context, e.owner_team_id, '')}"
    aligned = _parent_phrase(context, e.parent_objective_id, e.parent_key_result_id)
    if aligned:
        action += f", aligned to {aligned}"
    predecessor = context.tree.objectives.get(e.carried_from) if e.carried_from else None
    if predecessor is not None:
        action += f", carried over from {q(predecessor.title)}"
    return about_objective(
        context,
        e,
        action,
        {},
        {
            "title": e.title,
            "description": e.description,
            "kind": e.kind,
            "perspective": e.perspective,
            "owner_team_id": _id(e.owner_team_id),
            "owner_person_id": _id(e.owner_person_id),
            "parent_objective_id": _id(e.parent_objective_id),
            "parent_key_result_id": _id(e.parent_key_result_id),
            "private": e.private,
            "carried_from": _id(e.carried_from),
            "status": Status.DRAFT.value,
        },
        cycle_id=e.cycle_id,
    )


@_event(Objective.Reworded)
def _reworded(context: Context, e: Objective.Reworded, logged: Logged) -> Narration:
    node = _node(context, e)
    before: Json = {}
    after: Json = {}
    parts = []
    if e.title != node.title:
        parts.append(f"objective {q(node.title)} renamed to {q(e.title)}")
        before["title"], after["title"] = node.title, e.title
    if e.description != node.description:
        parts.append(f"description of {q(e.title)} changed")
        before["description"], after["description"] = node.description, e.description
    action = " and ".join(parts) or f"objective {q(node.title)} reworded without change"
    return about_objective(context, e, action, before, after)


def _ids_restated(node: ObjectiveNode, e: Objective.Event, *names: str) -> tuple[Json, Json]:
    """Before/after values of ids an event restates (alignment, ownership): the node's and
    the event's."""
    return (
        {name: _id(getattr(node, name)) for name in names},
        {name: _id(getattr(e, name)) for name in names},
    )


@_event(Objective.Realigned)
def _realigned(context: Context, e: Objective.Realigned, logged: Logged) -> Narration:
    node = _node(context, e)
    target = _parent_phrase(context, e.parent_objective_id, e.parent_key_result_id)
    action = (
        f"{q(node.title)} realigned to {target}" if target else f"{q(node.title)} no longer aligned"
    )
    before, after = _ids_restated(node, e, "parent_objective_id", "parent_key_result_id")
    return about_objective(context, e, action, before, after)


@_event(Objective.Reassigned)
def _reassigned(context: Context, e: Objective.Reassigned, logged: Logged) -> Narration:
    node = _node(context, e)
    owner = f"team {_name(context, e.owner_team_id, '')}" if e.owner_team_id else "a person"
    before, after = _ids_restated(node, e, "owner_team_id", "owner_person_id")
    action = f"{q(node.title)} reassigned to {owner}"
    return about_objective(context, e, action, before, after)


@_event(Objective.Abandoned)
def _abandoned(context: Context, e: Objective.Abandoned, logged: Logged) -> Narration:
    return _status_change(context, e, Status.ABANDONED, "{title} abandoned")


@_event(Objective.KeyResultAdded)
def _kr_added(context: Context, e: Objective.KeyResultAdded, logged: Logged) -> Narration:
    node = _node(context, e)
    after = {
        "title": e.title,
        "measure": e.measure,
        "baseline": e.baseline,
        "target": e.target,
        "unit": e.unit,
        "direction": e.direction,
        "weight": e.weight,
    }
    action = f"key result {q(e.title)} added to {q(node.title)}"
    return _about_kr(context, e, e.key_result_id, action, None, after)


@_event(Objective.KeyResultReworded)
def _kr_reworded(context: Context, e: Objective.KeyResultReworded, logged: Logged) -> Narration:
    kr = _kr(context, e, e.key_result_id)
    action = f"key result {q(kr.title)} renamed to {q(e.title)}"
    return _about_kr(context, e, e.key_result_id, action, {"title": kr.title}, {"title": e.title})


@_event(Objective.KeyResultRetargeted)
def _kr_retargeted(context: Context, e: Objective.KeyResultRetargeted, logged: Logged) -> Narration:
    kr = _kr(context, e, e.key_result_id)
    old: Json = {}
    new: Json = {}
    parts = []
    for name, value in (("target", e.target), ("baseline", e.baseline)):
        if getattr(kr, name) != value:
            parts.append(
                f"{name} of {q(kr.title)} changed from {number(getattr(kr, name))}"
                f" to {number(value)}"
            )
            old[name], new[name] = getattr(kr, name), value
    action = " and ".join(parts) or f"key result {q(kr.title)} retargeted without change"
    return _about_kr(context, e, e.key_result_id, action, old, new)


@_event(Objective.KeyResultReweighted)
def _kr_reweighted(context: Context, e: Objective.KeyResultReweighted, logged: Logged) -> Narration:
    kr = _kr(context, e, e.key_result_id)
    action = f"weight of {q(kr.title)} changed from {number(kr.weight)} to {number(e.weight)}"
    return _about_kr(
        context, e, e.key_result_id, action, {"weight": kr.weight}, {"weight": e.weight}
    )


@_event(Objective.KeyResultRemoved)
def _kr_removed(context: Context, e: Objective.KeyResultRemoved, logged: Logged) -> Narration:
    node, kr = _node(context, e), _kr(context, e, e.key_result_id)
    action = f"key result {q(kr.title)} removed from {q(node.title)}"
    return _about_kr(context, e, e.key_result_id, action, {"removed": False}, {"removed": True})


@_event(Objective.SubmittedForApproval)
def _submitted(context: Context, e: Objective.SubmittedForApproval, logged: Logged) -> Narration:
    return _status_change(
        context,
        e,
        Status.IN_REVIEW,
        "{title} submitted for approval",
        approver_id=str(e.approver_id),
    )


@_event(Objective.ChangesRequested)
def _changes_requested(
    context: Context, e: Objective.ChangesRequested, logged: Logged
) -> Narration:
    return _status_change(
        context, e, Status.CHANGES_REQUESTED, "changes requested on {title}", comment=e.comment
    )


@_event(Objective.CounterProposalDeclined)
def _counter_declined(
    context: Context, e: Objective.CounterProposalDeclined, logged: Logged
) -> Narration:
    node = _node(context, e)
    before, after = _status(Status.COUNTERED.value, Status.DRAFT.value)
    return about_objective(
        context, e, f"counter-proposal on {q(node.title)} declined", before, after
    )


@_event(Objective.Approved)
def _approved(context: Context, e: Objective.Approved, logged: Logged) -> Narration:
    return _status_change(context, e, Status.APPROVED, "{title} approved", approver=e.actor)


@_event(Objective.Withdrawn)
def _withdrawn(context: Context, e: Objective.Withdrawn, logged: Logged) -> Narration:
    return _status_change(context, e, Status.DRAFT, "{title} withdrawn from review")


@dataclass(frozen=True)
class _ChangeSetPhrasing:
    """How a change set (a counter-proposal, an amendment) proposed or agreed reads: `action`
    names it as `{title}`, followed by the phrases of its changes."""

    action: str
    applied: bool
    status: Status | None = None
    """The status the objective moves to, if it moves."""
    approver: str | None = None
    """The event's field that names who approved, for a change set agreed."""
    noted: str | None = None
    """The event's field the after side adds (the counter-proposal's comment, the amendment)."""


_CHANGE_SETS: dict[type[Objective.Event], _ChangeSetPhrasing] = {
    Objective.CounterProposed: _ChangeSetPhrasing(
        "counter-proposal on {title}", applied=False, status=Status.COUNTERED, noted="comment"
    ),
    Objective.CounterProposalAccepted: _ChangeSetPhrasing(
        "counter-proposal on {title} accepted",
        applied=True,
        status=Status.APPROVED,
        approver="approved_by",
    ),
    Objective.AmendmentProposed: _ChangeSetPhrasing(
        "amendment proposed to {title}", applied=False, noted="amendment_id"
    ),
    Objective.AmendmentApproved: _ChangeSetPhrasing(
        "amendment to {title} approved", applied=True, approver="actor", noted="amendment_id"
    ),
}


def _change_set(context: Context, e: Any, logged: Logged) -> Narration:
    """The phraser of the events in `_CHANGE_SETS`."""
    phrasing = _CHANGE_SETS[type(e)]
    node = _node(context, e)
    phrases, before, after = describe_changes(node, e.changes, applied=phrasing.applied)
    if phrasing.status is not None:
        before["status"], after["status"] = node.status, phrasing.status.value
    if phrasing.noted is not None:
        after[phrasing.noted] = str(getattr(e, phrasing.noted))
    action = phrasing.action.format(title=q(node.title)) + ": " + "; ".join(phrases)
    approver = getattr(e, phrasing.approver) if phrasing.approver else None
    return about_objective(context, e, action, before, after, approver=approver)


for _changes_event in _CHANGE_SETS:
    _event(_changes_event)(_change_set)


@_event(Objective.AmendmentRejected)
def _amendment_rejected(
    context: Context, e: Objective.AmendmentRejected, logged: Logged
) -> Narration:
    node = _node(context, e)
    phrases, _, proposed = describe_changes(node, node.pending_amendment_changes, applied=False)
    action = f"amendment to {q(node.title)} rejected"
    if phrases:
        action += ": " + "; ".join(phrases)
    return about_objective(
        context,
        e,
        action,
        {"amendment_id": str(e.amendment_id), "proposed": proposed},
        {"amendment_id": str(e.amendment_id), "rejected": True},
    )


def _on_day(effective_on: date) -> str:
    return effective_on.isoformat()


def check_in_action(title: str, value: float, confidence: int, day: str) -> str:
    """How a check-in reads: a fixed template over its key result's title as it stood then,
    the value, the confidence and the day (ISO). The stored views keep only these values and
    render the sentence when a row is read (`infra.views.queries`)."""
    return f"check-in on '{title}': {number(value)} (confidence {confidence}) for {day}"


def check_in_after(check_in_id: str, value: float, confidence: int, note: str, day: str) -> Json:
    """A check-in's after side (its before side is empty)."""
    return {
        "check_in_id": check_in_id,
        "value": value,
        "confidence": confidence,
        "note": note,
        "effective_on": day,
    }


@_event(Objective.ProgressReported, objective_local=True)
def _progress(context: Context, e: Objective.ProgressReported, logged: Logged) -> Narration:
    # Three events in four are check-ins: `_kr`, `_on_day`, `q` and `about_objective` written out (one
    # look-up of the objective, the day formatted once), as `about_objective` would
    # phrase it.
    node = context.tree.objectives[e.originator_id]
    title = node.key_results[e.key_result_id].title
    day = e.effective_on.isoformat()
    return Narration(
        "objective",
        e.originator_id,
        e.originator_id,
        node.cycle_id,
        e.key_result_id,
        check_in_action(title, e.value, e.confidence, day),
        {},
        check_in_after(str(e.check_in_id), e.value, e.confidence, e.note, day),
    )


def _check_in_json(check_in: CheckInPoint | Objective.CheckInCorrected) -> Json:
    return {
        "check_in_id": str(check_in.check_in_id),
        "value": check_in.value,
        "confidence": check_in.confidence,
        "note": check_in.note,
    }


@_event(Objective.CheckInCorrected, objective_local=True)
def _corrected(context: Context, e: Objective.CheckInCorrected, logged: Logged) -> Narration:
    kr = _kr(context, e, e.key_result_id)
    # From the end: a correction is usually of a recent check-in (ids are unique).
    old = next((c for c in reversed(kr.live_check_ins) if c.check_in_id == e.supersedes), None)
    action = f"check-in on {q(kr.title)} for {_on_day(e.effective_on)} corrected"
    if old is not None:
        action += f" from {number(old.value)} to {number(e.value)}"
        if old.confidence != e.confidence:
            action += f", confidence from {old.confidence} to {e.confidence}"
    before = _check_in_json(old) if old is not None else {"check_in_id": str(e.supersedes)}
    after = _check_in_json(e)
    return about_objective(context, e, action, before, after, key_result_id=e.key_result_id)


def _achieved(achieved: bool | None) -> str:
    return "achieved" if achieved else "not achieved"


@_event(Objective.KeyResultGraded, objective_local=True)
def _kr_graded(context: Context, e: Objective.KeyResultGraded, logged: Logged) -> Narration:
    kr = _kr(context, e, e.key_result_id)
    if kr.score is None:
        action = f"{q(kr.title)} graded {number(e.score)} ({_achieved(e.achieved)})"
        before: Json | None = None
    else:
        action = (
            f"{q(kr.title)} regraded from {number(kr.score)} to {number(e.score)}"
            f" ({_achieved(e.achieved)})"
        )
        before = {"score": kr.score, "achieved": kr.achieved}
    after = {"score": e.score, "achieved": e.achieved, "suggested_score": e.suggested_score}
    return _about_kr(context, e, e.key_result_id, action, before, after)


@_event(Objective.Graded, objective_local=True)
def _graded(context: Context, e: Objective.Graded, logged: Logged) -> Narration:
    node = _node(context, e)
    if not e.explicit:
        action = f"{q(node.title)} graded {number(e.score)} (weighted mean of its key results)"
        before = {"score": node.score}
    elif node.explicit_score is None:
        action, before = f"{q(node.title)} graded {number(e.score)}", {"score": node.score}
    else:
        action = f"{q(node.title)} regraded from {number(node.explicit_score)} to {number(e.score)}"
        before = {"score": node.explicit_score}
    return about_objective(context, e, action, before, {"score": e.score})


@_event(Objective.Reflected, objective_local=True)
def _reflected(context: Context, e: Objective.Reflected, logged: Logged) -> Narration:
    node = _node(context, e)
    return about_objective(context, e, f"reflection written on {q(node.title)}", {}, {})


@_event(Objective.KeyResultSourceAttached, ignored_by=("inbox", "staleness"))
def _source_attached(
    context: Context, e: Objective.KeyResultSourceAttached, logged: Logged
) -> Narration:
    after = {"source_id": str(e.source_id), "source": e.source}
    return _source_change(context, e, f"follows a data source: {describe(e.source)}", after)


@_event(Objective.KeyResultSourceDetached, ignored_by=("inbox", "staleness"))
def _source_detached(
    context: Context, e: Objective.KeyResultSourceDetached, logged: Logged
) -> Narration:
    return _source_change(context, e, "no longer follows its data source", {"source_id": None})


def _source_change(
    context: Context,
    e: Objective.KeyResultSourceAttached | Objective.KeyResultSourceDetached,
    follows: str,
    after: Json,
) -> Narration:
    """A key result attached to a data source or detached from it: `follows` says which."""
    kr = _kr(context, e, e.key_result_id)
    action = f"key result {q(kr.title)} {follows}"
    before = {"source_id": _id(kr.source_id)}
    return about_objective(context, e, action, before, after, key_result_id=e.key_result_id)


@_event(Objective.CarriedOver)
def _carried_over(context: Context, e: Objective.CarriedOver, logged: Logged) -> Narration:
    node = _node(context, e)
    action = f"{q(node.title)} carried over to cycle {_name(context, e.to_cycle_id, '')}"
    after = {"to_cycle_id": str(e.to_cycle_id), "successor_id": str(e.successor_id)}
    return about_objective(context, e, action, {}, after)

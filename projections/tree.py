"""The alignment tree of each cycle: objectives, their key results, progress, health and scores.

The state mirrors what `domain.objective.Objective` derives from the same events (status, key
result definitions, the check-in in force, grades), and adds what only the read side needs:
progress, health and the nesting of objectives by alignment.

Health compares progress with the share of the cycle gone by. A fold has no clock, so "today" is
the date of the latest event applied (`state.cursor.now`): the tree as of position N shows health
as it looked right after event N.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final, Literal
from uuid import UUID

from domain.access import AccessToken
from domain.channel import ChatChannel
from domain.cycle import Cycle, Phase
from domain.initiative import Initiative
from domain.kpi import Kpi
from domain.objective import NEGOTIABLE_FIELDS, Objective, Status
from domain.person import Person
from domain.quality import QualityPolicy
from domain.scoring import ScoredObjective, health, progress, weighted_mean
from domain.strategy import Strategy
from domain.team import Team
from domain.webhook import WebhookEndpoint
from projections import codec
from projections.base import DataclassFold, FoldState, Handlers, Logged, fields_of
from projections.changes import (
    AddedKeyResult,
    added_key_results,
    edited_key_results,
    removed_key_results,
)

ALL: Final = "all"
"""`include_private_for=ALL`: show every private objective (auditors and admins)."""

Viewer = UUID | Literal["all"] | None


# ------------------------------------------------------------------ state


@dataclass(frozen=True, slots=True)
class CheckInPoint:
    """A live (not superseded) check-in, as far as the tree needs it. Slotted: the tree keeps
    one per live check-in (833k at 1M events), and a `__dict__` each cost about 150 MB."""

    check_in_id: UUID
    effective_on: date
    timestamp: datetime
    """The event's own time: with `effective_on`, it orders check-ins as the aggregate does."""
    value: float
    confidence: int
    note: str

    def order(self) -> tuple[date, datetime]:
        return (self.effective_on, self.timestamp)


@dataclass
class KeyResultDefinition:
    """What defines a key result now: the fields its node in the tree and its view share."""

    key_result_id: UUID
    lineage_id: UUID
    title: str
    measure: str
    baseline: float | None
    target: float | None
    unit: str
    direction: str
    weight: float


@dataclass
class KeyResultNode(KeyResultDefinition):
    removed: bool = False
    live_check_ins: list[CheckInPoint] = field(default_factory=list)
    current: CheckInPoint | None = None
    """The check-in in force: the latest effective one, the first recorded on a tie."""
    score: float | None = None
    achieved: bool | None = None
    grade_comment: str = ""
    kpi_id: UUID | None = None
    """The KPI the key result takes its check-ins from, if linked."""
    source_id: UUID | None = None
    """The data source the key result follows, if any (its check-ins' actor is the source)."""
    source_kind: str = ""
    """That source's kind: sql, http_json or csv."""

    @property
    def progress(self) -> float:
        return progress(
            self.measure,
            self.direction,
            self.baseline,
            self.target,
            self.current.value if self.current else None,
        )


@dataclass
class DraftedObjective:
    """What an objective's node takes from its `Objective.Drafted` event (its id, cycle and place
    in the log, and the fields the event sets, which later events restate)."""

    objective_id: UUID
    cycle_id: UUID
    drafted_position: int
    owner_team_id: UUID | None
    owner_person_id: UUID | None
    title: str
    description: str
    kind: str
    perspective: str | None
    parent_objective_id: UUID | None
    parent_key_result_id: UUID | None
    private: bool
    carried_from: UUID | None


@dataclass
class ObjectiveNode(DraftedObjective, ScoredObjective):
    status: str = Status.DRAFT.value
    submitted_by: str | None = None
    approver_id: UUID | None = None
    approved_by: str | None = None
    approved_on: date | None = None
    counter_proposed_by: str | None = None
    pending_amendment_id: UUID | None = None
    pending_amendment_changes: dict[str, Any] = field(default_factory=dict)
    explicit_score: float | None = None
    grade_comment: str = ""
    reflected: bool = False
    carried_to: UUID | None = None
    key_results: dict[UUID, KeyResultNode] = field(default_factory=dict)
    theme_id: UUID | None = None
    """The strategic theme the objective is tagged with."""

    @property
    def live_key_results(self) -> list[KeyResultNode]:
        return [kr for kr in self.key_results.values() if not kr.removed]

    @property
    def key_result_grades(self) -> list[tuple[float | None, float]]:
        return [(kr.score, kr.weight) for kr in self.live_key_results]

    @property
    def progress(self) -> float | None:
        return weighted_mean((kr.progress, kr.weight) for kr in self.live_key_results)

    @property
    def state(self) -> str:
        """The status a person sees: the domain status, refined by grades and open amendments."""
        if self.status == Status.ABANDONED.value:
            return Status.ABANDONED.value
        if self.score is not None:
            return "graded"
        if self.pending_amendment_id is not None:
            return "amendment_pending"
        return self.status


@dataclass
class CycleClock:
    """What the tree needs of a cycle: its dates for health, its phase."""

    starts_on: date
    ends_on: date
    cadence: str
    success_threshold: float
    phase: str = Phase.PLANNING.value

    def elapsed_share(self, today: date) -> float:
        """As `domain.cycle.Cycle.elapsed_share`."""
        total = (self.ends_on - self.starts_on).days
        return min(1.0, max(0.0, (today - self.starts_on).days / total)) if total else 1.0


@dataclass
class TeamLink:
    """Team structure without names: enough to order owners and to filter by team."""

    parent_id: UUID | None
    members: dict[UUID, str] = field(default_factory=dict)
    """Person id → role, in joining order."""


@dataclass
class TreeState(FoldState):
    cycles: dict[UUID, CycleClock] = field(default_factory=dict)
    teams: dict[UUID, TeamLink] = field(default_factory=dict)
    objectives: dict[UUID, ObjectiveNode] = field(default_factory=dict)
    cycle_objectives: dict[UUID, list[UUID]] = field(default_factory=dict)
    """Cycle id → its objectives' ids in drafting order."""


_on: Handlers[TreeState] = Handlers()


class TreeFold(DataclassFold[TreeState]):
    name = "tree"
    version = 2  # 2: strategic themes on objectives, KPIs on key results
    state_type = TreeState
    handlers = _on
    ignores = (
        Team.Renamed,  # teams are named by the directory
        Team.Disbanded,
        Person,
        AccessToken,
        Strategy,  # the strategy layer has its own fold; objectives keep only its ids
        Kpi,
        Initiative,
        QualityPolicy,
        WebhookEndpoint,  # outbound delivery settings, not OKRs
        ChatChannel,
    )


# ------------------------------------------------------- teams and cycles


@_on.on(Team.Formed)
def _team_formed(state: TreeState, e: Team.Formed, logged: Logged) -> None:
    state.teams[e.originator_id] = TeamLink(parent_id=e.parent_id)


def _team(state: TreeState, e: Team.Event) -> TeamLink:
    return state.teams[e.originator_id]


_on.restates(Team.Moved, _team, "parent_id")


def _member_role(
    state: TreeState, e: Team.MemberAdded | Team.MemberRoleChanged, logged: Logged
) -> None:
    """A member joins with a role, or takes another one."""
    state.teams[e.originator_id].members[e.person_id] = e.role


_on.on(Team.MemberAdded)(_member_role)
_on.on(Team.MemberRoleChanged)(_member_role)


@_on.on(Team.MemberRemoved)
def _member_removed(state: TreeState, e: Team.MemberRemoved, logged: Logged) -> None:
    state.teams[e.originator_id].members.pop(e.person_id, None)


@_on.on(Cycle.Planned)
def _cycle_planned(state: TreeState, e: Cycle.Planned, logged: Logged) -> None:
    state.cycles[e.originator_id] = CycleClock(
        e.starts_on, e.ends_on, e.cadence, e.success_threshold
    )
    state.cycle_objectives.setdefault(e.originator_id, [])


def _enter_phase(state: TreeState, e: Cycle.Event, logged: Logged, phase: Phase) -> None:
    state.cycles[e.originator_id].phase = phase.value


_on.on_phase_entered(_enter_phase)


# ------------------------------------------------------------- objectives


def _objective(state: TreeState, e: Objective.Event) -> ObjectiveNode:
    return state.objectives[e.originator_id]


def _added(defined: Objective.KeyResultAdded | AddedKeyResult) -> KeyResultNode:
    """A key result as it is added, by its own event or by an agreed change set."""
    return KeyResultNode(**fields_of(KeyResultDefinition, defined))


def apply_changes(node: ObjectiveNode, changes: dict[str, Any]) -> None:
    """Apply a normalised change set (accepted counter-proposal, approved amendment)."""
    if "title" in changes:
        node.title = changes["title"]
    if "description" in changes:
        node.description = changes["description"]
    for kr_id, edits in edited_key_results(changes).items():
        kr = node.key_results[kr_id]
        for name in NEGOTIABLE_FIELDS:
            if name in edits:
                setattr(kr, name, edits[name])
    for added in added_key_results(changes):
        node.key_results[added.key_result_id] = _added(added)
    for kr_id in removed_key_results(changes):
        node.key_results[kr_id].removed = True


@_on.on(Objective.Drafted)
def _drafted(state: TreeState, e: Objective.Drafted, logged: Logged) -> None:
    state.objectives[e.originator_id] = ObjectiveNode(
        **fields_of(
            DraftedObjective, e, objective_id=e.originator_id, drafted_position=logged.position
        )
    )
    state.cycle_objectives.setdefault(e.cycle_id, []).append(e.originator_id)


def _key_result(state: TreeState, e: Any) -> KeyResultNode:
    return state.objectives[e.originator_id].key_results[e.key_result_id]


_on.restates(Objective.Reworded, _objective, "title", "description")
_on.restates(Objective.Realigned, _objective, "parent_objective_id", "parent_key_result_id")
_on.restates(Objective.Reassigned, _objective, "owner_team_id", "owner_person_id")
_on.restates(Objective.Themed, _objective, "theme_id")
_on.restates(Objective.KeyResultReworded, _key_result, "title")
_on.restates(Objective.KeyResultRetargeted, _key_result, "baseline", "target")
_on.restates(Objective.KeyResultReweighted, _key_result, "weight")
_on.restates(Objective.KeyResultLinkedToKpi, _key_result, "kpi_id")


@_on.on(Objective.Abandoned)
def _abandoned(state: TreeState, e: Objective.Abandoned, logged: Logged) -> None:
    _objective(state, e).status = Status.ABANDONED.value


@_on.on(Objective.KeyResultAdded)
def _kr_added(state: TreeState, e: Objective.KeyResultAdded, logged: Logged) -> None:
    _objective(state, e).key_results[e.key_result_id] = _added(e)


@_on.on(Objective.KeyResultRemoved)
def _kr_removed(state: TreeState, e: Objective.KeyResultRemoved, logged: Logged) -> None:
    node = _objective(state, e)
    node.key_results[e.key_result_id].removed = True


@_on.on(Objective.SubmittedForApproval)
def _submitted(state: TreeState, e: Objective.SubmittedForApproval, logged: Logged) -> None:
    node = _objective(state, e)
    node.status = Status.IN_REVIEW.value
    node.submitted_by = e.actor
    node.approver_id = e.approver_id
    node.counter_proposed_by = None


@_on.on(Objective.ChangesRequested)
def _changes_requested(state: TreeState, e: Objective.ChangesRequested, logged: Logged) -> None:
    _objective(state, e).status = Status.CHANGES_REQUESTED.value


@_on.on(Objective.CounterProposed)
def _countered(state: TreeState, e: Objective.CounterProposed, logged: Logged) -> None:
    node = _objective(state, e)
    node.status = Status.COUNTERED.value
    node.counter_proposed_by = e.actor


@_on.on(Objective.CounterProposalDeclined)
def _counter_declined(
    state: TreeState, e: Objective.CounterProposalDeclined, logged: Logged
) -> None:
    node = _objective(state, e)
    node.status = Status.DRAFT.value
    node.counter_proposed_by = None


@_on.on(Objective.CounterProposalAccepted)
def _counter_accepted(
    state: TreeState, e: Objective.CounterProposalAccepted, logged: Logged
) -> None:
    node = _objective(state, e)
    apply_changes(node, e.changes)
    node.counter_proposed_by = None
    _approve(node, e.approved_by, logged)


@_on.on(Objective.Approved)
def _approved(state: TreeState, e: Objective.Approved, logged: Logged) -> None:
    _approve(_objective(state, e), e.actor, logged)


def _approve(node: ObjectiveNode, by: str, logged: Logged) -> None:
    """The objective is approved by `by` (as is, or with a counter-proposal's changes)."""
    node.status = Status.APPROVED.value
    node.approved_by = by
    node.approved_on = logged.recorded_at.date()


@_on.on(Objective.Withdrawn)
def _withdrawn(state: TreeState, e: Objective.Withdrawn, logged: Logged) -> None:
    node = _objective(state, e)
    node.status = Status.DRAFT.value
    node.approver_id = None
    node.counter_proposed_by = None


@_on.on(Objective.AmendmentProposed)
def _amendment_proposed(state: TreeState, e: Objective.AmendmentProposed, logged: Logged) -> None:
    node = _objective(state, e)
    node.pending_amendment_id = e.amendment_id
    node.pending_amendment_changes = e.changes


@_on.on(Objective.AmendmentApproved)
def _amendment_approved(state: TreeState, e: Objective.AmendmentApproved, logged: Logged) -> None:
    node = _objective(state, e)
    apply_changes(node, e.changes)
    _settled(node)


@_on.on(Objective.AmendmentRejected)
def _amendment_rejected(state: TreeState, e: Objective.AmendmentRejected, logged: Logged) -> None:
    _settled(_objective(state, e))


def _settled(node: ObjectiveNode) -> None:
    """The pending amendment was approved (its changes applied) or rejected: none is pending."""
    node.pending_amendment_id = None
    node.pending_amendment_changes = {}


def _point(e: Objective.ProgressReported | Objective.CheckInCorrected) -> CheckInPoint:
    """The event's `CheckInPoint`."""
    return CheckInPoint(e.check_in_id, e.effective_on, e.timestamp, e.value, e.confidence, e.note)


@_on.on(Objective.ProgressReported)
def _progress_reported(state: TreeState, e: Objective.ProgressReported, logged: Logged) -> None:
    kr = _objective(state, e).key_results[e.key_result_id]
    point = _point(e)
    kr.live_check_ins.append(point)
    if kr.current is None or point.order() > kr.current.order():
        kr.current = point


@_on.on(Objective.CheckInCorrected)
def _check_in_corrected(state: TreeState, e: Objective.CheckInCorrected, logged: Logged) -> None:
    kr = _objective(state, e).key_results[e.key_result_id]
    kr.live_check_ins = [c for c in kr.live_check_ins if c.check_in_id != e.supersedes]
    kr.live_check_ins.append(_point(e))
    # max() keeps the first of equal keys, as the aggregate's `KeyResult.current` does.
    kr.current = max(kr.live_check_ins, key=CheckInPoint.order)


@_on.on(Objective.KeyResultGraded)
def _kr_graded(state: TreeState, e: Objective.KeyResultGraded, logged: Logged) -> None:
    kr = _objective(state, e).key_results[e.key_result_id]
    kr.score, kr.achieved, kr.grade_comment = e.score, e.achieved, e.comment


@_on.on(Objective.Graded)
def _graded(state: TreeState, e: Objective.Graded, logged: Logged) -> None:
    node = _objective(state, e)
    node.explicit_score = e.score if e.explicit else None
    node.grade_comment = e.comment


@_on.on(Objective.Reflected)
def _reflected(state: TreeState, e: Objective.Reflected, logged: Logged) -> None:
    _objective(state, e).reflected = True


@_on.on(Objective.CarriedOver)
def _carried_over(state: TreeState, e: Objective.CarriedOver, logged: Logged) -> None:
    _objective(state, e).carried_to = e.successor_id


@_on.on(Objective.KeyResultUnlinkedFromKpi)
def _kpi_unlinked(state: TreeState, e: Objective.KeyResultUnlinkedFromKpi, logged: Logged) -> None:
    _objective(state, e).key_results[e.key_result_id].kpi_id = None


@_on.on(Objective.KeyResultSourceAttached)
def _source_attached(
    state: TreeState, e: Objective.KeyResultSourceAttached, logged: Logged
) -> None:
    kr = _objective(state, e).key_results[e.key_result_id]
    kr.source_id, kr.source_kind = e.source_id, str(e.source.get("kind", ""))


@_on.on(Objective.KeyResultSourceDetached)
def _source_detached(
    state: TreeState, e: Objective.KeyResultSourceDetached, logged: Logged
) -> None:
    kr = _objective(state, e).key_results[e.key_result_id]
    kr.source_id, kr.source_kind = None, ""


# ------------------------------------------------------------------ views


@dataclass
class KeyResultView(KeyResultDefinition):
    """A key result as the tree shows it. Not `frozen`, as its definition is the node's (a value
    all the same: nothing changes it)."""

    current_value: float | None
    current_effective_on: date | None
    confidence: int | None
    """Confidence of the check-in in force."""
    progress: float
    health: str | None
    """None until the objective is approved and its cycle has started."""
    score: float | None
    achieved: bool | None
    kpi_id: UUID | None = None


@dataclass(frozen=True)
class ObjectiveView:
    objective_id: UUID
    cycle_id: UUID
    title: str
    description: str
    kind: str
    perspective: str | None
    owner_team_id: UUID | None
    owner_person_id: UUID | None
    parent_objective_id: UUID | None
    parent_key_result_id: UUID | None
    private: bool
    status: str
    """The domain status: draft, in_review, changes_requested, countered, approved, abandoned."""
    state: str
    """The status shown: the domain status, or `amendment_pending` or `graded`."""
    approver_id: UUID | None
    progress: float | None
    score: float | None
    health: str | None
    """Health of the weighted progress against time, with the lowest live confidence."""
    carried_from: UUID | None
    carried_to: UUID | None
    key_results: tuple[KeyResultView, ...]
    children: tuple[ObjectiveView, ...] = ()
    """Objectives aligned to this one or to one of its key results (see parent_key_result_id)."""
    theme_id: UUID | None = None


def today(state: TreeState) -> date | None:
    """The fold's today: the date of the latest event applied."""
    return state.cursor.now.date() if state.cursor.now else None


def _elapsed(state: TreeState, node: ObjectiveNode) -> float | None:
    """Share of the cycle gone by, when health makes sense (approved, cycle under way)."""
    cycle = state.cycles.get(node.cycle_id)
    now = today(state)
    if (
        cycle is None
        or now is None
        or node.status != Status.APPROVED.value
        or cycle.phase == Phase.PLANNING.value
    ):
        return None
    return cycle.elapsed_share(now)


def _key_result_view(kr: KeyResultNode, elapsed: float | None) -> KeyResultView:
    current = kr.current
    kr_progress = kr.progress
    return KeyResultView(  # by name, not `fields_of`: a tree read makes one per key result
        key_result_id=kr.key_result_id,
        lineage_id=kr.lineage_id,
        title=kr.title,
        measure=kr.measure,
        baseline=kr.baseline,
        target=kr.target,
        unit=kr.unit,
        direction=kr.direction,
        weight=kr.weight,
        current_value=current.value if current else None,
        current_effective_on=current.effective_on if current else None,
        confidence=current.confidence if current else None,
        progress=kr_progress,
        health=None
        if elapsed is None
        else health(kr_progress, elapsed, current.confidence if current else None).value,
        score=kr.score,
        achieved=kr.achieved,
        kpi_id=kr.kpi_id,
    )


def objective_view(
    state: TreeState, objective_id: UUID, children: tuple[ObjectiveView, ...] = ()
) -> ObjectiveView:
    """One objective as the tree shows it (without nesting unless `children` are given)."""
    node = state.objectives[objective_id]
    elapsed = _elapsed(state, node)
    live = node.live_key_results
    node_progress = node.progress
    confidences = [kr.current.confidence for kr in live if kr.current is not None]
    return ObjectiveView(
        objective_id=node.objective_id,
        cycle_id=node.cycle_id,
        title=node.title,
        description=node.description,
        kind=node.kind,
        perspective=node.perspective,
        owner_team_id=node.owner_team_id,
        owner_person_id=node.owner_person_id,
        parent_objective_id=node.parent_objective_id,
        parent_key_result_id=node.parent_key_result_id,
        private=node.private,
        status=node.status,
        state=node.state,
        approver_id=node.approver_id,
        progress=node_progress,
        score=node.score,
        health=None
        if elapsed is None or node_progress is None
        else health(node_progress, elapsed, min(confidences, default=None)).value,
        carried_from=node.carried_from,
        carried_to=node.carried_to,
        key_results=tuple(_key_result_view(kr, elapsed) for kr in live),
        children=children,
        theme_id=node.theme_id,
    )


def team_scope(state: TreeState, team_id: UUID) -> set[UUID]:
    """`team_id` and every team below it."""
    scope = {team_id}
    grew = True
    while grew:
        below = {t for t, link in state.teams.items() if link.parent_id in scope}
        grew = not below <= scope
        scope |= below
    return scope


def _depth(state: TreeState, team_id: UUID) -> int:
    depth, parent = 0, state.teams[team_id].parent_id if team_id in state.teams else None
    while parent is not None and parent in state.teams and depth < 100:
        depth, parent = depth + 1, state.teams[parent].parent_id
    return depth


def may_see(state: TreeState, node: ObjectiveNode, viewer: Viewer) -> bool:
    """Private objectives show to their owner, owning team, submitter and approver (or ALL)."""
    if not node.private or viewer == ALL:
        return True
    if viewer is None:
        return False
    team = state.teams.get(node.owner_team_id) if node.owner_team_id else None
    return (
        viewer in (node.owner_person_id, node.approver_id)
        or node.submitted_by == str(viewer)
        or (team is not None and viewer in team.members)
    )


def tree(
    state: TreeState,
    cycle_id: UUID,
    team_id: UUID | None = None,
    include_private_for: Viewer = None,
) -> list[ObjectiveView]:
    """The cycle's objectives nested by alignment: company → teams → people.

    Roots are objectives without a parent, or whose parent is not shown (private, or outside
    the team filter). Siblings are ordered by owner (teams by depth, then people), then by
    drafting order. `team_id` keeps objectives owned by that team, its sub-teams or their
    members. Abandoned objectives stay, with state `abandoned`.
    """
    shown = [
        state.objectives[o]
        for o in state.cycle_objectives.get(cycle_id, [])
        if may_see(state, state.objectives[o], include_private_for)
    ]
    if team_id is not None:
        teams = team_scope(state, team_id)
        members = {p for t in teams if t in state.teams for p in state.teams[t].members}
        shown = [n for n in shown if n.owner_team_id in teams or n.owner_person_id in members]

    def rank(node: ObjectiveNode) -> tuple[int, int]:
        level = _depth(state, node.owner_team_id) if node.owner_team_id else 10_000
        return (level, node.drafted_position)

    ids = {n.objective_id for n in shown}
    children: dict[UUID | None, list[ObjectiveNode]] = {}
    for node in sorted(shown, key=rank):
        parent = node.parent_objective_id if node.parent_objective_id in ids else None
        children.setdefault(parent, []).append(node)

    placed: set[UUID] = set()

    def build(node: ObjectiveNode) -> ObjectiveView:
        placed.add(node.objective_id)
        below = tuple(
            build(c) for c in children.get(node.objective_id, []) if c.objective_id not in placed
        )
        return objective_view(state, node.objective_id, below)

    roots = [build(n) for n in children.get(None, [])]
    # Two objectives aligned to each other form a loop with no root: show each loop from its
    # first objective rather than losing it.
    for node in sorted(shown, key=rank):
        if node.objective_id not in placed:
            roots.append(build(node))
    return roots


def as_json(view: ObjectiveView | KeyResultView) -> dict[str, Any]:
    dumped: dict[str, Any] = codec.dump(view)
    return dumped

"""Cycle comparison: per cycle and owning team (and the whole organisation), how the quarter went.

Built on the alignment tree's state plus two tallies the tree does not keep: amendments (and
whether each moved a target easier or harder) and check-ins per key result.

Which objectives count: approved ones that were not abandoned. A person-owned objective counts
for every team the person belongs to (as of the fold's position); the organisation row counts
each objective once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any
from uuid import UUID

from domain.cycle import Phase
from domain.objective import Kind, Objective, Status
from domain.scoring import Direction
from projections.base import DataclassFold, FoldState, Logged
from projections.changes import edited_key_results
from projections.staleness import days_without_check_in, is_stale
from projections.tree import CycleClock, ObjectiveNode, TreeFold, TreeState, today


@dataclass
class AmendmentTally:
    proposed: int = 0
    approved: int = 0
    rejected: int = 0
    targets_eased: int = 0
    targets_raised: int = 0


@dataclass
class ComparisonState(FoldState):
    tree: TreeState = field(default_factory=TreeState)
    amendments: dict[UUID, AmendmentTally] = field(default_factory=dict)
    """Objective id → its amendments."""
    check_ins: dict[UUID, int] = field(default_factory=dict)
    """Key result id → check-ins reported (corrections not counted)."""


def target_move(direction: str, old: float | None, new: float | None) -> str | None:
    """`eased` or `raised`: lowering the target of an increase eases it, and so on."""
    if old is None or new is None or old == new:
        return None
    higher_is_harder = direction in (Direction.INCREASE.value, Direction.AT_LEAST.value)
    return "raised" if (new > old) == higher_is_harder else "eased"


_TREE = TreeFold()


class ComparisonFold(DataclassFold[ComparisonState]):
    name = "comparison"
    state_type = ComparisonState
    reads = (TreeFold,)
    ignores = TreeFold.ignores

    def reactions(self) -> Mapping[type[Any], Callable[..., Any]]:
        """The tallies (before the tree moves); the tree's handlers do the rest."""
        return {cls: tally for cls in _TALLIED}

    def step(self, state: ComparisonState, logged: Logged) -> None:
        tally(state, logged)  # before the tree moves: eased/raised compares with old targets
        _TREE.apply(state.tree, logged)


def tally(state: ComparisonState, logged: Logged) -> None:
    """Count check-ins and amendments; call it *before* the tree applies the same event (eased
    or raised compares the old target with the new)."""
    e = logged.event
    if isinstance(e, Objective.ProgressReported):
        state.check_ins[e.key_result_id] = state.check_ins.get(e.key_result_id, 0) + 1
    elif isinstance(e, Objective.AmendmentProposed):
        state.amendments.setdefault(e.originator_id, AmendmentTally()).proposed += 1
    elif isinstance(e, Objective.AmendmentRejected):
        state.amendments.setdefault(e.originator_id, AmendmentTally()).rejected += 1
    elif isinstance(e, Objective.AmendmentApproved):
        tally = state.amendments.setdefault(e.originator_id, AmendmentTally())
        tally.approved += 1
        node = state.tree.objectives[e.originator_id]
        for kr_id, edits in edited_key_results(e.changes).items():
            kr = node.key_results[kr_id]
            move = target_move(kr.direction, kr.target, edits.get("target", kr.target))
            if move == "eased":
                tally.targets_eased += 1
            elif move == "raised":
                tally.targets_raised += 1


_TALLIED = (
    Objective.ProgressReported,
    Objective.AmendmentProposed,
    Objective.AmendmentRejected,
    Objective.AmendmentApproved,
)


_tally = tally  # the former private name, still imported by infra/views/model.py


# ---------------------------------------------------------------- queries


@dataclass(frozen=True)
class KindSummary:
    objectives: int
    mean_score: float | None
    achieved_share: float | None


@dataclass(frozen=True)
class Summary:
    cycle_id: UUID
    team_id: UUID | None
    """None for the whole organisation."""
    objectives: int
    abandoned: int
    key_results: int
    graded_key_results: int
    mean_score: float | None
    """Mean of the objectives' scores (explicit grade, else weighted mean of key result grades)."""
    achieved_share: float | None
    """Share of graded key results marked achieved."""
    committed: KindSummary
    aspirational: KindSummary
    amendments_proposed: int
    amendments_approved: int
    amendments_rejected: int
    targets_eased: int
    targets_raised: int
    check_ins_per_key_result_per_week: float | None
    stale_key_results: int
    """As of the fold's today, or the cycle's end if earlier."""
    brier_score: float | None
    """Mean of (confidence/10 − achieved)² over graded key results with a check-in: 0 is
    perfect calibration, 0.25 is always saying 5."""
    calibrated_key_results: int


@dataclass(frozen=True)
class CycleComparison:
    cycle_id: UUID
    organisation: Summary
    teams: tuple[Summary, ...]


def _mean(values: Sequence[float]) -> float | None:
    return fmean(values) if values else None


def _kind(nodes: Sequence[ObjectiveNode], kind: Kind) -> KindSummary:
    chosen = [n for n in nodes if n.kind == kind.value]
    graded = [kr.achieved for n in chosen for kr in n.live_key_results if kr.achieved is not None]
    return KindSummary(
        objectives=len(chosen),
        mean_score=_mean([s for n in chosen if (s := n.score) is not None]),
        achieved_share=_mean([1.0 if a else 0.0 for a in graded]),
    )


def summarise(
    state: ComparisonState,
    cycle_id: UUID,
    objectives: Sequence[ObjectiveNode],
    team_id: UUID | None = None,
) -> Summary:
    """Figures for one group of a cycle's objectives."""
    cycle = state.tree.cycles[cycle_id]
    counted = [n for n in objectives if n.status == Status.APPROVED.value]
    krs = [kr for n in counted for kr in n.live_key_results]
    graded = [kr for kr in krs if kr.achieved is not None]
    tallies = [
        state.amendments[n.objective_id] for n in objectives if n.objective_id in state.amendments
    ]
    calibrated = [
        (kr.current.confidence / 10 - (1.0 if kr.achieved else 0.0)) ** 2
        for kr in graded
        if kr.current is not None
    ]
    return Summary(
        cycle_id=cycle_id,
        team_id=team_id,
        objectives=len(counted),
        abandoned=sum(1 for n in objectives if n.status == Status.ABANDONED.value),
        key_results=len(krs),
        graded_key_results=len(graded),
        mean_score=_mean([s for n in counted if (s := n.score) is not None]),
        achieved_share=_mean([1.0 if kr.achieved else 0.0 for kr in graded]),
        committed=_kind(counted, Kind.COMMITTED),
        aspirational=_kind(counted, Kind.ASPIRATIONAL),
        amendments_proposed=sum(t.proposed for t in tallies),
        amendments_approved=sum(t.approved for t in tallies),
        amendments_rejected=sum(t.rejected for t in tallies),
        targets_eased=sum(t.targets_eased for t in tallies),
        targets_raised=sum(t.targets_raised for t in tallies),
        check_ins_per_key_result_per_week=_check_in_rate(
            state, cycle, krs_ids=[k.key_result_id for k in krs]
        ),
        stale_key_results=_stale_count(state, cycle, counted),
        brier_score=_mean(calibrated),
        calibrated_key_results=len(calibrated),
    )


def _check_in_rate(state: ComparisonState, cycle: CycleClock, krs_ids: list[UUID]) -> float | None:
    day = today(state.tree)
    if day is None or not krs_ids:
        return None
    elapsed_days = (min(day, cycle.ends_on) - cycle.starts_on).days
    if elapsed_days <= 0:
        return None
    reported = sum(state.check_ins.get(k, 0) for k in krs_ids)
    return reported / len(krs_ids) / (elapsed_days / 7)


def _stale_count(
    state: ComparisonState, cycle: CycleClock, counted: Sequence[ObjectiveNode]
) -> int:
    day = today(state.tree)
    if day is None or cycle.phase == Phase.PLANNING.value:
        return 0
    as_of = min(day, cycle.ends_on)
    return sum(
        1
        for n in counted
        for kr in n.live_key_results
        if is_stale(
            days_without_check_in(
                max((c.effective_on for c in kr.live_check_ins), default=None),
                cycle.starts_on,
                n.approved_on,
                as_of,
            ),
            cycle.cadence,
        )
    )


def teams_of_objective(tree: TreeState, node: ObjectiveNode) -> list[UUID]:
    """The owning team, or every team the owning person belongs to."""
    if node.owner_team_id is not None:
        return [node.owner_team_id]
    return [t for t, link in tree.teams.items() if node.owner_person_id in link.members]


def compare(
    state: ComparisonState, cycle_ids: Sequence[UUID], team_id: UUID | None = None
) -> list[CycleComparison]:
    """Side by side, in the order asked: the organisation and each team (or only `team_id`)."""
    out: list[CycleComparison] = []
    for cycle_id in cycle_ids:
        if cycle_id not in state.tree.cycles:
            continue
        nodes = [state.tree.objectives[o] for o in state.tree.cycle_objectives.get(cycle_id, [])]
        by_team: dict[UUID, list[ObjectiveNode]] = {}
        for node in nodes:
            for team in teams_of_objective(state.tree, node):
                by_team.setdefault(team, []).append(node)
        teams = [team_id] if team_id is not None else list(by_team)
        out.append(
            CycleComparison(
                cycle_id=cycle_id,
                organisation=summarise(state, cycle_id, nodes),
                teams=tuple(summarise(state, cycle_id, by_team.get(t, []), t) for t in teams),
            )
        )
    return out

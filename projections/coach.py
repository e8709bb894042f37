"""The quality coach over the alignment tree: a cycle's objectives as `domain.quality` reads them.

The checks themselves live in `domain.quality`; this module only turns tree nodes and team links
into their inputs, so `okr lint`, GET /lint and the drafting page lint exactly what the tree
shows (as of any position, like every other fold).
"""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from domain.quality import Finding, KeyResultSpec, ObjectiveSpec, Organisation, lint
from projections.tree import ObjectiveNode, TreeState


def spec_of(node: ObjectiveNode) -> ObjectiveSpec:
    return ObjectiveSpec(
        objective_id=node.objective_id,
        cycle_id=node.cycle_id,
        title=node.title,
        kind=node.kind,
        owner_team_id=node.owner_team_id,
        owner_person_id=node.owner_person_id,
        parent_objective_id=node.parent_objective_id,
        key_results=tuple(
            KeyResultSpec(
                kr.key_result_id,
                kr.title,
                kr.measure,
                kr.baseline,
                kr.target,
                kr.unit,
                kr.direction,
            )
            for kr in node.live_key_results
        ),
        status=node.status,
    )


def specs(tree: TreeState, cycle_id: UUID) -> list[ObjectiveSpec]:
    """The cycle's objectives in drafting order (abandoned ones included; lint skips them)."""
    return [spec_of(tree.objectives[o]) for o in tree.cycle_objectives.get(cycle_id, [])]


def organisation(tree: TreeState, team_names: Mapping[UUID, str] | None = None) -> Organisation:
    person_teams: dict[UUID, list[UUID]] = {}
    for team_id, link in tree.teams.items():
        for person_id in link.members:
            person_teams.setdefault(person_id, []).append(team_id)
    return Organisation(
        team_parents={t: link.parent_id for t, link in tree.teams.items()},
        person_teams={p: tuple(ts) for p, ts in person_teams.items()},
        team_names=dict(team_names or {}),
    )


def lint_cycle(
    tree: TreeState,
    cycle_id: UUID,
    levels: Mapping[str, str] | None = None,
    *,
    only: UUID | None = None,
    team_names: Mapping[UUID, str] | None = None,
) -> list[Finding]:
    """The coach's findings for a cycle (or only those concerning objective `only`)."""
    return lint(
        specs(tree, cycle_id),
        organisation=organisation(tree, team_names),
        levels=levels,
        only=only,
    )

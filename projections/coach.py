"""The quality coach over the alignment tree: a cycle's objectives as `domain.quality` reads them.

The checks themselves live in `domain.quality`; this module only turns tree nodes and team links
into their inputs, so `okr lint`, GET /lint and the drafting page lint exactly what the tree
shows (as of any position, like every other fold).
"""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from domain.quality import Finding, KeyResultSpec, ObjectiveSpec, Organisation, lint
from projections.base import fields_of
from projections.tree import ObjectiveNode, TreeState


def spec_of(node: ObjectiveNode) -> ObjectiveSpec:
    """The objective as the checks read it: the spec's fields, copied from the node by name."""
    key_results = tuple(
        KeyResultSpec(**fields_of(KeyResultSpec, kr)) for kr in node.live_key_results
    )
    return ObjectiveSpec(**fields_of(ObjectiveSpec, node, key_results=key_results))


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

"""Keeping private objectives out of read-model answers for callers who may not see them.

The read models answer for everyone (`viewer=ALL`); this module applies the API's own policy
(`policy.may_view`) to their JSON, so a private objective is hidden the same way everywhere:
in the tree (its visible children become roots, as when a parent is filtered out), in lists,
in diffs, replays and stale key results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from api import policy
from api.policy import ObjectiveFacts, Principal
from projections.directory import DirectoryState

Json = dict[str, Any]
Visible = Callable[[Json], bool]


def _uuid(value: object) -> UUID | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, UUID) else UUID(str(value))


def facts_from_json(objective: Json) -> ObjectiveFacts:
    """The policy's facts from an objective as the read models render it."""
    return ObjectiveFacts(
        owner_team_id=_uuid(objective.get("owner_team_id")),
        owner_person_id=_uuid(objective.get("owner_person_id")),
        private=bool(objective.get("private", False)),
        approver_id=_uuid(objective.get("approver_id")),
        submitted_by=objective.get("submitted_by"),
    )


def viewer(directory: DirectoryState, principal: Principal) -> Visible:
    """Whether `principal` may see an objective rendered as JSON."""

    def visible(objective: Json) -> bool:
        return policy.may_view(directory, principal, facts_from_json(objective))

    return visible


def prune_tree(roots: Iterable[Json], visible: Visible) -> list[Json]:
    """The tree without hidden objectives; children of a hidden one become roots."""
    kept: list[Json] = []
    orphans: list[Json] = []

    def walk(node: Json) -> Json | None:
        children = []
        for child in node.get("children", ()):
            shown = walk(child)
            if shown is not None:
                children.append(shown)
        if not visible(node):
            orphans.extend(children)
            return None
        return {**node, "children": children}

    for root in roots:
        shown = walk(root)
        if shown is not None:
            kept.append(shown)
    return kept + orphans


def hidden_ids(objectives: Iterable[Json], visible: Visible) -> set[str]:
    """Ids (as strings) of the objectives `visible` rejects."""
    return {str(o["objective_id"]) for o in objectives if o.get("private") and not visible(o)}


def without(items: Iterable[Json], hidden: set[str], key: str = "objective_id") -> list[Json]:
    """Items not about a hidden objective."""
    return [item for item in items if str(item.get(key)) not in hidden]

"""Fold states and query results as JSON-ready dicts, with names joined from the directory.

Folds keep people, teams and cycles as ids (personal data lives only in the directory); the
read models answer with both: every `…_id` that names a person, team or cycle gets a sibling
`…_name` (None when unknown, e.g. for `system`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from infra.views.codec import jsonable
from projections.audit import AuditRow
from projections.comparison import CycleComparison
from projections.diff import TreeDiff
from projections.directory import DirectoryState, person_name
from projections.history import ObjectiveHistory
from projections.inbox import InboxItem
from projections.staleness import FailingSource, StaleKeyResult
from projections.tree import ObjectiveView

Json = dict[str, Any]


class Names:
    """Id → name lookups over a directory state."""

    def __init__(self, directory: DirectoryState) -> None:
        self.directory = directory

    def person(self, person_id: object) -> str | None:
        if person_id is None:
            return None
        return person_name(self.directory, str(person_id))

    def team(self, team_id: object) -> str | None:
        uid = _uuid(team_id) if team_id else None
        entry = self.directory.teams.get(uid) if uid is not None else None
        return entry.name if entry else None

    def cycle(self, cycle_id: object) -> str | None:
        uid = _uuid(cycle_id) if cycle_id else None
        entry = self.directory.cycles.get(uid) if uid is not None else None
        return entry.name if entry else None


def _uuid(value: object) -> UUID | None:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        return None


# ------------------------------------------------------------------ tree


def objective_json(view: ObjectiveView, names: Names) -> Json:
    """An objective (and its children, recursively) with owner, approver and cycle names."""
    data: Json = jsonable(view)
    _name_objective(data, names)
    return data


def _name_objective(data: Json, names: Names) -> None:
    data["cycle_name"] = names.cycle(data["cycle_id"])
    data["owner_team_name"] = names.team(data["owner_team_id"])
    data["owner_person_name"] = names.person(data["owner_person_id"])
    data["approver_name"] = names.person(data["approver_id"])
    for child in data.get("children", ()):
        _name_objective(child, names)


def tree_json(views: Sequence[ObjectiveView], names: Names) -> list[Json]:
    return [objective_json(v, names) for v in views]


# --------------------------------------------------------------- history


def history_json(history: ObjectiveHistory, names: Names) -> Json:
    data: Json = jsonable(history)
    data["cycle_name"] = names.cycle(data["cycle_id"])
    for entry in data["timeline"]:
        entry["actor_name"] = names.person(entry["actor"])
    for kr in data["key_results"].values():
        for check_in in kr["check_ins"]:
            check_in["actor_name"] = names.person(check_in["actor"])
            check_in["superseded"] = check_in["superseded_by"] is not None
    return data


# ----------------------------------------------------------------- audit


def audit_json(row: AuditRow | Json, names: Names) -> Json:
    data: Json = jsonable(row) if isinstance(row, AuditRow) else row
    data["actor_name"] = names.person(data["actor"])
    data["approver_name"] = names.person(data["approver"])
    return data


# ----------------------------------------------------------------- inbox


def inbox_json(person_id: UUID, items: Iterable[InboxItem], names: Names) -> Json:
    rendered = []
    counts = {"review": 0, "amendment": 0, "counter_proposal": 0}
    for item in items:
        data: Json = jsonable(item)
        data["requested_by_name"] = names.person(data["requested_by"])
        data["owner_team_name"] = names.team(data["owner_team_id"])
        data["owner_person_name"] = names.person(data["owner_person_id"])
        data["cycle_name"] = names.cycle(data["cycle_id"])
        counts[item.kind] = counts.get(item.kind, 0) + 1
        rendered.append(data)
    return {
        "person_id": str(person_id),
        "person_name": names.person(person_id),
        "items": rendered,
        "counts": counts,
        "total": len(rendered),
    }


# ------------------------------------------------------------- staleness


def stale_json(items: Iterable[StaleKeyResult | FailingSource], names: Names) -> list[Json]:
    out = []
    for item in items:
        data: Json = jsonable(item)
        data["cycle_name"] = names.cycle(data["cycle_id"])
        data["owner_team_name"] = names.team(data["owner_team_id"])
        data["owner_person_name"] = names.person(data["owner_person_id"])
        out.append(data)
    return out


# ------------------------------------------------------------ comparison


def compare_json(
    comparisons: Iterable[CycleComparison], names: Names, position: int | None = None
) -> Json:
    cycles = []
    for comparison in comparisons:
        data: Json = jsonable(comparison)
        data["cycle_name"] = names.cycle(data["cycle_id"])
        for summary in (data["organisation"], *data["teams"]):
            summary["team_name"] = names.team(summary["team_id"])
        cycles.append(data)
    return {"position": position, "cycles": cycles}


# ------------------------------------------------------------------ diff


def diff_json(result: TreeDiff, names: Names, cycle_id: UUID | None = None) -> Json:
    data: Json = jsonable(result)
    for change in data["changes"]:
        by = change.get("by")
        if by:
            by["actor_name"] = names.person(by["actor"])
            by["approver_name"] = names.person(by["approver"])
    data["cycle_id"] = str(cycle_id) if cycle_id else None
    counts: dict[str, int] = {}
    for change in data["changes"]:
        counts[change["kind"]] = counts.get(change["kind"], 0) + 1
    data["counts"] = counts
    return data


# ------------------------------------------------------------- directory


def cycles_json(directory: DirectoryState) -> list[Json]:
    out = []
    for cycle_id, entry in directory.cycles.items():
        data: Json = jsonable(entry)
        data["id"] = str(cycle_id)
        out.append(data)
    return out


def teams_json(directory: DirectoryState) -> list[Json]:
    names = Names(directory)
    out = []
    for team_id, entry in directory.teams.items():
        out.append(
            {
                "id": str(team_id),
                "name": entry.name,
                "parent_id": str(entry.parent_id) if entry.parent_id else None,
                "parent_name": names.team(entry.parent_id),
                "members": [
                    {"person_id": str(p), "role": role, "name": names.person(p)}
                    for p, role in entry.members.items()
                ],
                "disbanded": entry.disbanded,
            }
        )
    return out


def people_json(directory: DirectoryState) -> list[Json]:
    return [
        {"id": str(person_id), "name": entry.name, "email": entry.email, "active": entry.active}
        for person_id, entry in directory.people.items()
    ]

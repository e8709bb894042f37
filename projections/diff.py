"""What changed in the alignment tree between two moments.

`diff(before, after)` compares two tree states (each the tree fold as of some position). Given
the audit rows between the two positions, each change also says who made it, why, and who
approved it; the attribution is the last audit row in the window that set the value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.objective import Objective
from projections.audit import AuditRow
from projections.entries import type_name
from projections.tree import KeyResultNode, ObjectiveNode, TreeState

OBJECTIVE_ADDED = "objective_added"
OBJECTIVE_REMOVED = "objective_removed"
"""Only when diffing backwards (a later state against an earlier one)."""
OBJECTIVE_ABANDONED = "objective_abandoned"
OBJECTIVE_REALIGNED = "objective_realigned"
OBJECTIVE_REASSIGNED = "objective_reassigned"
OBJECTIVE_RETITLED = "objective_retitled"
STATUS_CHANGED = "status_changed"
SCORE_CHANGED = "score_changed"
KEY_RESULT_ADDED = "key_result_added"
KEY_RESULT_REMOVED = "key_result_removed"
KEY_RESULT_RETITLED = "key_result_retitled"
TARGET_CHANGED = "target_changed"
BASELINE_CHANGED = "baseline_changed"
WEIGHT_CHANGED = "weight_changed"
CONFIDENCE_SWING = "confidence_swing"
GRADE_CHANGED = "grade_changed"

CONFIDENCE_SWING_POINTS = 2

_PROPOSALS = frozenset(
    type_name(c)
    for c in (Objective.AmendmentProposed, Objective.CounterProposed, Objective.AmendmentRejected)
)
"""Rows whose before/after describe changes not (yet) made."""
_AMENDMENT_PROPOSED = type_name(Objective.AmendmentProposed)
_AMENDMENT_APPROVED = type_name(Objective.AmendmentApproved)


@dataclass(frozen=True)
class Attribution:
    """Who made a change, why, and who approved it.

    For an approved amendment, `actor` and `reason` are the proposer's and the amendment's
    reason, `approver` decided it and `comment` is what they said.
    """

    position: int
    recorded_at: datetime
    event_type: str
    actor: str
    reason: str
    approver: str | None
    comment: str = ""


@dataclass(frozen=True)
class Change:
    kind: str
    objective_id: UUID
    title: str
    """The objective's title (as of the later state, where it exists)."""
    key_result_id: UUID | None = None
    key_result_title: str | None = None
    before: Any = None
    after: Any = None
    by: Attribution | None = None


@dataclass(frozen=True)
class TreeDiff:
    from_position: int
    to_position: int
    changes: tuple[Change, ...]

    def of_kind(self, kind: str) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]


def diff(
    before: TreeState,
    after: TreeState,
    *,
    cycle_id: UUID | None = None,
    audit_rows: Iterable[AuditRow] = (),
) -> TreeDiff:
    """Changes from `before` to `after`, objective by objective in drafting order."""
    start, end = before.cursor.position, after.cursor.position
    rows_seen = list(audit_rows)
    window = [r for r in rows_seen if start < r.position <= end]
    proposals = {
        r.after.get("amendment_id"): r for r in rows_seen if r.event_type == _AMENDMENT_PROPOSED
    }
    ids = list(after.objectives) + [o for o in before.objectives if o not in after.objectives]
    changes: list[Change] = []
    for objective_id in ids:
        old, new = before.objectives.get(objective_id), after.objectives.get(objective_id)
        either = new or old
        assert either is not None
        if cycle_id is not None and either.cycle_id != cycle_id:
            continue
        rows = [r for r in window if r.objective_id == objective_id]
        changes.extend(_objective_changes(old, new, _Rows(rows, proposals)))
    return TreeDiff(start, end, tuple(changes))


@dataclass(frozen=True)
class _Rows:
    """An objective's audit rows in the diff's window, and every amendment proposal by id."""

    window: Sequence[AuditRow]
    proposals: dict[Any, AuditRow]


def _last(rows: _Rows, match: Any) -> Attribution | None:
    """Who set the final value: the last matching row in the window."""
    for row in reversed(rows.window):
        if not match(row):
            continue
        proposal = (
            rows.proposals.get(row.after.get("amendment_id"))
            if row.event_type == _AMENDMENT_APPROVED
            else None
        )
        if proposal is not None:
            return Attribution(
                row.position,
                row.recorded_at,
                row.event_type,
                proposal.actor,
                proposal.reason,
                row.approver,
                row.reason,
            )
        return Attribution(
            row.position, row.recorded_at, row.event_type, row.actor, row.reason, row.approver
        )
    return None


def _sets_kr_field(kr_id: UUID, name: str) -> Any:
    def match(row: AuditRow) -> bool:
        if row.event_type in _PROPOSALS:
            return False
        touched = row.after.get("key_results")
        if not isinstance(touched, dict):  # an initiative's rows list the key results it moves
            return False
        fields = touched.get(str(kr_id)) or {}
        return name in fields

    return match


def _of_type(*event_classes: type[Any], key_result_id: UUID | None = None) -> Any:
    event_types = frozenset(type_name(c) for c in event_classes)

    def match(row: AuditRow) -> bool:
        return row.event_type in event_types and (
            key_result_id is None or row.key_result_id == key_result_id
        )

    return match


def _sets(name: str) -> Any:
    def match(row: AuditRow) -> bool:
        return row.event_type not in _PROPOSALS and name in row.after

    return match


def _objective_changes(
    old: ObjectiveNode | None, new: ObjectiveNode | None, rows: _Rows
) -> list[Change]:
    if new is None:
        assert old is not None
        return [Change(OBJECTIVE_REMOVED, old.objective_id, old.title, before=old.status)]
    title = new.title
    oid = new.objective_id

    def change(kind: str, before: Any, after: Any, match: Any, **kr: Any) -> Change:
        return Change(kind, oid, title, before=before, after=after, by=_last(rows, match), **kr)

    if old is None:
        added = change(OBJECTIVE_ADDED, None, new.status, _of_type(Objective.Drafted))
        return [
            added,
            *(
                c
                for kr in new.key_results.values()
                for c in _key_result_changes(new, None, kr, rows)
            ),
        ]
    out: list[Change] = []
    if old.title != new.title:
        out.append(change(OBJECTIVE_RETITLED, old.title, new.title, _sets("title")))
    if old.status != new.status:
        kind = OBJECTIVE_ABANDONED if new.status == "abandoned" else STATUS_CHANGED
        out.append(change(kind, old.status, new.status, _sets("status")))
    for kind, names, event_class in _LINKS:
        before, after = _ids(old, names), _ids(new, names)
        if before != after:
            out.append(change(kind, before, after, _of_type(event_class)))
    for kr_id in new.key_results:
        out.extend(
            _key_result_changes(new, old.key_results.get(kr_id), new.key_results[kr_id], rows)
        )
    if old.score != new.score:
        out.append(
            change(
                SCORE_CHANGED,
                old.score,
                new.score,
                _of_type(Objective.Graded, Objective.KeyResultGraded),
            )
        )
    return out


_LINKS = (
    (OBJECTIVE_REALIGNED, ("parent_objective_id", "parent_key_result_id"), Objective.Realigned),
    (OBJECTIVE_REASSIGNED, ("owner_team_id", "owner_person_id"), Objective.Reassigned),
)
"""What an objective is linked to (its parent, its owners): the change's kind, the id fields
that make the link, the event that changes them."""


def _ids(node: ObjectiveNode, names: tuple[str, ...]) -> dict[str, str | None]:
    """The node's id fields `names`, as strings (None stays None)."""
    values = {name: getattr(node, name) for name in names}
    return {name: str(value) if value else None for name, value in values.items()}


def _key_result_changes(
    node: ObjectiveNode,
    old: KeyResultNode | None,
    new: KeyResultNode,
    rows: _Rows,
) -> list[Change]:
    kr_id = new.key_result_id

    def change(kind: str, before: Any, after: Any, match: Any) -> Change:
        return Change(
            kind,
            node.objective_id,
            node.title,
            key_result_id=kr_id,
            key_result_title=new.title,
            before=before,
            after=after,
            by=_last(rows, match),
        )

    out: list[Change] = []
    if old is None:
        if not new.removed:
            out.append(change(KEY_RESULT_ADDED, None, new.target, _sets_kr_field(kr_id, "measure")))
        return out
    if new.removed and not old.removed:
        out.append(change(KEY_RESULT_REMOVED, False, True, _sets_kr_field(kr_id, "removed")))
        return out
    for kind, name in (
        (KEY_RESULT_RETITLED, "title"),
        (TARGET_CHANGED, "target"),
        (BASELINE_CHANGED, "baseline"),
        (WEIGHT_CHANGED, "weight"),
    ):
        if getattr(old, name) != getattr(new, name):
            out.append(
                change(kind, getattr(old, name), getattr(new, name), _sets_kr_field(kr_id, name))
            )
    old_confidence = old.current.confidence if old.current else None
    new_confidence = new.current.confidence if new.current else None
    if (
        old_confidence is not None
        and new_confidence is not None
        and abs(new_confidence - old_confidence) >= CONFIDENCE_SWING_POINTS
    ):
        out.append(
            change(
                CONFIDENCE_SWING,
                old_confidence,
                new_confidence,
                _of_type(
                    Objective.ProgressReported, Objective.CheckInCorrected, key_result_id=kr_id
                ),
            )
        )
    if old.score != new.score:
        out.append(
            change(
                GRADE_CHANGED,
                old.score,
                new.score,
                _of_type(Objective.KeyResultGraded, key_result_id=kr_id),
            )
        )
    return out

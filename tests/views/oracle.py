"""The expected answers: every fold folded on its own over the log, rendered like the facade.

The read models share one tree among their folds, keep rows in PostgreSQL, trim check-ins in
checkpoints and fold only the tail for as-of queries. The oracle does none of that: it folds
`projections`' folds one by one over `Logged` events, exactly as their unit tests do, and
renders the results with the facade's own renderers (names from the latest directory, as the
facade resolves them). Any difference is a read-side bug.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from infra.views import render
from projections.audit import AuditFold, audit_trail
from projections.base import Logged, fold
from projections.comparison import ComparisonFold, compare
from projections.diff import diff
from projections.directory import DirectoryFold, DirectoryState
from projections.history import HistoryFold
from projections.inbox import InboxFold, inbox
from projections.staleness import StalenessFold, stale_key_results
from projections.tree import ALL, TreeFold, objective_view, tree

Json = dict[str, Any]


class Oracle:
    def __init__(self, log: Sequence[Logged]) -> None:
        self.log = list(log)
        self.positions = [e.position for e in self.log]
        self.directory: DirectoryState = fold(DirectoryFold(), self.log)
        self.names = render.Names(self.directory)
        self._audit = fold(AuditFold(), self.log)
        self._history = fold(HistoryFold(), self.log)

    def head(self) -> int:
        return self.positions[-1] if self.positions else 0

    def upto(self, position: int | None) -> list[Logged]:
        if position is None:
            return self.log
        return self.log[: bisect.bisect_right(self.positions, position)]

    def tree(
        self, cycle_id: UUID, position: int | None = None, team_id: UUID | None = None
    ) -> list[Json]:
        state = fold(TreeFold(), self.upto(position))
        views = tree(state, cycle_id, team_id=team_id, include_private_for=ALL)
        return render.tree_json(views, self.names)

    def objective(self, objective_id: UUID, position: int | None = None) -> Json | None:
        state = fold(TreeFold(), self.upto(position))
        if objective_id not in state.objectives:
            return None
        return render.objective_json(objective_view(state, objective_id), self.names)

    def objectives(self) -> list[UUID]:
        return list(fold(TreeFold(), self.log).objectives)

    def cycles(self) -> list[UUID]:
        return list(self.directory.cycles)

    def teams(self) -> list[UUID]:
        return list(self.directory.teams)

    def people(self) -> list[UUID]:
        return list(self.directory.people)

    def history(self, objective_id: UUID) -> Json:
        found = self._history.objectives.get(objective_id)
        return render.history_json(found, self.names) if found else {}

    def audit(self, **filters: Any) -> list[Json]:
        rows = audit_trail(self._audit, **filters)
        return [render.audit_json(r, self.names) for r in rows]

    def inbox(self, person_id: UUID) -> Json:
        state = fold(InboxFold(), self.log)
        return render.inbox_json(person_id, inbox(state, person_id), self.names)

    def stale(self, cycle_id: UUID | None = None) -> list[Json]:
        state = fold(StalenessFold(), self.log)
        return render.stale_json(stale_key_results(state, cycle_id=cycle_id), self.names)

    def compare(
        self, cycle_ids: Sequence[UUID], team_id: UUID | None = None, position: int | None = None
    ) -> Json:
        state = fold(ComparisonFold(), self.upto(position))
        return render.compare_json(compare(state, list(cycle_ids), team_id), self.names, position)

    def diff(self, low: int, high: int, cycle_id: UUID | None = None) -> Json:
        before = fold(TreeFold(), self.upto(low))
        after = fold(TreeFold(), self.upto(high))
        rows = fold(AuditFold(), self.upto(max(low, high))).rows
        result = diff(before, after, cycle_id=cycle_id, audit_rows=rows)
        return render.diff_json(result, self.names, cycle_id)

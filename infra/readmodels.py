"""The read models the API queries: live views, time travel, audit, inbox, staleness.

First version: every fold is kept in memory and caught up from the log on each query; as-of
queries fold the log from the start. The signatures are the contract the API codes against;
the PostgreSQL views behind them replace this body without changing them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.application import OkrLedger
from infra.chain import ChainReader
from infra.settings import Settings, get_settings
from infra.views import render
from infra.views.log import LogReader
from infra.views.strategy import StrategyReads
from projections.audit import AuditFold, AuditState, audit_trail
from projections.base import Logged, fold
from projections.comparison import ComparisonFold, ComparisonState, compare
from projections.diff import diff
from projections.directory import DirectoryFold, DirectoryState
from projections.history import HistoryFold, HistoryState
from projections.inbox import InboxFold, InboxState, inbox
from projections.replay import period_ends, replay
from projections.staleness import StalenessFold, StalenessState, stale_key_results
from projections.tree import ALL, TreeFold, TreeState, Viewer, may_see, objective_view, tree

Json = dict[str, Any]


class ReadModels:
    """Queries over the ledger's projections, as JSON-ready dicts with names resolved."""

    def __init__(self, ledger: OkrLedger, settings: Settings | None = None) -> None:
        self.ledger = ledger
        self.settings = settings or get_settings()
        self.log = LogReader(ledger.recorder, ledger.mapper)  # type: ignore[arg-type]
        self.chain = ChainReader.for_recorder(ledger.recorder)
        self._lock = threading.RLock()
        self._position = 0
        self._directory: DirectoryState = DirectoryFold().initial()
        self._tree: TreeState = TreeFold().initial()
        self._history: HistoryState = HistoryFold().initial()
        self._audit: AuditState = AuditFold().initial()
        self._comparison: ComparisonState = ComparisonFold().initial()
        self._inbox: InboxState = InboxFold().initial()
        self._staleness: StalenessState = StalenessFold().initial()
        self._folds: list[tuple[Any, Any]] = [
            (DirectoryFold(), self._directory),
            (TreeFold(), self._tree),
            (HistoryFold(), self._history),
            (AuditFold(), self._audit),
            (ComparisonFold(), self._comparison),
            (InboxFold(), self._inbox),
            (StalenessFold(), self._staleness),
        ]
        self.strategy = StrategyReads(self)
        """The strategy layer: strategy, KPIs, initiatives, strategy map, the quality coach."""

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start following the log (the live views' runner)."""
        self._catch_up()

    def stop(self) -> None:
        """Stop following the log."""

    def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        """Wait until the views have applied `position`; False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if self._catch_up() >= position:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    def caught_up_position(self) -> int:
        """The last log position the views have applied."""
        return self._position

    def position_at(self, instant: datetime) -> int | None:
        """The last log position committed at or before `instant` (None if none was)."""
        return self.chain.position_at(instant)

    def version_at(self, aggregate_id: UUID, instant: datetime) -> int | None:
        """The version an aggregate had at `instant` (None if it did not exist yet)."""
        position = self.position_at(instant)
        if position is None:
            return None
        versions = [
            logged.event.originator_version
            for logged in self._log(position)
            if logged.event.originator_id == aggregate_id
        ]
        return max(versions, default=None)

    # --------------------------------------------------------------- folding

    def _catch_up(self) -> int:
        with self._lock:
            for page in self.log.pages(self._position):
                for a_fold, state in self._folds:
                    for logged in page:
                        a_fold.apply(state, logged)
                self._position = page[-1].position
            return self._position

    def _log(self, up_to: int) -> list[Logged]:
        return [logged for page in self.log.pages(0, up_to) for logged in page]

    def _names(self) -> render.Names:
        return render.Names(self._directory)

    # --------------------------------------------------------------- queries

    def directory(self) -> DirectoryState:
        """The live directory: people, teams and cycles."""
        self._catch_up()
        return self._directory

    def tree(
        self,
        cycle_id: UUID,
        *,
        position: int | None = None,
        team_id: UUID | None = None,
        viewer: Viewer = ALL,
    ) -> list[Json]:
        """The cycle's alignment tree, live or as of a log position."""
        self._catch_up()
        with self._lock:
            state = self._tree if position is None else fold(TreeFold(), self._log(position))
            return render.tree_json(
                tree(state, cycle_id, team_id=team_id, include_private_for=viewer), self._names()
            )

    def objective(self, objective_id: UUID, *, position: int | None = None) -> Json | None:
        """One objective as the tree shows it (without children), live or as of a position."""
        self._catch_up()
        with self._lock:
            state = self._tree if position is None else fold(TreeFold(), self._log(position))
            if objective_id not in state.objectives:
                return None
            return render.objective_json(objective_view(state, objective_id), self._names())

    def history(self, objective_id: UUID) -> Json:
        """The objective's timeline and its key results' check-ins ({} if unknown)."""
        self._catch_up()
        with self._lock:
            found = self._history.objectives.get(objective_id)
            return render.history_json(found, self._names()) if found else {}

    def replay(self, cycle_id: UUID, step: str = "week") -> list[Json]:
        """Frames of the cycle's tree at each day or week end, with the events between."""
        self._catch_up()
        with self._lock:
            cycle = self._directory.cycles.get(cycle_id)
            if cycle is None:
                return []
            boundaries = period_ends(
                cycle.starts_on, cycle.ends_on, "day" if step == "day" else "week"
            )
            frames = replay(self._log(self._position), list(boundaries))
            names = self._names()
            rows = {r.position: r for r in self._audit.rows}
            return [
                {
                    "boundary": frame.boundary.isoformat()
                    if isinstance(frame.boundary, datetime)
                    else frame.boundary,
                    "position": frame.position,
                    "tree": render.tree_json(
                        tree(frame.state, cycle_id, include_private_for=ALL), names
                    ),
                    "events": [
                        render.audit_json(rows[e.position], names)
                        for e in frame.events
                        if e.position in rows and rows[e.position].cycle_id == cycle_id
                    ],
                }
                for frame in frames
            ]

    def diff(self, from_position: int, to_position: int, cycle_id: UUID | None = None) -> Json:
        """What changed in the tree between two log positions."""
        self._catch_up()
        with self._lock:
            log = self._log(max(from_position, to_position))
            before = fold(TreeFold(), log, up_to=from_position)
            after = fold(TreeFold(), log, up_to=to_position)
            result = diff(before, after, cycle_id=cycle_id, audit_rows=self._audit.rows)
            return render.diff_json(result, self._names(), cycle_id)

    def compare(
        self,
        cycle_ids: Sequence[UUID],
        team_id: UUID | None = None,
        *,
        position: int | None = None,
    ) -> Json:
        """Cycle comparison per team (and for the organisation), live or as of a position."""
        self._catch_up()
        with self._lock:
            state = (
                self._comparison
                if position is None
                else fold(ComparisonFold(), self._log(position))
            )
            data = render.compare_json(
                compare(state, list(cycle_ids), team_id), self._names(), position
            )
        data["strategy"] = self.strategy.compare(cycle_ids, position)
        return data

    def audit(
        self,
        actor: str | None = None,
        entity_id: UUID | None = None,
        event_type: str | None = None,
        from_position: int | None = None,
        to_position: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Json]:
        """Audit rows in log order; `from_position` and `to_position` are inclusive."""
        self._catch_up()
        with self._lock:
            rows = audit_trail(
                self._audit,
                actor=actor,
                entity_id=entity_id,
                event_type=event_type,
                after_position=None if from_position is None else from_position - 1,
                up_to_position=to_position,
            )
            names = self._names()
            return [render.audit_json(r, names) for r in rows[offset : offset + limit]]

    def inbox(self, person_id: UUID) -> Json:
        """What waits on the person: reviews, amendments, counter-proposals."""
        self._catch_up()
        with self._lock:
            return render.inbox_json(person_id, inbox(self._inbox, person_id), self._names())

    def stale(self, cycle_id: UUID | None = None) -> list[Json]:
        """Key results without a check-in for longer than their cycle's cadence."""
        self._catch_up()
        with self._lock:
            found = stale_key_results(self._staleness, cycle_id=cycle_id)
            return render.stale_json(found, self._names())

    def cycles(self) -> list[Json]:
        self._catch_up()
        with self._lock:
            return render.cycles_json(self._directory)

    def teams(self) -> list[Json]:
        self._catch_up()
        with self._lock:
            return render.teams_json(self._directory)

    def people(self) -> list[Json]:
        self._catch_up()
        with self._lock:
            return render.people_json(self._directory)

    def objectives(
        self,
        cycle_id: UUID | None = None,
        team_id: UUID | None = None,
        owner_person_id: UUID | None = None,
        *,
        viewer: Viewer = ALL,
    ) -> list[Json]:
        """Objectives (flat, drafting order) filtered by cycle, owning team, owning person."""
        self._catch_up()
        with self._lock:
            state = self._tree
            names = self._names()
            out = []
            for node in state.objectives.values():
                if (
                    (cycle_id is None or node.cycle_id == cycle_id)
                    and (team_id is None or node.owner_team_id == team_id)
                    and (owner_person_id is None or node.owner_person_id == owner_person_id)
                ) and may_see(state, node, viewer):
                    out.append(
                        render.objective_json(objective_view(state, node.objective_id), names)
                    )
            return out

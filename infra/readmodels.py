"""The read models the API queries: live views, time travel, audit, inbox, staleness.

`ReadModels` is the read side's facade. Live answers come from the PostgreSQL views (kept by
the runner `start()` launches, or by another process's); as-of answers come from time-travel
checkpoints plus the log's tail. Everything is a JSON-ready dict, with people, teams and cycles
named from the live directory. See docs/projections.md.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from cachetools import LRUCache
from psycopg.rows import tuple_row
from psycopg.sql import SQL

from domain.application import OkrLedger
from infra import answer
from infra.chain import ChainReader
from infra.checkpoints import TimeTravel
from infra.settings import Settings, get_settings
from infra.views import render
from infra.views.log import LogReader, Row
from infra.views.projector import ViewsProjector
from infra.views.queries import Snapshot, ViewQueries
from infra.views.runner import LiveRunner
from infra.views.store import ViewStore
from infra.views.strategy import StrategyReads
from projections.comparison import compare
from projections.diff import diff
from projections.directory import DirectoryState
from projections.inbox import inbox
from projections.replay import period_ends, replay
from projections.staleness import SourceProblem, failing_sources, stale_key_results
from projections.tree import ALL, TreeState, Viewer, may_see, objective_view, tree

Json = dict[str, Any]


class ReadModels:
    """Queries over the ledger's projections, as JSON-ready dicts with names resolved."""

    def __init__(self, ledger: OkrLedger, settings: Settings | None = None) -> None:
        self.ledger = ledger
        self.settings = settings or get_settings()
        recorder: Any = ledger.recorder
        self.recorder = recorder
        self.store = ViewStore(recorder.datastore)
        self.log = LogReader(recorder, ledger.mapper)
        self.chain = ChainReader.for_recorder(recorder)
        self.queries = ViewQueries(self.store, self.log)
        self.timetravel = TimeTravel(self.store, self.log, self.settings.checkpoint_cache_size)
        self.projector = ViewsProjector(self.store, self.log, self.settings.checkpoint_every)
        self.runner = LiveRunner(self.projector, recorder, self.log, prepare=self._prepare)
        self._created = False
        self._trees: LRUCache[tuple[UUID, UUID | None, tuple[int, int]], list[Json]] = LRUCache(
            max(self.settings.tree_cache_size, 0)
        )
        self._trees_lock = threading.Lock()
        self.strategy = StrategyReads(self.queries, self.timetravel, self.setup)
        """The strategy layer: strategy, KPIs, initiatives, strategy map, the quality coach."""

    # ------------------------------------------------------------ lifecycle

    def setup(self) -> None:
        """Create the views' tables if missing (idempotent; `start()` does it)."""
        if not self._created:
            self.store.create_table()
            self._created = True

    def start(self) -> None:
        """Run the live views' runner in a background thread (one per database is active)."""
        self.setup()
        self.runner.start()

    def stop(self) -> None:
        self.runner.stop()

    def _prepare(self) -> None:
        """Before following the log: build the views in bulk when that is much faster."""
        from infra.views.rebuild import Rebuild

        position = self.store.position()
        outdated = self.store.outdated()
        stop = self.runner.stopping  # a shutdown interrupts the rebuild (progress is saved)
        if position == 0 and self.log.head() > 0:
            Rebuild(self.ledger, self.settings, stop=stop).run(None)
        elif outdated:
            Rebuild(self.ledger, self.settings, stop=stop).run(outdated)

    def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        """Wait until the views have applied `position`; False on timeout."""
        if self.runner.active.is_set() and self.runner.wait(position, timeout):
            return True
        deadline = time.monotonic() + timeout
        pause = 0.002
        while True:
            if self.caught_up_position() >= position:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 0.05)

    def caught_up_position(self) -> int:
        """The last log position the views have applied."""
        self.setup()
        return self.store.position()

    def head_position(self) -> int:
        """The last position in the log."""
        return self.log.head()

    def position_at(self, instant: datetime) -> int | None:
        """The last log position committed at or before `instant` (None if none was)."""
        return self.chain.position_at(instant)

    def version_at(self, aggregate_id: UUID, instant: datetime) -> int | None:
        """The version an aggregate had at `instant` (None if it did not exist yet)."""
        position = self.position_at(instant)
        if position is None:
            return None
        return self.version_at_position(aggregate_id, position)

    def version_at_position(self, aggregate_id: UUID, position: int) -> int | None:
        """The version an aggregate had at log `position` (None if it did not exist yet)."""
        query = SQL(
            "SELECT max(originator_version) FROM {} WHERE originator_id = %s "
            "AND notification_id <= %s"
        ).format(self.log.events_table)
        with self.recorder.datastore.get_connection() as conn:
            row = conn.cursor(row_factory=tuple_row).execute(query, (aggregate_id, position))
            found = row.fetchone()
        return None if found is None or found[0] is None else int(found[0])

    # -------------------------------------------------------------- helpers

    def _names(self, snap: Snapshot) -> render.Names:
        return render.Names(self.queries.directory(snap))

    def _as_of(self, snap: Snapshot, position: int) -> int:
        return max(0, min(position, self.log.head(snap.conn)))

    # --------------------------------------------------------------- queries

    def directory(self) -> DirectoryState:
        """The live directory: people, teams and cycles."""
        self.setup()
        with self.queries.snapshot() as snap:
            return self.queries.directory(snap)

    def tree(
        self,
        cycle_id: UUID,
        *,
        position: int | None = None,
        team_id: UUID | None = None,
        viewer: Viewer = ALL,
    ) -> list[Json]:
        """The cycle's alignment tree, live or as of a log position.

        `viewer`: whose private objectives to show (a person id; `"all"` for auditors and
        admins, the default; None for public ones only).
        """
        self.setup()
        with self.queries.snapshot() as snap:
            if position is None:
                state: TreeState = self.queries.tree_state(snap, [cycle_id])
            else:
                at = self._as_of(snap, position)
                answer.pin(at)
                state = self.timetravel.state_at(
                    snap.conn, at, [cycle_id], generation=snap.generation
                ).state.tree
            views = tree(state, cycle_id, team_id=team_id, include_private_for=viewer)
            return render.tree_json(views, self._names(snap))

    def live_key(self) -> tuple[int, int]:
        """The live views' (position, generation): live answers change only when it does."""
        self.setup()
        return self.queries.live_key()

    def live_tree(
        self, cycle_id: UUID, team_id: UUID | None = None
    ) -> tuple[tuple[int, int], list[Json]]:
        """The live tree for every viewer (`viewer=ALL`) and the `live_key` it was read at.

        Answers are remembered per (cycle, team, key), so readers of the same moment share one
        fold; callers must not mutate the returned dicts.
        """
        self.setup()
        with self.queries.snapshot() as snap:
            cache_key = (cycle_id, team_id, snap.key)
            with self._trees_lock:
                found = self._trees.get(cache_key)
            if found is None:
                state = self.queries.tree_state(snap, [cycle_id])
                views = tree(state, cycle_id, team_id=team_id, include_private_for=ALL)
                found = render.tree_json(views, self._names(snap))
                if self._trees.maxsize > 0:
                    with self._trees_lock:
                        self._trees[cache_key] = found
            return snap.key, found

    def objective(self, objective_id: UUID, *, position: int | None = None) -> Json | None:
        """One objective as the tree shows it (without children), live or as of a position."""
        self.setup()
        with self.queries.snapshot() as snap:
            if position is None:
                state = self.queries.tree_state(snap, objective_ids=[objective_id])
            else:
                cycle_id = self._cycle_of(snap, objective_id)
                if cycle_id is None:
                    return None
                at = self._as_of(snap, position)
                answer.pin(at)
                state = self.timetravel.state_at(
                    snap.conn,
                    at,
                    [cycle_id],
                    objective_ids=[objective_id],
                    generation=snap.generation,
                ).state.tree
            if objective_id not in state.objectives:
                return None
            return render.objective_json(objective_view(state, objective_id), self._names(snap))

    def _cycle_of(self, snap: Snapshot, objective_id: UUID) -> UUID | None:
        with snap.conn.cursor(row_factory=tuple_row) as curs:
            row = curs.execute(
                SQL("SELECT cycle_id FROM {} WHERE objective_id = %s").format(
                    self.store.ident("view_tree_objectives")
                ),
                (objective_id,),
            ).fetchone()
        if row is not None:
            cycle_id: UUID = row[0]
            return cycle_id
        return self.timetravel.cycle_of(snap.conn, objective_id)

    def history(self, objective_id: UUID) -> Json:
        """The objective's timeline and its key results' check-ins ({} if unknown)."""
        self.setup()
        with self.queries.snapshot() as snap:
            found = self.queries.history(snap, objective_id)
            return render.history_json(found, self._names(snap)) if found else {}

    def replay(self, cycle_id: UUID, step: str = "week") -> list[Json]:
        """Frames of the cycle's tree at the end of each day or week (UTC), each with the
        cycle's events counted since the previous frame (audit rows).

        The story of the cycle by its dates (`projections.replay`): a typed event counts at its
        commit time, an event the chain flags imported at its own time, so a quarter imported
        today replays week by week. A cycle with nothing imported replays by log positions
        resolved by commit time, as time travel does.
        """
        self.setup()
        with self.queries.snapshot() as snap:
            names = self._names(snap)
            cycle = names.directory.cycles.get(cycle_id)
            if cycle is None:
                return []
            boundaries = period_ends(
                cycle.starts_on, cycle.ends_on, "day" if step == "day" else "week"
            )
            moments = self._positions_at(snap, boundaries)
            first, last = moments[0][0], moments[-1][0]
            imported = self._imported_positions(snap, cycle_id)
            # Imported events may count before they were committed: start before the first.
            begin = min(first, imported[0] - 1) if imported else first
            # Frames fold the log up to `last`; names and audit rows are the views' (snapshot).
            answer.pin(max(snap.position, last))
            start = self.timetravel.state_at(
                snap.conn, begin, [cycle_id], refold_until=last, generation=snap.generation
            )
            scope = set(start.state.tree.objectives)
            rows = self.timetravel.tail(snap.conn, begin, last)
            later = [p for p in imported if p > last]
            if later:
                rows += self._aggregates_rows(snap, later, last)
            tail = self.timetravel.relevant(rows, scope, {cycle_id}, False)
            if imported:
                frames = replay(tail, boundaries, start=start.state.tree, imported=set(imported))
            else:
                frames = replay(tail, [p for p, _ in moments], start=start.state.tree)
            top = max([last, *later])
            audit = self.queries.audit(snap, cycle_id=cycle_id, to_position=top, limit=None)
            # An audit row's frame: the one that counts its event, else (events the tree
            # does not read, such as an initiative's) the one whose commit-time span holds it.
            ends = [p for p, _ in moments]
            # `counted_at`: when the replay counts an event that counts at another time than
            # its commit (its own, imported).
            counted = {
                logged.position: (index, None if at == logged.recorded_at else at.isoformat())
                for index, frame in enumerate(frames)
                for logged, at in zip(frame.events, frame.counted_at, strict=False)
            }
            by_frame: list[list[Json]] = [[] for _ in frames]
            for row in audit:
                found = counted.get(row["position"])
                if found is not None:
                    by_frame[found[0]].append({**row, "counted_at": found[1]} if found[1] else row)
                    continue
                index = bisect_left(ends, row["position"])
                if index < len(by_frame):
                    by_frame[index].append(row)
            out: list[Json] = []
            for frame, boundary, (position, committed), events in zip(
                frames, boundaries, moments, by_frame, strict=True
            ):
                if imported:
                    position = max(position, frame.position)
                    now = frame.state.cursor.now
                    committed = max(committed, now) if committed and now else committed or now
                frame.state.cursor.position, frame.state.cursor.now = position, committed
                out.append(
                    {
                        "boundary": boundary.isoformat(),
                        "position": position,
                        "tree": render.tree_json(
                            tree(frame.state, cycle_id, include_private_for=ALL), names
                        ),
                        "events": [render.audit_json(r, names) for r in events],
                    }
                )
            return out

    def _imported_positions(self, snap: Snapshot, cycle_id: UUID) -> list[int]:
        """The positions of the cycle's events (its own and its objectives') that the chain
        flags imported, ascending."""
        query = SQL(
            "SELECT a.position FROM {} a JOIN {} c ON c.position = a.position "
            "WHERE a.cycle_id = %s AND c.imported ORDER BY a.position"
        ).format(self.store.ident("view_audit"), self.log.chain_table)
        with snap.conn.cursor(row_factory=tuple_row) as curs:
            return [int(row[0]) for row in curs.execute(query, (cycle_id,))]

    def _aggregates_rows(self, snap: Snapshot, positions: list[int], after: int) -> list[Row]:
        """Every event after `after`, up to the last of `positions`, of the aggregates the
        events at `positions` belong to (their order decides when each counts)."""
        query = self.log.select + SQL(
            "WHERE e.originator_id IN (SELECT originator_id FROM {} WHERE notification_id = "
            "ANY(%s)) AND e.notification_id > %s AND e.notification_id <= %s "
            "ORDER BY e.notification_id"
        ).format(self.log.events_table)
        with snap.conn.cursor(row_factory=tuple_row) as curs:
            found: list[Row] = curs.execute(query, (positions, after, max(positions))).fetchall()
        return found

    def _positions_at(
        self, snap: Snapshot, instants: Sequence[datetime]
    ) -> list[tuple[int, datetime | None]]:
        query = SQL(
            "SELECT c.position, c.committed_at FROM unnest(%s::timestamptz[]) WITH ORDINALITY "
            "AS b(at, n) LEFT JOIN LATERAL (SELECT position, committed_at FROM {} "
            "WHERE committed_at <= b.at ORDER BY committed_at DESC, position DESC LIMIT 1) c "
            "ON true ORDER BY b.n"
        ).format(self.log.chain_table)
        with snap.conn.cursor(row_factory=tuple_row) as curs:
            rows = curs.execute(query, (list(instants),)).fetchall()
        return [(int(p or 0), at) for p, at in rows]

    def diff(self, from_position: int, to_position: int, cycle_id: UUID | None = None) -> Json:
        """What changed in the tree between two log positions (of one cycle, or all)."""
        self.setup()
        with self.queries.snapshot() as snap:
            low, high = self._as_of(snap, from_position), self._as_of(snap, to_position)
            answer.pin(max(low, high))  # the later moment: its chain covers both
            cycles = [cycle_id] if cycle_id is not None else None
            before = self.timetravel.state_at(
                snap.conn, low, cycles, generation=snap.generation
            ).state.tree
            after = self.timetravel.state_at(
                snap.conn, high, cycles, generation=snap.generation
            ).state.tree
            rows = self.queries.audit_rows_for_diff(snap, min(low, high), max(low, high), cycle_id)
            result = diff(before, after, cycle_id=cycle_id, audit_rows=rows)
            return render.diff_json(result, self._names(snap), cycle_id)

    def compare(
        self,
        cycle_ids: Sequence[UUID],
        team_id: UUID | None = None,
        *,
        position: int | None = None,
    ) -> Json:
        """Cycle comparison per team (and for the organisation), live or as of a position."""
        self.setup()
        with self.queries.snapshot() as snap:
            if position is None:
                state = self.queries.comparison_state(snap, list(cycle_ids))
            else:
                at = self._as_of(snap, position)
                answer.pin(at)
                state = self.timetravel.state_at(
                    snap.conn, at, list(cycle_ids), generation=snap.generation
                ).state
            found = compare(state, list(cycle_ids), team_id)
            data = render.compare_json(found, self._names(snap), position)
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
        self.setup()
        with self.queries.snapshot() as snap:
            rows = self.queries.audit(
                snap,
                actor=actor,
                entity_id=entity_id,
                event_type=event_type,
                from_position=from_position,
                to_position=to_position,
                limit=limit,
                offset=offset,
            )
            names = self._names(snap)
            return [render.audit_json(r, names) for r in rows]

    def inbox(self, person_id: UUID) -> Json:
        """What waits on the person: reviews, amendments, counter-proposals."""
        self.setup()
        with self.queries.snapshot() as snap:
            state = self.queries.inbox_state(snap, person_id)
            return render.inbox_json(person_id, inbox(state, person_id), self._names(snap))

    def stale(self, cycle_id: UUID | None = None) -> list[Json]:
        """Key results without a check-in for longer than their cycle's cadence."""
        self.setup()
        with self.queries.snapshot() as snap:
            state = self.queries.staleness_state(snap, cycle_id)
            found = stale_key_results(state, cycle_id=cycle_id)
            return render.stale_json(found, self._names(snap))

    def failing_sources(
        self, problems: list[SourceProblem], cycle_id: UUID | None = None
    ) -> list[Json]:
        """Failing data sources of key results in active cycles (`problems` from the sources'
        health table), with their objective and key result titles."""
        if not problems:
            return []
        self.setup()
        with self.queries.snapshot() as snap:
            state = self.queries.staleness_state(snap, cycle_id)
            found = failing_sources(state, problems, cycle_id=cycle_id)
            return render.stale_json(found, self._names(snap))

    def cycles(self) -> list[Json]:
        return render.cycles_json(self.directory())

    def teams(self) -> list[Json]:
        return render.teams_json(self.directory())

    def people(self) -> list[Json]:
        return render.people_json(self.directory())

    def objectives(
        self,
        cycle_id: UUID | None = None,
        team_id: UUID | None = None,
        owner_person_id: UUID | None = None,
        *,
        viewer: Viewer = ALL,
    ) -> list[Json]:
        """Objectives (flat, in drafting order) by cycle, owning team, owning person."""
        self.setup()
        with self.queries.snapshot() as snap:
            state = self.queries.tree_state(
                snap,
                [cycle_id] if cycle_id is not None else None,
                owner_team_id=team_id,
                owner_person_id=owner_person_id,
            )
            names = self._names(snap)
            return [
                render.objective_json(objective_view(state, node.objective_id), names)
                for node in state.objectives.values()
                if may_see(state, node, viewer)
            ]

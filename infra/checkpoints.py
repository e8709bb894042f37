"""Time travel: the tree, the comparison figures and the strategy layer as of any log position,
from checkpoints.

Every `checkpoint_every` positions the live runner (and a rebuild, identically) records a
checkpoint: a row in `view_tt_checkpoints`, one document per objective changed since the
previous checkpoint (`view_tt_objectives`: the node with only the check-in in force per key
result, plus its comparison tallies) and, when a team or cycle changed, every team link and
cycle clock (`view_tt_organisation`). Per objective, not per cycle or per state: at 1M events a
full-state checkpoint every 1,000 events would store ~1,000 copies of the same closed cycles;
this stores each objective again only when it changed, and keeps documents small (~1-2 kB).

The state of some cycles at position p is then:

1. the latest checkpoint c <= p;
2. for each objective of those cycles, its latest document at or before c, and the organisation
   document at or before c;
3. objectives that receive a check-in correction after c (which needs every live check-in, not
   only the one in force) are refolded from their own events up to c;
4. the log's tail (c, p], of which only the events of those cycles, their objectives, teams and
   cycles are decoded and folded;
5. the fold's clock set to p's commit time, as the live fold's was right after p.

The strategy layer (strategy, KPIs, initiatives, quality levels: one small document) is kept
whole at a checkpoint when it changed since the previous one (`view_tt_strategy`); as of p it
is the latest document at or before c with the tail's strategy events folded on
(`strategy_at`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from cachetools import LRUCache
from eventsourcing.utils import get_topic, resolve_topic
from psycopg import Connection
from psycopg.rows import tuple_row
from psycopg.sql import SQL

from domain.cycle import Cycle
from domain.objective import Objective
from domain.team import Team
from infra.views.codec import decode, load, loads
from infra.views.log import LogReader, Row
from infra.views.store import ViewStore
from projections.base import DataclassFold, FoldState, Logged
from projections.comparison import AmendmentTally, ComparisonFold, ComparisonState
from projections.strategy import StrategyFold, StrategyState
from projections.tree import CycleClock, ObjectiveNode, TeamLink

_COMPARISON = ComparisonFold()
_STRATEGY = StrategyFold()
_CORRECTED = get_topic(Objective.CheckInCorrected)
_DRAFTED = get_topic(Objective.Drafted)
TAIL_PAGE = 10_000
S = TypeVar("S", bound=FoldState)


@dataclass
class ObjectiveDocument:
    """A checkpoint's document of one objective (`infra.views.model.objective_document`)."""

    node: ObjectiveNode
    amendments: AmendmentTally | None
    check_ins: dict[UUID, int]


@dataclass
class AsOf:
    """A ComparisonState (tree + tallies) of some cycles as of a position."""

    state: ComparisonState
    position: int
    checkpoint: int
    """The checkpoint it started from."""
    tail: int
    """Events folded after the checkpoint."""


class TimeTravel:
    def __init__(self, store: ViewStore, log: LogReader, documents: int = 0) -> None:
        """`documents`: how many decoded checkpoint documents to remember (0: none)."""
        self.store = store
        self.log = log
        self._documents: LRUCache[tuple[int, UUID, int], ObjectiveDocument] | None = (
            LRUCache(documents) if documents > 0 else None
        )
        self._documents_lock = threading.Lock()
        t = store.ident
        # A position every shard of one layout has checkpointed (one row when unsharded).
        self._checkpoint = SQL(
            "SELECT coalesce(max(position), 0) FROM (SELECT position FROM {} "
            "WHERE position <= %s GROUP BY position, shards HAVING count(*) = shards) c"
        ).format(t("view_tt_checkpoints"))
        self._organisation = SQL(
            "SELECT doc::text FROM {} WHERE position <= %s ORDER BY position DESC LIMIT 1"
        ).format(t("view_tt_organisation"))
        self._strategy = SQL(
            "SELECT doc::text FROM {} WHERE position <= %s ORDER BY position DESC LIMIT 1"
        ).format(t("view_tt_strategy"))
        self._handled: dict[str, dict[str, bool]] = {}
        # The latest document of each objective: pick (objective, position) pairs from the
        # index alone, then fetch just those documents by primary key (sorting the documents
        # themselves spilled to disk: every version of every objective of the cycle).
        latest = SQL(
            "SELECT l.objective_id, l.position, (SELECT d.doc::text FROM {table} d "
            "WHERE d.objective_id = l.objective_id AND d.position = l.position) "
            "FROM (SELECT DISTINCT ON (objective_id) objective_id, position FROM {table} "
            "WHERE {where} position <= %s ORDER BY objective_id, position DESC) l"
        )
        table = t("view_tt_objectives")
        self._objectives_of_cycles = latest.format(table=table, where=SQL("cycle_id = ANY(%s) AND"))
        self._all_objectives = latest.format(table=table, where=SQL(""))
        self._objectives_by_id = latest.format(table=table, where=SQL("objective_id = ANY(%s) AND"))
        self._cycle_of = SQL("SELECT cycle_id FROM {} WHERE objective_id = %s LIMIT 1").format(
            t("view_tt_objectives")
        )
        self._kinds: dict[str, str] = {}

    def cycle_of(self, conn: Connection[Any], objective_id: UUID) -> UUID | None:
        with conn.cursor(row_factory=tuple_row) as curs:
            row = curs.execute(self._cycle_of, (objective_id,)).fetchone()
        return row[0] if row else None

    def state_at(
        self,
        conn: Connection[Any],
        position: int,
        cycle_ids: Sequence[UUID] | None,
        *,
        objective_ids: Sequence[UUID] | None = None,
        refold_until: int | None = None,
        generation: int | None = None,
    ) -> AsOf:
        """Those cycles (all when None; only `objective_ids` when given) as of `position`.

        `refold_until`: the caller will fold on to that position (a replay), so objectives
        corrected up to there are loaded with every live check-in. `generation`: the views'
        generation (`Snapshot.generation`), which lets decoded documents be remembered.
        """
        with conn.cursor(row_factory=tuple_row) as curs:
            found = curs.execute(self._checkpoint, (position,)).fetchone()
            checkpoint = int(found[0]) if found else 0  # coalesce: always one row
            org_row = curs.execute(self._organisation, (checkpoint,)).fetchone()
            if objective_ids is not None:
                rows = curs.execute(
                    self._objectives_by_id, (list(objective_ids), checkpoint)
                ).fetchall()
            elif cycle_ids is not None:
                rows = curs.execute(
                    self._objectives_of_cycles, (list(cycle_ids), checkpoint)
                ).fetchall()
            else:
                rows = curs.execute(self._all_objectives, (checkpoint,)).fetchall()
        state = ComparisonState()
        tree = state.tree
        if org_row is not None:
            org = loads(org_row[0])
            for team_id, link in org["teams"].items():
                tree.teams[UUID(team_id)] = load(TeamLink, link)
            for cycle_id, clock in org["cycles"].items():
                tree.cycles[UUID(cycle_id)] = load(CycleClock, clock)
                tree.cycle_objectives.setdefault(UUID(cycle_id), [])
        tail_rows = self.tail(conn, checkpoint, max(position, refold_until or position))
        # A document is immutable; its decoded node is shared between answers unless an event
        # of the tail (folded into it below, or by a replay) touches it: then a fresh copy.
        touched = {row[1] for row in tail_rows}
        nodes: list[ObjectiveNode] = []
        for oid, at, doc in rows:
            data = self._document(generation, oid, at, doc, oid in touched)
            nodes.append(data.node)
            if data.amendments is not None:
                state.amendments[oid] = data.amendments
            state.check_ins.update(data.check_ins)
        scope_cycles = set(cycle_ids) if cycle_ids is not None else None
        scope = (
            set(objective_ids)
            if objective_ids is not None
            else {node.objective_id for node in nodes}
        )
        merged = {node.objective_id: node for node in nodes}
        corrections = [
            row
            for row in tail_rows
            if row[3] == _CORRECTED and row[1] in scope and row[0] <= (refold_until or position)
        ]
        corrected = (
            self._superseding_in_force(corrections, merged)
            if refold_until is None
            else {row[1] for row in corrections}
        )
        if corrected:
            merged.update(self._refold(conn, state, corrected, checkpoint))
        for node in sorted(merged.values(), key=lambda n: n.drafted_position):
            tree.objectives[node.objective_id] = node
            tree.cycle_objectives.setdefault(node.cycle_id, []).append(node.objective_id)
        state.cursor.position = tree.cursor.position = checkpoint
        # The tail: decode only what the chosen cycles' tree needs.
        wanted = [row for row in tail_rows if row[0] <= position]
        tail = self.relevant(wanted, scope, scope_cycles, objective_ids is not None)
        for logged in tail:
            _COMPARISON.apply(state, logged)
        now = self.log.committed_at(position, conn) if position > 0 else None
        state.cursor.position = tree.cursor.position = position
        state.cursor.now = tree.cursor.now = now
        return AsOf(state, position, checkpoint, len(tail))

    def strategy_at(self, conn: Connection[Any], position: int) -> StrategyState:
        """The strategy layer as of `position`: the latest checkpoint's document and the
        strategy events of the tail."""
        with conn.cursor(row_factory=tuple_row) as curs:
            checkpoint = int(curs.execute(self._checkpoint, (position,)).fetchone()[0])  # type: ignore[index]
            row = curs.execute(self._strategy, (checkpoint,)).fetchone()
        state = decode(StrategyState, row[0]) if row is not None else StrategyState()
        state.cursor.position = checkpoint
        self.fold_handled(_STRATEGY, state, self.tail(conn, checkpoint, position))
        return state

    def handled(self, fold: DataclassFold[S], rows: Iterable[Row]) -> list[Row]:
        """The rows among `rows` whose events `fold` handles (by topic, nothing decoded)."""
        known = self._handled.setdefault(fold.name, {})
        out = []
        for row in rows:
            found = known.get(row[3])
            if found is None:
                found = known[row[3]] = resolve_topic(row[3]) in fold.handlers
            if found:
                out.append(row)
        return out

    def fold_handled(self, fold: DataclassFold[S], state: S, rows: Iterable[Row]) -> None:
        """Fold the events among `rows` that `fold` handles (decoding only those) into
        `state`."""
        decode_event = self.log.decoder.decode
        for position, originator_id, version, topic, data, committed_at in self.handled(fold, rows):
            event = decode_event(originator_id, version, topic, bytes(data))
            fold.apply(state, Logged(position, committed_at or event.timestamp, event))

    def _document(
        self, generation: int | None, oid: UUID, at: int, text: str, touched: bool
    ) -> ObjectiveDocument:
        if self._documents is None or generation is None or touched:
            return decode(ObjectiveDocument, text)
        key = (generation, oid, at)
        with self._documents_lock:
            found = self._documents.get(key)
        if found is None:
            found = decode(ObjectiveDocument, text)
            with self._documents_lock:
                self._documents[key] = found
        return found

    def _superseding_in_force(
        self, corrections: Iterable[Row], documents: dict[UUID, ObjectiveNode]
    ) -> set[UUID]:
        """The objectives whose check-in in force at the checkpoint is corrected in the tail.

        A document keeps only the check-in in force per key result (the latest by `order`, the
        first recorded on a tie); every other live check-in of the checkpoint ranks at or below
        it and comes after it on a tie. While it stays live, the tree's answer after a
        correction (the first maximum of the live check-ins) is therefore the same with or
        without them; only correcting that check-in itself needs them all. A replay
        (`refold_until`) keeps refolding every corrected objective: its narrative reads the
        superseded check-in, whichever it is.
        """
        out: set[UUID] = set()
        decode = self.log.decoder.decode
        for _position, originator_id, version, topic, state, _committed_at in corrections:
            node = documents.get(originator_id)
            if node is None or originator_id in out:
                out.add(originator_id)
                continue
            event = decode(originator_id, version, topic, bytes(state))
            kr = node.key_results.get(event.key_result_id)
            if kr is None or (
                kr.current is not None and kr.current.check_in_id == event.supersedes
            ):
                out.add(originator_id)
        return out

    def tail(self, conn: Connection[Any], after: int, up_to: int) -> list[Row]:
        rows: list[Row] = []
        position = after
        while position < up_to:
            page = self.log.page_rows(conn, position, up_to, TAIL_PAGE)
            rows.extend(page)
            if len(page) < TAIL_PAGE:
                break
            position = page[-1][0]
        return rows

    def _kind(self, topic: str) -> str:
        kind = self._kinds.get(topic)
        if kind is None:
            cls = resolve_topic(topic)
            if issubclass(cls, Objective.Event):
                kind = "drafted" if topic == _DRAFTED else "objective"
            elif issubclass(cls, Team.Event):
                kind = "team"
            elif issubclass(cls, Cycle.Event):
                kind = "cycle"
            else:
                kind = "other"
            self._kinds[topic] = kind
        return kind

    def relevant(
        self,
        rows: Iterable[Row],
        scope: set[UUID],
        cycles: set[UUID] | None,
        fixed_scope: bool,
    ) -> list[Logged]:
        """Decode the rows the scope's tree needs; drafts into the chosen cycles join it."""
        out: list[Logged] = []
        decode = self.log.decoder.decode
        for position, originator_id, version, topic, state, committed_at in rows:
            kind = self._kind(topic)
            if kind == "other" or (kind == "objective" and originator_id not in scope):
                continue
            event = decode(originator_id, version, topic, bytes(state))
            if kind == "drafted":
                if fixed_scope and originator_id not in scope:
                    continue
                if not fixed_scope and cycles is not None and event.cycle_id not in cycles:
                    continue
                scope.add(originator_id)
            out.append(Logged(position, committed_at or event.timestamp, event))
        return out

    def _refold(
        self, conn: Connection[Any], state: ComparisonState, objectives: set[UUID], up_to: int
    ) -> dict[UUID, ObjectiveNode]:
        """These objectives folded from their own events up to `up_to` (all live check-ins)."""
        scratch = ComparisonState()
        for logged in self.log.of_originators(sorted(objectives, key=str), 0, up_to, conn):
            _COMPARISON.apply(scratch, logged)
        for oid, node in scratch.tree.objectives.items():
            state.amendments.pop(oid, None)
            if oid in scratch.amendments:
                state.amendments[oid] = scratch.amendments[oid]
            for kr_id in node.key_results:
                state.check_ins.pop(kr_id, None)
                if kr_id in scratch.check_ins:
                    state.check_ins[kr_id] = scratch.check_ins[kr_id]
        return dict(scratch.tree.objectives)

"""Reading the live views: fold states (or the parts a query needs) rebuilt from their rows.

Every query runs in one REPEATABLE READ, read-only transaction, so the rows it reads and the
tracking position it reports belong to the same moment. Answers are computed by the folds' own
query functions over states rebuilt from rows (`projections.tree.tree`, `inbox`, ...), so a
view answers exactly what the in-memory fold would at that position. Append-only rows store
only what their columns do not: `audit_json` puts the columns back (and renders a check-in's
sentence and after side from its template's values and its key result's title row:
`audit_fields`), `check_in_record` takes a check-in's values from its audit row (stored once),
and an objective's history timeline is read from its audit rows (`infra.views.schema.READS`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, LiteralString
from uuid import UUID

import orjson
from psycopg import Connection
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composable, Composed, Literal

from domain.objective import Objective
from infra import answer
from infra.views.codec import decode, load, loads
from infra.views.log import LogReader
from infra.views.model import PROGRESS_REPORTED
from infra.views.schema import META_TABLE, OBJECTIVE_OF_ANOTHER_ROW, TRACKING_TABLE
from infra.views.store import AUDIT_DEFAULTS, ViewStore, default_entity_type, views_position
from projections.audit import AuditRow
from projections.comparison import AmendmentTally, ComparisonState
from projections.directory import CycleEntry, DirectoryState, PersonEntry, TeamEntry
from projections.entries import type_name
from projections.history import CheckInRecord, ObjectiveHistory, TimelineEntry
from projections.inbox import InboxState, Negotiation
from projections.narrative import check_in_action, check_in_after
from projections.staleness import StalenessState, WatchedCycle, WatchedObjective
from projections.strategy import StrategyState
from projections.tree import CheckInPoint, CycleClock, ObjectiveNode, TeamLink, TreeState


@dataclass
class Snapshot:
    """A read transaction and the views' position in it."""

    conn: Connection[Any]
    position: int
    now: datetime | None
    generation: int = 0
    """Changes whenever a rebuild swaps the views' tables."""
    directory_changed: int = 0
    """The last position that changed a directory row."""
    hash: bytes | None = None
    """The chain hash at `position` (None before any event)."""

    @property
    def key(self) -> tuple[int, int]:
        """What every live answer depends on: the same key, the same rows."""
        return (self.position, self.generation)


MATCHING: dict[str, Composable] = {
    "private": SQL("private"),
    "following_kpis": SQL('strpos(doc::text, \'"kpi_id":"\') > 0'),
    "mentions": SQL("strpos(doc::text, %s) > 0"),
}
"""Conditions on `view_tree_objectives` rows for `ViewQueries.tree_state(matching=...)`:
private objectives; objectives with a key result following a KPI (its document names one);
objectives whose document mentions a text (a key result's id: a superset of its objective)."""


class ViewQueries:
    def __init__(self, store: ViewStore, log: LogReader) -> None:
        self.store = store
        self.log = log
        self.t = store.ident
        self._audit_columns = audit_columns(store.ident("view_audit_titles"))
        self._directory: tuple[tuple[int, int], DirectoryState] | None = None
        self._strategy: tuple[tuple[int, int], StrategyState] | None = None
        self._key = SQL(
            "SELECT t.notification_id, c.committed_at, "
            "(SELECT coalesce(sum(generation), 0) FROM {meta}), "
            "(SELECT coalesce(max(changed), 0) FROM {directory}), c.hash "
            "FROM (SELECT {position} AS notification_id) t "
            "LEFT JOIN {chain} c ON c.position = t.notification_id"
        ).format(
            meta=store.ident(META_TABLE),
            directory=store.ident("view_directory"),
            position=views_position(store.ident(TRACKING_TABLE)),
            chain=log.chain_table,
        )
        self._begin = (
            SQL(
                "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; "
                "SET LOCAL idle_in_transaction_session_timeout = '300s'; "
            )
            + self._key
        )

    def live_key(self) -> tuple[int, int]:
        """The views' (position, generation) now, in one round trip outside any transaction."""
        with self.store.datastore.get_connection() as conn:
            found = conn.cursor(row_factory=tuple_row).execute(self._key).fetchone()
        return (int(found[0] or 0), int(found[2])) if found else (0, 0)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """A REPEATABLE READ, read-only transaction, begun together with the query of its
        position, commit time, generation and directory change (one round trip)."""
        with self.store.datastore.get_connection() as conn:
            # The pool's connections are in autocommit mode: BEGIN ... COMMIT by hand lets
            # the transaction's first statements travel with its BEGIN.
            curs = conn.cursor(row_factory=tuple_row).execute(self._begin)
            while curs.nextset():  # BEGIN and SET answer first; the row comes last
                pass
            found = curs.fetchone()
            try:
                position = int(found[0] or 0) if found else 0
                now = found[1] if found and position > 0 else None
                chain_hash = bytes(found[4]) if found and found[4] is not None else None
                answer.saw(position, chain_hash)
                yield Snapshot(
                    conn,
                    position,
                    now,
                    int(found[2]) if found else 0,
                    int(found[3]) if found else 0,
                    chain_hash,
                )
            except BaseException:
                with contextlib.suppress(Exception):
                    conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def _rows(self, snap: Snapshot, query: SQL | Composed, params: Sequence[Any] = ()) -> list[Any]:
        with snap.conn.cursor(row_factory=tuple_row) as curs:
            return curs.execute(query, params).fetchall()

    # ------------------------------------------------------------ directory

    def directory(self, snap: Snapshot) -> DirectoryState:
        """The directory at the snapshot's position (cached while no directory row changes)."""
        key = (snap.directory_changed, snap.generation)
        if self._directory is not None and self._directory[0] == key:
            state = self._directory[1]
        else:
            state = DirectoryState()
            for kind, entity_id, doc in self._rows(
                snap,
                SQL("SELECT kind, id, doc::text FROM {} ORDER BY seq, kind, id").format(
                    self.t("view_directory")
                ),
            ):
                data = loads(doc)
                if kind == "person":
                    state.people[entity_id] = load(PersonEntry, data)
                elif kind == "team":
                    state.teams[entity_id] = load(TeamEntry, data)
                elif kind == "cycle":
                    state.cycles[entity_id] = load(CycleEntry, data)
            self._directory = (key, state)
        state.cursor.position, state.cursor.now = snap.position, snap.now
        return state

    # ----------------------------------------------------------------- tree

    def organisation(self, snap: Snapshot, state: TreeState) -> None:
        for kind, entity_id, doc in self._rows(
            snap,
            SQL("SELECT kind, id, doc::text FROM {} ORDER BY seq, kind, id").format(
                self.t("view_tree_org")
            ),
        ):
            if kind == "team":
                state.teams[entity_id] = load(TeamLink, loads(doc))
            else:
                state.cycles[entity_id] = load(CycleClock, loads(doc))
                state.cycle_objectives.setdefault(entity_id, [])

    def tree_state(
        self,
        snap: Snapshot,
        cycle_ids: Sequence[UUID] | None = None,
        *,
        objective_ids: Sequence[UUID] | None = None,
        owner_team_id: UUID | None = None,
        owner_person_id: UUID | None = None,
        every_check_in: bool = False,
        matching: str | None = None,
        mentioning: str = "",
        or_objective_ids: Sequence[UUID] = (),
    ) -> TreeState:
        """The live tree with the chosen objectives (check-ins trimmed to the one in force;
        with `every_check_in`, every live one, which folding a correction on needs).

        `matching`: only the objectives `MATCHING[matching]` selects (private ones, those with
        a key result following a KPI, those whose document mentions `mentioning`), and
        `or_objective_ids`."""
        state = TreeState()
        self.organisation(snap, state)
        where = _Where()
        if matching is not None:
            mentions = [mentioning] if matching == "mentions" else []
            condition = SQL("({} OR objective_id = ANY(%s))").format(MATCHING[matching])
            where.add(condition, *mentions, list(or_objective_ids))
        where.any_of("cycle_id = ANY(%s)", cycle_ids)
        where.any_of("objective_id = ANY(%s)", objective_ids)
        where.when("owner_team_id = %s", owner_team_id)
        where.when("owner_person_id = %s", owner_person_id)
        query = SQL("SELECT objective_id, doc::text, {} FROM {}{} ORDER BY seq").format(
            SQL("check_ins::text" if every_check_in else "NULL"),
            self.t("view_tree_objectives"),
            where.clause(),
        )
        for oid, doc, live in self._rows(snap, query, where.params):
            node = decode(ObjectiveNode, doc)
            if live is not None:
                for kr_id, points in decode(dict[UUID, list[CheckInPoint]], live).items():
                    node.key_results[kr_id].live_check_ins = points
            state.objectives[oid] = node
            state.cycle_objectives.setdefault(node.cycle_id, []).append(oid)
        state.cursor.position, state.cursor.now = snap.position, snap.now
        return state

    def strategy_state(self, snap: Snapshot) -> StrategyState:
        """The strategy layer (strategy, KPIs, initiatives, quality levels) at the snapshot
        (decoded again only when its row changed: callers must not mutate it)."""
        known = self._strategy
        rows = self._rows(
            snap,
            SQL(
                "SELECT changed, CASE WHEN changed = %s THEN NULL ELSE doc::text END "
                "FROM {} WHERE kind = 'strategy'"
            ).format(self.t("view_strategy")),
            (known[0][0] if known is not None and known[0][1] == snap.generation else -1,),
        )
        if not rows:
            return StrategyState()
        changed, doc = rows[0]
        if doc is None and known is not None:
            return known[1]
        state = decode(StrategyState, doc)
        self._strategy = ((int(changed), snap.generation), state)
        return state

    def comparison_state(self, snap: Snapshot, cycle_ids: Sequence[UUID]) -> ComparisonState:
        state = ComparisonState(tree=self.tree_state(snap, cycle_ids))
        for oid, doc in self._rows(
            snap,
            SQL("SELECT objective_id, doc::text FROM {} WHERE cycle_id = ANY(%s)").format(
                self.t("view_comparison")
            ),
            (list(cycle_ids),),
        ):
            data = loads(doc)
            if data["amendments"] is not None:
                state.amendments[oid] = load(AmendmentTally, data["amendments"])
            for kr_id, count in data["check_ins"].items():
                state.check_ins[UUID(kr_id)] = count
        state.cursor.position, state.cursor.now = snap.position, snap.now
        return state

    # -------------------------------------------------------------- history

    def history(self, snap: Snapshot, objective_id: UUID) -> ObjectiveHistory | None:
        found = self._rows(
            snap,
            SQL("SELECT doc::text FROM {} WHERE objective_id = %s").format(
                self.t("view_history_objectives")
            ),
            (objective_id,),
        )
        if not found:
            return None
        history = load(ObjectiveHistory, loads(found[0][0]))
        # The timeline is the audit rows of the objective's own events (schema.READS), and
        # its check-ins' values are their audit rows' (stored once).
        audited: dict[int, tuple[datetime, str, str, list[Any]]] = {}
        for position, recorded_at, event_type, actor, kr_id, doc, title in self._rows(
            snap,
            SQL(
                "SELECT position, recorded_at, event_type, actor, key_result_id, doc::text, {} "
                "FROM {} a WHERE entity_id = %s AND event_type LIKE %s ORDER BY position"
            ).format(title_at(self.t("view_audit_titles")), self.t("view_audit")),
            (objective_id, OBJECTIVE_EVENTS),
        ):
            data = audit_fields(loads(doc), event_type, title)
            if event_type in CHECK_IN_EVENTS:
                audited[position] = (recorded_at, event_type, actor, data)
            history.timeline.append(
                TimelineEntry(
                    position,
                    _utc(recorded_at),
                    event_type,
                    actor,
                    data[6],
                    data[3],
                    kr_id,
                )
            )
        for row in self._rows(
            snap,
            SQL(
                "SELECT check_in_id, key_result_id, position, superseded_by, effective_on "
                "FROM {} WHERE objective_id = %s ORDER BY position"
            ).format(self.t("view_history_check_ins")),
            (objective_id,),
        ):
            record = check_in_record(row, audited[row[2]])
            kr = history.key_results.get(record.key_result_id)
            if kr is not None:
                kr.check_ins.append(record)
        return history

    # ---------------------------------------------------------------- audit

    def audit(
        self,
        snap: Snapshot,
        *,
        actor: str | None = None,
        entity_id: UUID | None = None,
        event_type: str | None = None,
        cycle_id: UUID | None = None,
        from_position: int | None = None,
        to_position: int | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Audit rows (JSON-native) in log order; positions inclusive."""
        where = _Where()
        where.when("actor = %s", actor)
        if entity_id is not None:
            # The same as `objective_id = %s`, in the form of the partial index's predicate.
            condition = SQL(
                "(entity_id = %s OR (objective_id = %s AND {}) OR key_result_id = %s)"
            ).format(SQL(OBJECTIVE_OF_ANOTHER_ROW))
            where.add(condition, entity_id, entity_id, entity_id)
        where.when("event_type = %s", event_type)
        where.when("cycle_id = %s", cycle_id)
        where.when("position >= %s", from_position)
        where.when("position <= %s", to_position)
        query = SQL("SELECT {} FROM {} a{} ORDER BY position").format(
            self._audit_columns, self.t("view_audit"), where.clause()
        )
        params = where.params
        if limit is not None:
            query += SQL(" LIMIT %s")
            params.append(limit)
        if offset:
            query += SQL(" OFFSET %s")
            params.append(offset)
        return [audit_json(row) for row in self._rows(snap, query, params)]

    def audit_rows_for_diff(
        self, snap: Snapshot, low: int, high: int, cycle_id: UUID | None
    ) -> list[AuditRow]:
        """Rows in (low, high] (of one cycle), and the amendment proposals up to `high`."""
        query = SQL(
            "SELECT {} FROM {} a WHERE (position > %s AND position <= %s{}) "
            "OR (event_type = {} AND position <= %s{}) "
            "ORDER BY position"
        )
        cycle = SQL(" AND cycle_id = %s") if cycle_id is not None else SQL("")
        params: list[Any] = [low, high]
        if cycle_id is not None:
            params.append(cycle_id)
        params.append(high)
        if cycle_id is not None:
            params.append(cycle_id)
        proposed = Literal(type_name(Objective.AmendmentProposed))
        statement = query.format(self._audit_columns, self.t("view_audit"), cycle, proposed, cycle)
        return [load(AuditRow, audit_json(row)) for row in self._rows(snap, statement, params)]

    # ---------------------------------------------------------------- inbox

    def inbox_state(self, snap: Snapshot, person_id: UUID) -> InboxState:
        state = InboxState()
        for kind, entity_id, doc in self._rows(
            snap,
            SQL(
                "SELECT kind, id, doc::text FROM {} WHERE kind = 'cycle' "
                "OR approver_id = %s OR submitted_by = %s ORDER BY seq, kind, id"
            ).format(self.t("view_inbox")),
            (str(person_id), str(person_id)),
        ):
            if kind == "cycle":
                state.cycle_phases[entity_id] = loads(doc)
            else:
                state.objectives[entity_id] = load(Negotiation, loads(doc))
        state.cursor.position, state.cursor.now = snap.position, snap.now
        return state

    # ------------------------------------------------------------ staleness

    def staleness_state(self, snap: Snapshot, cycle_id: UUID | None) -> StalenessState:
        state = StalenessState()
        for entity_id, doc in self._rows(
            snap,
            SQL("SELECT id, doc::text FROM {} WHERE kind = 'cycle' ORDER BY seq, id").format(
                self.t("view_staleness")
            ),
        ):
            state.cycles[entity_id] = load(WatchedCycle, loads(doc))
        active = [
            c
            for c, watched in state.cycles.items()
            if watched.phase == "active" and (cycle_id is None or c == cycle_id)
        ]
        for entity_id, doc in self._rows(
            snap,
            SQL(
                "SELECT id, doc::text FROM {} WHERE kind = 'objective' AND cycle_id = ANY(%s) "
                "ORDER BY seq, id"
            ).format(self.t("view_staleness")),
            (active,),
        ):
            state.objectives[entity_id] = load(WatchedObjective, loads(doc))
        state.cursor.position, state.cursor.now = snap.position, snap.now
        return state


# ------------------------------------------------------------ stored rows

OBJECTIVE_EVENTS = "Objective.%"
"""The event types of objectives' events (`Aggregate.Event`): an objective's timeline."""


def title_at(titles: Composable) -> Composed:
    """SQL for the title a check-in's audit row (`view_audit` as `a`) reads: its key result's
    latest row in `titles` (`view_audit_titles`) at or before its position; NULL for the rows
    of other events."""
    return SQL(
        "CASE WHEN a.event_type = {} THEN (SELECT t.title FROM {} t "
        "WHERE t.key_result_id = a.key_result_id AND t.position <= a.position "
        "ORDER BY t.position DESC LIMIT 1) END"
    ).format(Literal(PROGRESS_REPORTED), titles)


def audit_columns(titles: Composable) -> Composed:
    """What `audit_json` reads of a `view_audit` row (as `a`): every column, in the table's
    order, and the title a check-in's row reads (`title_at`)."""
    return SQL(
        "a.position, a.recorded_at, a.actor, a.event_type, a.entity_id, a.objective_id, "
        "a.key_result_id, a.cycle_id, a.doc::text, {}"
    ).format(title_at(titles))


class _Where:
    """A query's WHERE clause: its conditions, joined with AND, and their parameters in order."""

    def __init__(self) -> None:
        self.conditions: list[Composable] = []
        self.params: list[Any] = []

    def add(self, condition: Composable, *params: Any) -> None:
        self.conditions.append(condition)
        self.params.extend(params)

    def when(self, condition: LiteralString, value: Any) -> None:
        """`condition` (one `%s`) with `value`, unless `value` is None: no condition then."""
        if value is not None:
            self.add(SQL(condition), value)

    def any_of(self, condition: LiteralString, values: Sequence[Any] | None) -> None:
        """`condition` (one `= ANY(%s)`) with `values` as an array, unless `values` is None."""
        if values is not None:
            self.add(SQL(condition), list(values))

    def clause(self) -> Composable:
        """` WHERE …`, or nothing without conditions."""
        if not self.conditions:
            return SQL("")
        return SQL(" WHERE ") + SQL(" AND ").join(self.conditions)


def audit_json(row: Sequence[Any]) -> dict[str, Any]:
    """The JSON-native audit row (what `jsonable(AuditRow)` gives) from a `view_audit` row
    (`audit_columns`): its columns, and its document's other fields
    (`infra.views.store.audit_doc`), or a check-in's rendered from its values and title."""
    position, recorded_at, actor, event_type, entity_id, objective_id, kr_id, cycle_id, doc = row[
        :9
    ]
    title = row[9] if len(row) > 9 else None
    request_id, entity_type, version, action, before, after, reason, approver, provenance = (
        audit_fields(loads(doc), event_type, title)
    )
    return {
        "position": position,
        "recorded_at": _instant(recorded_at),
        "actor": actor,
        "request_id": request_id,
        "event_type": event_type,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "entity_version": version,
        "objective_id": _id(objective_id),
        "cycle_id": _id(cycle_id),
        "key_result_id": _id(kr_id),
        "action": action,
        "before": before,
        "after": after,
        "reason": reason,
        "approver": approver,
        "provenance": provenance,
    }


def audit_fields(doc: list[Any], event_type: str, title: str | None = None) -> list[Any]:
    """A `view_audit` row's document (`infra.views.store.audit_doc`) with its defaults put
    back: request id, entity type, entity version, action, before, after, reason, approver,
    provenance. A check-in's (`infra.views.model.CheckInAudit`) is rendered from its values
    and `title`, the title its row reads (`title_at`)."""
    if event_type == PROGRESS_REPORTED:
        return check_in_fields(doc, title)
    request_id, entity_type, version, action, *tail = doc
    before, after, reason, approver, provenance = (*tail, *AUDIT_DEFAULTS[len(tail) :])
    if entity_type is None:
        entity_type = default_entity_type(event_type)
    # The defaults are shared objects: each answer gets maps of its own.
    return [
        request_id,
        entity_type,
        version,
        action,
        dict(before),
        dict(after),
        reason,
        approver,
        provenance,
    ]


CHECK_IN_DEFAULTS: tuple[Any, ...] = ("", None)
"""The values of a check-in document's optional tail (reason, provenance)."""


def check_in_fields(doc: list[Any], title: str | None) -> list[Any]:
    """`audit_fields` of a check-in's audit row: its sentence and after side rendered from its
    values (`infra.views.model.check_in_doc`) and its key result's title as it stood then, as
    `projections.narrative` phrases a check-in."""
    if title is None:
        raise LookupError("a check-in's audit row has no title row for its key result")
    request_id, version, value, confidence, note, check_in_id, day, *tail = doc
    reason, provenance = (*tail, *CHECK_IN_DEFAULTS[len(tail) :])
    return [
        request_id,
        "objective",
        version,
        check_in_action(title, value, confidence, day),
        {},
        check_in_after(check_in_id, value, confidence, note, day),
        reason,
        None,
        provenance,
    ]


CHECK_IN_EVENTS = frozenset(
    {type_name(Objective.ProgressReported), type_name(Objective.CheckInCorrected)}
)
"""The event types of check-ins, whose audit rows hold the check-ins' values."""
CORRECTED = type_name(Objective.CheckInCorrected)


def check_in_record(
    row: Sequence[Any], audited: tuple[datetime, str, str, list[Any]]
) -> CheckInRecord:
    """A check-in from a `view_history_check_ins` row (check-in id, key result, position,
    superseded by, valid day) and its audit row (recorded at, event type, actor, and its
    document's fields, as `audit_fields` gives them): a check-in is stored once, in its audit
    row."""
    check_in_id, key_result_id, position, superseded_by, effective_on = row
    recorded_at, event_type, actor, fields = audited
    before, after, reason = fields[4:7]
    corrected = event_type == CORRECTED
    return CheckInRecord(
        check_in_id=check_in_id,
        key_result_id=key_result_id,
        effective_on=effective_on,
        recorded_at=_utc(recorded_at),
        position=position,
        value=float(after["value"]),
        confidence=after["confidence"],
        note=after["note"],
        actor=actor,
        supersedes=UUID(before["check_in_id"]) if corrected else None,
        superseded_by=superseded_by,
        reason=reason if corrected else "",
    )


def _utc(value: datetime) -> datetime:
    """A `timestamptz` column's value in UTC, as the log gives times (in the session's zone)."""
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _instant(value: datetime) -> str:
    """A `timestamptz` column's value as the codec writes times."""
    text: str = orjson.dumps(_utc(value)).decode()
    return text[1:-1]


def _id(value: UUID | None) -> str | None:
    return str(value) if value is not None else None

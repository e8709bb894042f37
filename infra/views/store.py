"""The views in PostgreSQL: tables, rows from the model, the tracking position, restore.

`ViewStore` is an eventsourcing `PostgresTrackingRecorder`: its tracking table holds the one log
position every live view has applied, and `write` puts a batch's rows and that position in the
caller's transaction, which is what makes the views exactly-once. The rows are the fold states
themselves, one per entity, so `restore` rebuilds the in-memory model from them at exactly the
tracked position: no separate checkpoint of the whole state is needed to resume.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.postgres import PostgresDatastore
from psycopg import Connection, Cursor
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composable, Composed, Identifier, Literal

from domain.cycle import Phase
from infra.tracking import ConcurrentlyCreated
from infra.views.codec import decode, dumps, load, loads
from infra.views.log import LogReader
from infra.views.model import (
    AUDIT,
    COMPARED,
    COMPARISON,
    DIRECTORY,
    HISTORY,
    HISTORY_OBJECTIVES,
    INBOX,
    INBOX_TABLE,
    OBJECTIVE_TABLES,
    PROGRESS_REPORTED,
    STALENESS,
    STALENESS_TABLE,
    STRATEGY,
    TIMETRAVEL,
    TREE,
    TREE_OBJECTIVES,
    VIEWS,
    Changes,
    CheckInAudit,
    Model,
    Row,
    Shard,
    Snapshot,
    comparison_row,
    history_row,
    inbox_row,
    parked_rows,
    staleness_row,
    tree_row,
)
from infra.views.schema import (
    META_TABLE,
    REBUILD_TABLE,
    TABLES,
    TRACKING_NAME,
    TRACKING_TABLE,
    Table,
    meta_statements,
    tables_of,
)
from projections.audit import AuditFold, AuditRow
from projections.comparison import AmendmentTally, ComparisonFold
from projections.directory import CycleEntry, DirectoryFold, PersonEntry, TeamEntry
from projections.history import HistoryFold, ObjectiveHistory
from projections.inbox import InboxFold, Negotiation
from projections.staleness import StalenessFold, WatchedCycle, WatchedObjective
from projections.strategy import StrategyFold, StrategyState
from projections.tree import CheckInPoint, CycleClock, ObjectiveNode, TeamLink, TreeFold

ROWS_VERSION = 5
"""Bump when the rows' shape changes (a fold's own version is part of each view's version).

2: audit and check-in documents without their columns' values; no history timeline table.
3: check-ins stored once (their audit rows): no document in `view_history_check_ins`.
4: audit documents as positional arrays (`audit_doc`); no index on the audit's recorded time.
5: a check-in's audit row as its template's values (`CheckInAudit`), its key result's title
   in `view_audit_titles`; rendered when read."""

VERSIONS: dict[str, str] = {
    DIRECTORY: f"directory{DirectoryFold.version}.rows{ROWS_VERSION}",
    TREE: f"tree{TreeFold.version}.rows{ROWS_VERSION}",
    COMPARISON: f"comparison{ComparisonFold.version}.rows{ROWS_VERSION}",
    HISTORY: f"history{HistoryFold.version}.rows{ROWS_VERSION}",
    AUDIT: f"audit{AuditFold.version}.rows{ROWS_VERSION}",
    INBOX: f"inbox{InboxFold.version}.rows{ROWS_VERSION}",
    STALENESS: f"staleness{StalenessFold.version}.rows{ROWS_VERSION}",
    STRATEGY: f"strategy{StrategyFold.version}.rows{ROWS_VERSION}.changed",
    TIMETRAVEL: (
        f"tree{TreeFold.version}.comparison{ComparisonFold.version}.strategy"
        f"{StrategyFold.version}.rows{ROWS_VERSION}.shards"
    ),
}
"""Each view's version: rows written by another version are rebuilt, not misread."""

SHARD_PREFIX = TRACKING_NAME + "/"
"""Tracking rows of the views' shards: "okrledger/0-of-2", "okrledger/1-of-2"."""


class MissingTracking(IntegrityError):
    """A tracking row of the views is missing (a shard's, after a rebuild ended sharding)."""


class ShardedViews(RuntimeError):
    """The views are kept in shards that cannot serve this use (see `ViewStore.use_shards`)."""


def tracking_name(shard: Shard | None) -> str:
    return TRACKING_NAME if shard is None else SHARD_PREFIX + shard.name


def views_position(tracking: Composable) -> Composed:
    """SQL for the views' position in the tracking table `tracking`: the lowest shard's when
    shards keep the views, else the whole views' (NULL before any)."""
    return SQL(
        "coalesce((SELECT min(notification_id) FROM {t} WHERE application_name LIKE {shards}), "
        "(SELECT notification_id FROM {t} WHERE application_name = {whole}))"
    ).format(t=tracking, shards=Literal(SHARD_PREFIX + "%"), whole=Literal(TRACKING_NAME))


@dataclass(frozen=True)
class Column:
    name: str
    json: bool


def columns(table: Table) -> list[Column]:
    out = []
    for part in table.columns.split(", "):
        name, kind = part.split()[:2]
        out.append(Column(name, kind == "json"))
    return out


def _text(doc: bytes) -> str:
    return doc.decode()


def _row_doc(value: object) -> str:
    """`_text(dumps(value))` for the append-only rows: orjson is about a third faster without
    its non-string-keys option, which only documents with id-keyed maps need."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return _text(dumps(value))


class ViewStore(ConcurrentlyCreated):
    """The views' tables and their tracking position, in the event store's database."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        super().__init__(datastore, tracking_table_name=TRACKING_TABLE)
        self.schema = datastore.schema
        schema = self.schema
        self.sql_create_statements.extend(meta_statements(schema))
        for table in tables_of(VIEWS):
            self.sql_create_statements.append(table.create(schema))
            self.sql_create_statements.extend(table.create_indexes(schema))
        self._tracking = Identifier(schema, TRACKING_TABLE)
        self._meta = Identifier(schema, META_TABLE)
        self.rebuild_table = Identifier(schema, REBUILD_TABLE)
        self._upserts: dict[str, Composed] = {}
        self._inserts: dict[str, Composed] = {}
        for table in tables_of(VIEWS):
            self._upserts[table.name] = self._upsert(table)
            self._inserts[table.name] = self._insert(table)

    def ident(self, name: str) -> Identifier:
        return Identifier(self.schema, name)

    # ---------------------------------------------------------------- creating

    def _create_table(self, curs: Cursor[Any]) -> None:
        # CREATE ... IF NOT EXISTS is not safe against a concurrent creator: serialise creators.
        curs.execute(
            SQL("SELECT pg_advisory_xact_lock(hashtext(%s))"),
            (f"okrledger:create:{self.schema}.views",),
        )
        super()._create_table(curs)
        curs.execute(
            SQL(
                "INSERT INTO {} (application_name, notification_id) VALUES (%s, 0) "
                "ON CONFLICT DO NOTHING"
            ).format(self._tracking),
            (TRACKING_NAME,),
        )
        # A view new to views that already follow the log has no rows yet: it starts
        # outdated (no version), so the runner builds it before following the log.
        for view, version in VERSIONS.items():
            curs.execute(
                SQL(
                    "INSERT INTO {} (view, version) SELECT %s, CASE WHEN EXISTS (SELECT 1 "
                    "FROM {} WHERE notification_id > 0 AND (application_name = %s "
                    "OR starts_with(application_name, %s))) THEN '' ELSE %s END "
                    "ON CONFLICT DO NOTHING"
                ).format(self._meta, self._tracking),
                (view, TRACKING_NAME, SHARD_PREFIX, version),
            )

    # ---------------------------------------------------------------- tracking

    def position(self, conn: Connection[Any] | None = None) -> int:
        """The log position every live view has applied (0 before any): the lowest of the
        shards' when Kafka workers keep them in shards."""
        query = SQL("SELECT {} AS position").format(views_position(self._tracking))
        row: dict[str, Any] | tuple[Any, ...] | None
        if conn is None:
            with self.datastore.get_connection() as own:
                row = own.execute(query, prepare=True).fetchone()
        else:
            row = conn.cursor(row_factory=tuple_row).execute(query).fetchone()
        if row is None:
            return 0
        value = row[0] if isinstance(row, tuple) else row["position"]
        return int(value or 0)

    def shard_positions(self, conn: Connection[Any]) -> dict[str, int]:
        """Each shard's position by its name ("0-of-2", ...); empty when the views are kept
        whole."""
        rows = (
            conn.cursor(row_factory=tuple_row)
            .execute(
                SQL(
                    "SELECT application_name, notification_id FROM {} "
                    "WHERE application_name LIKE %s"
                ).format(self._tracking),
                (SHARD_PREFIX + "%",),
            )
            .fetchall()
        )
        return {str(name)[len(SHARD_PREFIX) :]: int(at or 0) for name, at in rows}

    def lock_position(self, curs: Cursor[Any], shard: Shard | None = None) -> int:
        """The tracked position, locked until the transaction ends (serialises view writers)."""
        return self.lock(curs, shard)[0]

    def lock(self, curs: Cursor[Any], shard: Shard | None = None) -> tuple[int, int]:
        """The tracked position of the views (or of one shard of them), locked until the
        transaction ends, and the generation, in one round trip.

        The whole views refuse to move while shards keep them (a live runner started beside
        Kafka workers would apply their events a second time)."""
        row = curs.execute(
            SQL(
                "SELECT notification_id, (SELECT coalesce(sum(generation), 0) FROM {}) AS g, "
                "(SELECT count(*) FROM {} WHERE application_name LIKE %s) AS shards "
                "FROM {} WHERE application_name = %s FOR UPDATE"
            ).format(self._meta, self._tracking, self._tracking),
            (SHARD_PREFIX + "%", tracking_name(shard)),
            prepare=True,
        ).fetchone()
        if row is None:
            raise MissingTracking(f"the views' tracking row {tracking_name(shard)} is missing")
        values = (
            tuple(row)
            if isinstance(row, tuple)
            else (row["notification_id"], row["g"], row["shards"])
        )
        if shard is None and int(values[2]):
            raise ShardedViews(
                f"the views are kept in {int(values[2])} shards (by Kafka workers): stop the "
                "workers and run `okr rebuild --all` to keep them whole again"
            )
        return int(values[0] or 0), int(values[1])

    def lock_all(self, curs: Cursor[Any]) -> tuple[int, bool]:
        """Lock every tracking row of the views (a rebuild's swap); the highest position
        among them, and whether shards keep the views."""
        rows = curs.execute(
            SQL(
                "SELECT application_name, notification_id FROM {} WHERE application_name = %s "
                "OR application_name LIKE %s ORDER BY application_name FOR UPDATE"
            ).format(self._tracking),
            (TRACKING_NAME, SHARD_PREFIX + "%"),
        ).fetchall()
        names = [r[0] if isinstance(r, tuple) else r["application_name"] for r in rows]
        values = [r[1] if isinstance(r, tuple) else r["notification_id"] for r in rows]
        sharded = [int(v or 0) for n, v in zip(names, values, strict=True) if n != TRACKING_NAME]
        whole = [int(v or 0) for n, v in zip(names, values, strict=True) if n == TRACKING_NAME]
        return max(sharded or whole or [0]), bool(sharded)

    def use_shards(self, conn: Connection[Any], count: int) -> None:
        """Keep the views in `count` shards from now on (idempotent, safe to race).

        From whole views, or from another layout whose shards all stand at one position,
        every new shard starts at that position: each is a subset of views that agree. From
        shards at different positions there is no such point: a rebuild has to come first.
        """
        with conn.transaction(), conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(
                SQL("SELECT pg_advisory_xact_lock(hashtext(%s))"),
                (f"okrledger:layout:{self.schema}.views",),
            )
            shards = self.shard_positions(conn)
            wanted = {Shard(k, count).name for k in range(count)}
            if set(shards) == wanted:
                return
            if shards:
                at = set(shards.values())
                if len(at) > 1:
                    raise ShardedViews(
                        f"the views are kept in {len(shards)} shards at different positions; "
                        f"{count} shards need `okr rebuild --all` first"
                    )
                position = at.pop()
            else:
                position = self.position(conn)
            curs.execute(
                SQL("DELETE FROM {} WHERE application_name LIKE %s").format(self._tracking),
                (SHARD_PREFIX + "%",),
            )
            for name in sorted(wanted):
                curs.execute(
                    SQL(
                        "INSERT INTO {} (application_name, notification_id) VALUES (%s, %s)"
                    ).format(self._tracking),
                    (SHARD_PREFIX + name, position),
                )

    def track(self, curs: Cursor[Any], position: int, shard: Shard | None = None) -> None:
        """Move the tracked position forward (refused unless it moves forward).

        A cursor of its own: in pipeline mode, `curs` may still hold the result of an earlier
        statement when the tracking row's RETURNING is fetched."""
        with curs.connection.cursor() as own:
            self._insert_tracking(own, Tracking(tracking_name(shard), position))

    def set_position(self, curs: Cursor[Any], position: int) -> None:
        """Set the whole views' position (a rebuild's swap), which ends any sharding."""
        curs.execute(
            SQL("UPDATE {} SET notification_id = %s WHERE application_name = %s").format(
                self._tracking
            ),
            (position, TRACKING_NAME),
        )
        curs.execute(
            SQL("DELETE FROM {} WHERE application_name LIKE %s").format(self._tracking),
            (SHARD_PREFIX + "%",),
        )

    def generation(self, curs: Cursor[Any]) -> int:
        """Changes whenever a rebuild swaps tables in."""
        row = curs.execute(
            SQL("SELECT coalesce(sum(generation), 0) FROM {}").format(self._meta)
        ).fetchone()
        assert row is not None
        return int(row[0] if isinstance(row, tuple) else row["coalesce"])

    def versions(self, curs: Cursor[Any]) -> dict[str, str]:
        rows = curs.execute(SQL("SELECT view, version FROM {}").format(self._meta)).fetchall()
        return {
            (r[0] if isinstance(r, tuple) else r["view"]): (
                r[1] if isinstance(r, tuple) else r["version"]
            )
            for r in rows
        }

    def outdated(self) -> list[str]:
        """Views whose rows were written by another version of their fold or rows."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            stored = self.versions(curs)
        return [view for view in VIEWS if stored.get(view) != VERSIONS[view]]

    # ------------------------------------------------------------------ writing

    def _upsert(self, table: Table) -> Composed:
        cols = columns(table)
        keys = {c.strip() for c in table.primary_key.split(",")}
        updates = [c.name for c in cols if c.name not in keys and c.name != "seq"]
        values = SQL(", ").join(SQL("%s::json" if c.json else "%s") for c in cols)
        statement = SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) ").format(
            Identifier(self.schema, table.name),
            SQL(", ").join(Identifier(c.name) for c in cols),
            values,
            SQL(", ").join(Identifier(k) for k in sorted(keys)),
        )
        if not updates:
            return statement + SQL("DO NOTHING")
        return (
            statement
            + SQL("DO UPDATE SET ")
            + SQL(", ").join(
                SQL("{} = EXCLUDED.{}").format(Identifier(n), Identifier(n)) for n in updates
            )
        )

    def _insert(self, table: Table) -> Composed:
        cols = columns(table)
        return SQL("INSERT INTO {} ({}) VALUES ({})").format(
            Identifier(self.schema, table.name),
            SQL(", ").join(Identifier(c.name) for c in cols),
            SQL(", ").join(SQL("%s::json" if c.json else "%s") for c in cols),
        )

    def write(
        self,
        curs: Cursor[Any],
        model: Model,
        changes: Changes,
        views: Sequence[str] = VIEWS,
        suffix: str = "",
    ) -> None:
        """Write what `changes` touched into the views' tables (upserts), in `curs`'s
        transaction. The caller moves the tracked position in the same transaction."""
        for table, rows in entity_rows(model, views, changes).items():
            if rows:
                statement = (
                    self._upserts[table] if not suffix else self._upsert(_renamed(table, suffix))
                )
                curs.executemany(statement, rows)
        for table, rows in appended_rows(model, views, changes).items():
            if rows:
                statement = (
                    self._inserts[table] if not suffix else self._insert(_renamed(table, suffix))
                )
                curs.executemany(statement, rows)
        if HISTORY in views and changes.superseded:
            self.supersede(curs, changes.superseded, suffix)

    def supersede(
        self, curs: Cursor[Any], pairs: Sequence[tuple[UUID, UUID]], suffix: str = ""
    ) -> None:
        curs.execute(
            SQL(
                "UPDATE {} AS c SET superseded_by = p.by FROM unnest(%s::uuid[], %s::uuid[]) "
                "AS p(id, by) WHERE c.check_in_id = p.id"
            ).format(Identifier(self.schema, "view_history_check_ins" + suffix)),
            ([a for a, _ in pairs], [b for _, b in pairs]),
        )

    # ---------------------------------------------------------------- restoring

    def restore(
        self,
        conn: Connection[Any],
        log: LogReader,
        checkpoint_every: int,
        position: int | None = None,
    ) -> Model:
        """The model at the tracked position, rebuilt from the views' rows."""
        at = self.position(conn) if position is None else position
        model = Model(VIEWS, checkpoint_every)
        now = log.committed_at(at, conn)
        curs = conn.cursor(row_factory=tuple_row)
        _restore_directory(model, curs, self.ident)
        _restore_tree(model, curs, self.ident)
        _restore_rest(model, curs, self.ident)
        for state in (
            model.tree,
            model.context.strategy,
            model.tallies,
            model.history,
            model.directory,
            model.inbox,
            model.staleness,
        ):
            state.cursor.position, state.cursor.now = at, now
        model.position = at
        row = curs.execute(
            SQL(
                "SELECT max(position) FROM (SELECT position FROM {} WHERE position <= %s "
                "GROUP BY position, shards HAVING count(*) = shards) c"
            ).format(self.ident("view_tt_checkpoints")),
            (at,),
        ).fetchone()
        model.last_checkpoint = int(row[0]) if row and row[0] is not None else 0
        changed = log.originators_between(model.last_checkpoint, at, conn)
        for i in changed:  # the next checkpoint takes them: back in memory until then
            if i in model.parked:
                model.unpark(i)
        model.unsaved_objectives = {i for i in changed if i in model.tree.objectives}
        model.unsaved_organisation = any(
            i in model.tree.teams or i in model.tree.cycles for i in changed
        )
        model.unsaved_strategy = any(
            i not in model.tree.objectives
            and i not in model.tree.teams
            and i not in model.tree.cycles
            and i not in model.directory.people
            for i in changed
        )
        model.park_closed_cycles()  # the model keeps the open cycles' objectives only
        return model


def _renamed(table: str, suffix: str) -> Table:
    found = next(t for group in TABLES.values() for t in group if t.name == table)
    return Table(found.name + suffix, found.columns, found.primary_key, found.indexes)


# --------------------------------------------------------------------- rows


def entity_rows(
    model: Model, views: Iterable[str], changes: Changes | None = None
) -> dict[str, list[Row]]:
    """Rows of the entity tables: those `changes` touched, or all of them (`changes` None;
    a shard's model: all of its own aggregates')."""
    out: dict[str, list[Row]] = {}
    for name, rows in entity_tables(model, views, changes):
        out.setdefault(name, []).extend(rows)
    return out


TREE_ROWS_CHUNK = 1000
"""Objectives whose tree rows are built (and, in a rebuild, written) at once: a tree row holds
every live check-in of the objective, so the whole table's rows at once cost more memory than
any other step at the end of a rebuild."""


def entity_tables(
    model: Model, views: Iterable[str], changes: Changes | None = None
) -> Iterator[tuple[str, list[Row]]]:
    """`entity_rows` one table at a time (a rebuild writes each before the next is built);
    the tree's objectives in chunks of `TREE_ROWS_CHUNK` (a table may come in several parts,
    and comes at least once)."""
    views = set(views)
    seq = model.seq
    tree = model.tree
    shard = model.shard

    def chosen(ids: set[UUID] | None, everything: Iterable[UUID]) -> Iterator[UUID]:
        if ids is None:
            yield from (everything if shard is None else filter(shard.owns, everything))
        else:
            yield from sorted(ids, key=lambda i: seq.get(i, 0))

    objectives = None if changes is None else changes.objectives
    teams = None if changes is None else changes.teams
    cycles = None if changes is None else changes.cycles
    people = None if changes is None else changes.people
    position = model.position

    if DIRECTORY in views:
        directory = model.directory
        rows: list[Row] = []
        for pid in chosen(people, directory.people):
            if (entry := directory.people.get(pid)) is not None:
                rows.append(("person", pid, seq.get(pid, 0), position, _text(dumps(entry))))
        for tid in chosen(teams, directory.teams):
            if (team := directory.teams.get(tid)) is not None:
                rows.append(("team", tid, seq.get(tid, 0), position, _text(dumps(team))))
        for cid in chosen(cycles, directory.cycles):
            if (cycle := directory.cycles.get(cid)) is not None:
                rows.append(("cycle", cid, seq.get(cid, 0), position, _text(dumps(cycle))))
        yield "view_directory", rows
        del rows  # the generator would keep it alive
    if TREE in views:
        org: list[Row] = []
        for tid in chosen(teams, tree.teams):
            if (link := tree.teams.get(tid)) is not None:
                org.append(("team", tid, seq.get(tid, 0), _text(dumps(link))))
        for cid in chosen(cycles, tree.cycles):
            if (clock := tree.cycles.get(cid)) is not None:
                org.append(("cycle", cid, seq.get(cid, 0), _text(dumps(clock))))
        yield "view_tree_org", org
        del org  # the generator would keep it alive
        nodes: list[Row] = []
        parts = 0
        for oid in chosen(objectives, tree.objectives):
            if (node := tree.objectives.get(oid)) is not None:
                nodes.append(tree_row(model, node))
                if len(nodes) >= TREE_ROWS_CHUNK:
                    yield "view_tree_objectives", nodes
                    parts += 1
                    nodes = []
        if nodes or not parts:
            yield "view_tree_objectives", nodes
        del nodes  # the generator would keep it alive
    if COMPARISON in views:
        compared: list[Row] = []
        for oid in chosen(objectives, tree.objectives):
            if (node := tree.objectives.get(oid)) is not None:
                compared.append(comparison_row(model, node))
        yield "view_comparison", compared
        del compared  # the generator would keep it alive
    if HISTORY in views:
        history = model.history.objectives
        headers: list[Row] = []
        for oid in chosen(objectives, history):
            if (past := history.get(oid)) is not None:
                headers.append(history_row(model, oid, past))
        yield "view_history_objectives", headers
        del headers  # the generator would keep it alive
    if INBOX in views:
        inbox = model.inbox
        boxed: list[Row] = []
        for oid in chosen(objectives, inbox.objectives):
            if (item := inbox.objectives.get(oid)) is not None:
                boxed.append(inbox_row(model, oid, item))
        for cid in chosen(cycles, inbox.cycle_phases):
            if (phase := inbox.cycle_phases.get(cid)) is not None:
                boxed.append(("cycle", cid, seq.get(cid, 0), None, None, _text(dumps(phase))))
        yield "view_inbox", boxed
        del boxed  # the generator would keep it alive
    common = shard is None or shard.index == 0  # rows of no aggregate: shard 0's
    if STRATEGY in views and (changes.strategy if changes is not None else common):
        yield "view_strategy", [("strategy", position, _text(dumps(model.context.strategy)))]
    if STALENESS in views:
        staleness = model.staleness
        watched: list[Row] = []
        for oid in chosen(objectives, staleness.objectives):
            if (objective := staleness.objectives.get(oid)) is not None:
                watched.append(staleness_row(model, oid, objective))
        for cid in chosen(cycles, staleness.cycles):
            if (cycle_watch := staleness.cycles.get(cid)) is not None:
                watched.append(("cycle", cid, seq.get(cid, 0), None, _text(dumps(cycle_watch))))
        yield "view_staleness", watched
        del watched  # the generator would keep it alive
    yield from _parked_tables(model, views, objectives)


def _parked_tables(
    model: Model, views: set[str], objectives: set[UUID] | None
) -> Iterator[tuple[str, list[Row]]]:
    """The rows of the parked objectives (`infra.views.model.Parked`) among `objectives` (None:
    all of them, a shard's own), `TREE_ROWS_CHUNK` objectives at a time, every table's part of
    a chunk read from one document."""
    parked = model.parked
    if not parked:
        return
    shard = model.shard
    if objectives is None:
        ids = [i for i in parked.ids() if shard is None or shard.owns(i)]
    else:
        ids = sorted((i for i in objectives if i in parked), key=lambda i: model.seq.get(i, 0))
    tables = [table for table, view in OBJECTIVE_TABLES.items() if view in views]
    for start in range(0, len(ids), TREE_ROWS_CHUNK):
        chunk: dict[str, list[Row]] = {table: [] for table in tables}
        for oid in ids[start : start + TREE_ROWS_CHUNK]:
            document = parked.raw(oid)
            if document is None:
                continue
            for table, row in parked_rows(document).items():
                if table in chunk:
                    chunk[table].append(row)
        for table, rows in chunk.items():
            if rows:
                yield table, rows
        del chunk


def appended_rows(model: Model, views: Iterable[str], changes: Changes) -> dict[str, list[Row]]:
    """Rows of the append-only tables for what `changes` recorded.

    Their documents hold only what no column holds (`audit_doc`): the queries put the columns
    back (`infra.views.queries.audit_json`), and a check-in's audit row is its template's
    values (`CheckInAudit`), read with its key result's title row. A check-in's history row
    holds no document: the rest of it is its audit row's
    (`infra.views.queries.check_in_record`)."""
    views = set(views)
    out: dict[str, list[Row]] = {}
    if AUDIT in views:
        out["view_audit"] = [
            # A check-in's: its entity is its objective (`CheckInAudit`'s fields in order).
            (*row[:3], PROGRESS_REPORTED, row.objective_id, *row[3:6], _row_doc(row.doc))
            if isinstance(row, CheckInAudit)
            else (
                row.position,
                row.recorded_at,
                row.actor,
                row.event_type,
                row.entity_id,
                row.objective_id,
                row.key_result_id,
                row.cycle_id,
                _row_doc(audit_doc(row)),
            )
            for row in changes.audit
        ]
        out["view_audit_titles"] = list(changes.titles)
    if HISTORY in views:
        out["view_history_check_ins"] = [
            (
                record.check_in_id,
                oid,
                record.key_result_id,
                lineage,
                record.position,
                None,
                record.effective_on,
            )
            for oid, lineage, record in changes.check_ins
        ]
    if TIMETRAVEL in views:
        out.update(snapshot_rows(changes.snapshots))
    return out


AUDIT_DEFAULTS: tuple[Any, ...] = ({}, {}, "", None, None)
"""The values of an audit document's optional tail (before, after, reason, approver,
provenance) most events have: left off the end of the document."""


def default_entity_type(event_type: str) -> str:
    """The entity type most events of `event_type` (`Aggregate.Event`) have: the aggregate's."""
    return event_type.partition(".")[0].lower()


def audit_doc(row: AuditRow) -> list[Any]:
    """What a `view_audit` row keeps beside its columns, as a positional array: request id,
    entity type (null when it is `default_entity_type`), entity version, action, then before,
    after, reason, approver and provenance, without the empty ones at the end most events
    have."""
    entity_type = (
        row.entity_type if row.entity_type != default_entity_type(row.event_type) else None
    )
    doc = [
        row.request_id,
        entity_type,
        row.entity_version,
        row.action,
        row.before,
        row.after,
        row.reason,
        row.approver,
        row.provenance or None,
    ]
    while len(doc) > 4 and _is_default(doc[-1], AUDIT_DEFAULTS[len(doc) - 5]):
        doc.pop()
    return doc


def _is_default(value: Any, default: Any) -> bool:
    return value is None if default is None else type(value) is type(default) and value == default


def snapshot_rows(snapshots: Sequence[Snapshot]) -> dict[str, list[Row]]:
    return {
        "view_tt_checkpoints": [(s.position, s.shard, s.shards) for s in snapshots],
        "view_tt_objectives": [
            (oid, s.position, cid, _text(doc)) for s in snapshots for oid, cid, doc in s.objectives
        ],
        "view_tt_organisation": [
            (s.position, _text(s.organisation)) for s in snapshots if s.organisation is not None
        ],
        "view_tt_strategy": [
            (s.position, _text(s.strategy)) for s in snapshots if s.strategy is not None
        ],
    }


# ------------------------------------------------------------------ restoring

RESTORE_CHUNK = 1000
"""Rows streamed at a time while restoring: a table's rows are never all held at once beside
the model they become (at 1M events, hundreds of MB of documents)."""


def _restore_directory(model: Model, curs: Cursor[Any], ident: Any) -> None:
    directory = model.directory
    rows = curs.stream(
        SQL("SELECT kind, id, seq, doc::text FROM {} ORDER BY seq, kind, id").format(
            ident("view_directory")
        ),
        size=RESTORE_CHUNK,
    )
    for kind, entity_id, seq, doc in rows:
        data = loads(doc)
        model.seq[entity_id] = seq
        if kind == "person":
            directory.people[entity_id] = load(PersonEntry, data)
        elif kind == "team":
            directory.teams[entity_id] = load(TeamEntry, data)
            model.context.names[entity_id] = directory.teams[entity_id].name
        elif kind == "cycle":
            directory.cycles[entity_id] = load(CycleEntry, data)
            model.context.names[entity_id] = directory.cycles[entity_id].name


def _restore_tree(model: Model, curs: Cursor[Any], ident: Any) -> None:
    tree = model.tree
    for kind, entity_id, seq, doc in curs.stream(
        SQL("SELECT kind, id, seq, doc::text FROM {} ORDER BY seq, kind, id").format(
            ident("view_tree_org")
        ),
        size=RESTORE_CHUNK,
    ):
        model.seq.setdefault(entity_id, seq)
        if kind == "team":
            tree.teams[entity_id] = load(TeamLink, loads(doc))
        else:
            tree.cycles[entity_id] = load(CycleClock, loads(doc))
            tree.cycle_objectives.setdefault(entity_id, [])
    _restore_objectives(model, curs, ident)


def _restore_objectives(model: Model, curs: Cursor[Any], ident: Any) -> None:
    """Every objective's rows at once (tree, comparison, history, inbox, staleness): a closed
    cycle's objective goes to the model's parked rows as it is read, never decoded."""
    tree = model.tree
    tallies = model.tallies
    closed = {cid for cid, clock in tree.cycles.items() if clock.phase == Phase.CLOSED.value}
    statement = SQL(
        "SELECT t.objective_id, t.cycle_id, t.seq, t.owner_team_id, t.owner_person_id, "
        "t.approver_id, t.status, t.private, t.doc::text, t.check_ins::text, c.doc::text, "
        "h.cycle_id, h.seq, h.doc::text, i.seq, i.approver_id, i.submitted_by, i.doc::text, "
        "s.seq, s.cycle_id, s.doc::text "
        "FROM {} t LEFT JOIN {} c ON c.objective_id = t.objective_id "
        "LEFT JOIN {} h ON h.objective_id = t.objective_id "
        "LEFT JOIN {} i ON i.kind = 'objective' AND i.id = t.objective_id "
        "LEFT JOIN {} s ON s.kind = 'objective' AND s.id = t.objective_id ORDER BY t.seq"
    ).format(
        ident("view_tree_objectives"),
        ident("view_comparison"),
        ident("view_history_objectives"),
        ident("view_inbox"),
        ident("view_staleness"),
    )
    for row in curs.stream(statement, size=RESTORE_CHUNK):
        oid, cycle_id, seq = row[0], row[1], row[2]
        tree.cycle_objectives.setdefault(cycle_id, []).append(oid)
        model.seq.setdefault(oid, seq)
        compared, past, boxed, watched = row[10], row[13], row[17], row[20]
        if cycle_id in closed:
            rows: dict[str, Row] = {
                TREE_OBJECTIVES: row[:10],
                COMPARED: (oid, cycle_id, compared or '{"amendments":null,"check_ins":{}}'),
            }
            if past is not None:
                rows[HISTORY_OBJECTIVES] = (oid, row[11], row[12], past)
            if boxed is not None:
                rows[INBOX_TABLE] = ("objective", oid, row[14], row[15], row[16], boxed)
            if watched is not None:
                rows[STALENESS_TABLE] = ("objective", oid, row[18], row[19], watched)
            model.parked.put(oid, orjson.dumps(rows))
            continue
        node = decode(ObjectiveNode, row[8])
        for kr_id, kr_points in decode(dict[UUID, list[CheckInPoint]], row[9]).items():
            node.key_results[kr_id].live_check_ins = kr_points
        tree.objectives[oid] = node
        if compared is not None:
            data = loads(compared)
            if data["amendments"] is not None:
                tallies.amendments[oid] = load(AmendmentTally, data["amendments"])
            for kr_id, count in data["check_ins"].items():
                tallies.check_ins[UUID(kr_id)] = count
        if past is not None:
            model.history.objectives[oid] = load(ObjectiveHistory, loads(past))
        if boxed is not None:
            model.inbox.objectives[oid] = load(Negotiation, loads(boxed))
        if watched is not None:
            model.staleness.objectives[oid] = load(WatchedObjective, loads(watched))


def _restore_rest(model: Model, curs: Cursor[Any], ident: Any) -> None:
    """What `_restore_objectives` does not: the cycles' inbox and staleness rows, the strategy."""
    inbox = model.inbox
    for entity_id, doc in curs.stream(
        SQL("SELECT id, doc::text FROM {} WHERE kind <> 'objective' ORDER BY seq, kind, id").format(
            ident("view_inbox")
        ),
        size=RESTORE_CHUNK,
    ):
        inbox.cycle_phases[entity_id] = loads(doc)
    for kind, doc in curs.stream(
        SQL("SELECT kind, doc::text FROM {}").format(ident("view_strategy")), size=RESTORE_CHUNK
    ):
        if kind == "strategy":
            model.context.strategy = load(StrategyState, loads(doc))
    staleness = model.staleness
    for entity_id, doc in curs.stream(
        SQL("SELECT id, doc::text FROM {} WHERE kind <> 'objective' ORDER BY seq, kind, id").format(
            ident("view_staleness")
        ),
        size=RESTORE_CHUNK,
    ):
        staleness.cycles[entity_id] = load(WatchedCycle, loads(doc))

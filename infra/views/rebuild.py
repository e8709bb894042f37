"""Rebuilding views from the log: page, fold in memory, COPY into shadow tables, swap.

    Rebuild(ledger, settings, progress=...).run(["audit"])   # or run(None) for every view

1. Shadow tables `<table>__new` are created with primary keys only.
2. The log is read in pages (events joined with their chain links: commit times come in the
   same page) and folded into a `Model` restricted to what the chosen views need. Append-only
   rows (audit rows, history entries, time-travel checkpoints) are COPYed as they come; entity
   rows (one per objective, team, ...) are COPYed once, from the final state.
3. Every `save_every` seconds (and on Ctrl-C) the model is saved, compressed, in
   `okr_views_rebuild` with its position: a rebuild that is interrupted or killed resumes from
   there (shadow rows past that position are deleted first).
4. Indexes are added to the shadows, then one transaction locks the live views' tracking row
   (the runner waits), folds whatever the log gained meanwhile into the shadows, renames the
   shadows over the live tables, and moves the tracking position.

Live queries keep answering from the old tables until that last transaction commits.

A rebuild of some views ends at the live views' position (they must all stay at one position);
a rebuild of every view (or the first one) reads to the head of the log and moves the position.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import OperationalError
from psycopg import Connection, Cursor
from psycopg.sql import SQL, Identifier

from domain.application import OkrLedger
from infra.settings import Settings, get_settings
from infra.views.codec import dumps, load, loads
from infra.views.log import LogReader
from infra.views.model import HISTORY, VIEWS, Model
from infra.views.schema import RETIRED, SHADOW, Table, tables_of
from infra.views.store import VERSIONS, ViewStore, appended_rows, columns, entity_rows
from projections.comparison import AmendmentTally
from projections.directory import DirectoryState
from projections.history import ObjectiveHistory
from projections.inbox import InboxState
from projections.staleness import StalenessState
from projections.strategy import StrategyState
from projections.tree import TreeState

LOCK_KEY = "okrledger:views:rebuild"

Progress = Callable[[int, int, str], None]
"""(events done, events to do, phase) — phases: scan, rows, indexes, swap, done."""


class RebuildBusy(RuntimeError):
    """Another rebuild holds the lock."""


@dataclass
class RebuildReport:
    views: tuple[str, ...]
    events: int = 0
    """Events folded by this run (not counting a resumed run's earlier part)."""
    position: int = 0
    resumed_from: int | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def scan_rate(self) -> float:
        """Events per second of reading and folding the log (with append-only rows)."""
        scan = self.seconds.get("scan", 0.0)
        return self.events / scan if scan else 0.0

    @property
    def rate(self) -> float:
        """Events per second, end to end."""
        total = sum(self.seconds.values())
        return self.events / total if total else 0.0


class Rebuild:
    def __init__(
        self,
        ledger: OkrLedger,
        settings: Settings | None = None,
        *,
        page_size: int = 5000,
        save_every: float = 60.0,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        recorder: Any = ledger.recorder
        self.datastore = recorder.datastore
        self.store = ViewStore(recorder.datastore)
        self.log = LogReader(recorder, ledger.mapper)
        self.page_size = page_size
        self.save_every = save_every
        self.progress = progress or (lambda done, total, phase: None)
        self.stop = stop or threading.Event()
        self.schema = self.store.schema

    def _t(self, name: str) -> Identifier:
        return Identifier(self.schema, name)

    # ------------------------------------------------------------------- run

    def run(self, views: Sequence[str] | None) -> RebuildReport:
        """Rebuild `views` (None: all). Raises KeyboardInterrupt after saving progress."""
        self.store.create_table()
        chosen = tuple(v for v in VIEWS if views is None or v in views)
        unknown = set(views or ()) - set(VIEWS)
        if unknown:
            raise ValueError(f"unknown view(s): {', '.join(sorted(unknown))}")
        with self.datastore.get_connection() as lock_conn:
            row = lock_conn.execute(
                "SELECT pg_try_advisory_lock(hashtext(%s)) AS locked", (LOCK_KEY,)
            ).fetchone()
            if not row or not row["locked"]:
                raise RebuildBusy("another rebuild is running")
            try:
                if self.store.position() == 0:
                    chosen = VIEWS  # nothing built yet: everything, to the head
                return self._run(chosen)
            finally:
                lock_conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (LOCK_KEY,))

    def _run(self, views: tuple[str, ...]) -> RebuildReport:
        full = views == VIEWS
        report = RebuildReport(views)
        tables = tables_of(views)
        key = ",".join(views)
        versions = ",".join(VERSIONS[v] for v in views)
        model, started = self._resume(key, versions, tables)
        if model is None:
            self._create_shadows(tables)
            model = Model(views, self.settings.checkpoint_every)
            started = datetime.now(UTC)
        else:
            report.resumed_from = model.position
        target = self.log.head() if full else self.store.position()
        clock = time.perf_counter()
        try:
            self._scan(model, views, target, report)
        except KeyboardInterrupt:
            report.interrupted = True
            self._save(key, views, versions, model, started)
            raise
        finally:
            report.seconds["scan"] = time.perf_counter() - clock
        if self.stop.is_set():
            report.interrupted = True
            self._save(key, views, versions, model, started)
            return report
        self._save(key, views, versions, model, started)
        clock = time.perf_counter()
        self.progress(report.events, report.events, "rows")
        self._copy(entity_rows(model, views), SHADOW)
        report.seconds["rows"] = time.perf_counter() - clock
        clock = time.perf_counter()
        self.progress(report.events, report.events, "indexes")
        self._index(tables)
        report.seconds["indexes"] = time.perf_counter() - clock
        clock = time.perf_counter()
        self.progress(report.events, report.events, "swap")
        report.position = self._swap(model, views, tables, full, key)
        report.seconds["swap"] = time.perf_counter() - clock
        self.progress(report.events, report.events, "done")
        return report

    # ------------------------------------------------------------------ scan

    def _scan(
        self, model: Model, views: tuple[str, ...], target: int, report: RebuildReport
    ) -> None:
        start = model.position
        total = max(0, target - start)
        saved = time.monotonic()
        for rows in self._pages(model.position, target):
            model.apply_all(self.log.logged(rows))
            changes = model.take_changes()
            self._copy(appended_rows(model, views, changes), SHADOW)
            if HISTORY in views and changes.superseded:
                with self.datastore.get_connection() as conn:
                    self.store.supersede(conn.cursor(), changes.superseded, SHADOW)
            report.events += len(rows)
            self.progress(model.position - start, total, "scan")
            if self.stop.is_set():
                return
            if time.monotonic() - saved > self.save_every:
                self._save(
                    ",".join(views), views, ",".join(VERSIONS[v] for v in views), model, None
                )
                saved = time.monotonic()

    def _pages(self, after: int, up_to: int) -> Iterator[list[Any]]:
        """Pages of raw rows, the next one fetched while the current one is folded."""
        pages: list[Any] = []
        ready = threading.Semaphore(0)
        room = threading.Semaphore(2)
        failure: list[BaseException] = []
        finished = threading.Event()

        def fetch() -> None:
            position = after
            try:
                with self.datastore.get_connection() as conn:
                    while position < up_to and not finished.is_set():
                        room.acquire()
                        rows = self.log.page_rows(conn, position, up_to, self.page_size)
                        pages.append(rows)
                        ready.release()
                        if not rows:
                            return
                        position = rows[-1][0]
            except BaseException as error:
                failure.append(error)
            finally:
                pages.append([])
                ready.release()

        thread = threading.Thread(target=fetch, name="okr-rebuild-reader", daemon=True)
        thread.start()
        try:
            while True:
                ready.acquire()
                rows = pages.pop(0)
                room.release()
                if failure:
                    raise failure[0]
                if not rows:
                    return
                yield rows
        finally:
            finished.set()
            room.release()
            thread.join(10)

    # --------------------------------------------------------------- tables

    def _create_shadows(self, tables: Sequence[Table]) -> None:
        with self.datastore.get_connection() as conn, conn.transaction():
            for table in tables:
                conn.execute(SQL("DROP TABLE IF EXISTS {}").format(self._t(table.name + SHADOW)))
                conn.execute(table.create(self.schema, SHADOW))

    def _copy(self, rows_by_table: dict[str, list[tuple[Any, ...]]], suffix: str) -> None:
        if not any(rows_by_table.values()):
            return
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            for name, rows in rows_by_table.items():
                if rows:
                    copy_rows(curs, self._t(name + suffix), name, rows)

    def _index(self, tables: Sequence[Table]) -> None:
        with self.datastore.get_connection() as conn:
            for table in tables:
                for statement in table.create_indexes(self.schema, SHADOW):
                    conn.execute(statement)
                conn.execute(SQL("ANALYZE {}").format(self._t(table.name + SHADOW)))

    # ----------------------------------------------------------------- swap

    def _swap(
        self, model: Model, views: tuple[str, ...], tables: Sequence[Table], full: bool, key: str
    ) -> int:
        for attempt in range(20):
            try:
                with self.datastore.get_connection() as conn, conn.transaction():
                    return self._swap_once(conn, model, views, tables, full, key)
            except OperationalError:
                if attempt == 19:
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def _swap_once(
        self,
        conn: Connection[Any],
        model: Model,
        views: tuple[str, ...],
        tables: Sequence[Table],
        full: bool,
        key: str,
    ) -> int:
        curs = conn.cursor()
        curs.execute("SET LOCAL lock_timeout = '10s'")
        live = self.store.lock_position(curs)
        while model.position < live:  # the log moved on while we read: fold it in
            rows = self.log.page_rows(conn, model.position, live, self.page_size)
            if not rows:
                break
            model.apply_all(self.log.logged(rows))
            self.store.write(curs, model, model.take_changes(), views, SHADOW)
        position = max(live, model.position) if full else live
        for table in tables:
            self._rename(curs, table)
        if position != live:
            self.store.set_position(curs, position)
        curs.execute(
            SQL(
                "UPDATE {} SET version = v.version, generation = generation + 1, "
                "built_at = now(), built_position = %s FROM unnest(%s::text[], %s::text[]) "
                "AS v(view, version) WHERE {}.view = v.view"
            ).format(self._t("okr_views"), self._t("okr_views")),
            (position, list(views), [VERSIONS[v] for v in views]),
        )
        curs.execute(SQL("DELETE FROM {} WHERE id = %s").format(self.store.rebuild_table), (key,))
        return position

    def _rename(self, curs: Cursor[Any], table: Table) -> None:
        live, new, old = table.name, table.name + SHADOW, table.name + RETIRED
        curs.execute(SQL("DROP TABLE IF EXISTS {}").format(self._t(old)))
        curs.execute(
            SQL("ALTER TABLE IF EXISTS {} RENAME TO {}").format(self._t(live), Identifier(old))
        )
        curs.execute(SQL("ALTER TABLE {} RENAME TO {}").format(self._t(new), Identifier(live)))
        curs.execute(SQL("DROP TABLE IF EXISTS {}").format(self._t(old)))
        curs.execute(
            SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
                self._t(live), Identifier(new + "_pkey"), Identifier(live + "_pkey")
            )
        )
        for n in range(len(table.indexes)):
            curs.execute(
                SQL("ALTER INDEX {} RENAME TO {}").format(
                    self._t(table.index_name(n, SHADOW)), Identifier(table.index_name(n))
                )
            )

    # --------------------------------------------------------------- resume

    def _save(
        self,
        key: str,
        views: tuple[str, ...],
        versions: str,
        model: Model,
        started: datetime | None,
    ) -> None:
        state = zlib.compress(model_bytes(model), 1)
        with self.datastore.get_connection() as conn:
            conn.execute(
                SQL(
                    "INSERT INTO {} (id, views, versions, target, position, started_at, saved_at, "
                    "state) VALUES (%s, %s, %s, 0, %s, coalesce(%s, now()), now(), %s) "
                    "ON CONFLICT (id) DO UPDATE SET versions = EXCLUDED.versions, "
                    "position = EXCLUDED.position, saved_at = now(), state = EXCLUDED.state"
                ).format(self.store.rebuild_table),
                (key, list(views), versions, model.position, started, state),
            )

    def _resume(
        self, key: str, versions: str, tables: Sequence[Table]
    ) -> tuple[Model | None, datetime]:
        with self.datastore.get_connection() as conn:
            row = conn.execute(
                SQL("SELECT versions, position, started_at, state FROM {} WHERE id = %s").format(
                    self.store.rebuild_table
                ),
                (key,),
            ).fetchone()
            if row is None:
                return None, datetime.now(UTC)
            if row["versions"] != versions or not self._shadows_exist(conn, tables):
                conn.execute(
                    SQL("DELETE FROM {} WHERE id = %s").format(self.store.rebuild_table), (key,)
                )
                return None, datetime.now(UTC)
            model = model_from_bytes(zlib.decompress(row["state"]), self.settings.checkpoint_every)
            with conn.transaction():
                for table in tables:
                    if table.append_only:
                        position_column = "position"
                        conn.execute(
                            SQL("DELETE FROM {} WHERE {} > %s").format(
                                self._t(table.name + SHADOW), Identifier(position_column)
                            ),
                            (model.position,),
                        )
                    else:
                        conn.execute(SQL("TRUNCATE {}").format(self._t(table.name + SHADOW)))
            return model, row["started_at"]

    def _shadows_exist(self, conn: Connection[Any], tables: Sequence[Table]) -> bool:
        for table in tables:
            row = conn.execute(
                "SELECT to_regclass(%s) AS found", (f'"{self.schema}"."{table.name + SHADOW}"',)
            ).fetchone()
            if row is None or row["found"] is None:
                return False
        return True


def copy_rows(
    curs: Cursor[Any], target: Identifier, table: str, rows: list[tuple[Any, ...]]
) -> None:
    """COPY rows into `target` (laid out as view table `table`)."""
    found = next(t for t in tables_of(VIEWS) if t.name == table)
    names = SQL(", ").join(Identifier(c.name) for c in columns(found))
    with curs.copy(SQL("COPY {} ({}) FROM STDIN").format(target, names)) as copy:
        for row in rows:
            copy.write_row(row)


# ------------------------------------------------------------ model on disk


def model_bytes(model: Model) -> bytes:
    """The model's state as JSON (append-only outputs are never held, so it stays small)."""
    return dumps(
        {
            "views": model.views,
            "position": model.position,
            "last_checkpoint": model.last_checkpoint,
            "unsaved_objectives": sorted(model.unsaved_objectives, key=str),
            "unsaved_organisation": model.unsaved_organisation,
            "seq": model.seq,
            "tree": model.tree,
            "names": model.context.names,
            "strategy": model.context.strategy,
            "amendments": model.tallies.amendments,
            "check_ins": model.tallies.check_ins,
            "history": model.history.objectives,
            "directory": model.directory,
            "inbox": model.inbox,
            "staleness": model.staleness,
        }
    )


def model_from_bytes(data: bytes, checkpoint_every: int) -> Model:
    raw = loads(data)
    model = Model(tuple(raw["views"]), checkpoint_every)
    model.position = raw["position"]
    model.last_checkpoint = raw["last_checkpoint"]
    model.unsaved_objectives = {UUID(i) for i in raw["unsaved_objectives"]}
    model.unsaved_organisation = raw["unsaved_organisation"]
    model.seq = {UUID(k): v for k, v in raw["seq"].items()}
    tree = load(TreeState, raw["tree"])
    model.context.tree = tree
    model.tallies.tree = tree
    model.context.names = {UUID(k): v for k, v in raw["names"].items()}
    model.context.strategy = load(StrategyState, raw["strategy"])
    model.tallies.amendments = {
        UUID(k): load(AmendmentTally, v) for k, v in raw["amendments"].items()
    }
    model.tallies.check_ins = {UUID(k): v for k, v in raw["check_ins"].items()}
    model.history.objectives = {
        UUID(k): load(ObjectiveHistory, v) for k, v in raw["history"].items()
    }
    model.directory = load(DirectoryState, raw["directory"])
    model.inbox = load(InboxState, raw["inbox"])
    model.staleness = load(StalenessState, raw["staleness"])
    for state in (model.tallies, model.history):
        state.cursor.position, state.cursor.now = tree.cursor.position, tree.cursor.now
    return model

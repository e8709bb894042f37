"""Rebuilding views from the log: page, fold in memory, COPY into shadow tables, swap.

    Rebuild(ledger, settings, progress=...).run(["audit"])   # or run(None) for every view

1. Shadow tables `<table>__new` are created with primary keys only (and the two tables keyed at
   random, check-ins and time-travel documents, without: their keys are built by a sort with
   the indexes; the supersessions met meanwhile wait in `okr_views_rebuild_superseded`).
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

With `workers=N` (`okr rebuild --workers N`) the fold is split into N shards, one process each
(this one and N-1 helpers): a shard reads and decodes only its own aggregates' check-ins and
grades besides the events every shard needs, writes only its own rows, and saves its own
progress (a resumed sharded rebuild deletes, per shard, the rows past that shard's position,
and every shard writes its entity rows again). The parent indexes the shadows once all are
done and swaps them in with every shard's tail folded in the same transaction.

A rebuild of some views ends at the live views' position (they must all stay at one position);
a rebuild of every view (or the first one) reads to the head of the log and moves the position.

This module orchestrates; its parts: `infra/views/helpers.py` (the shard helper processes),
`infra/views/copy_format.py` (COPY's text format) and `infra/views/model_file.py` (the model
saved to resume from).
"""

from __future__ import annotations

import contextlib
import gc
import queue
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import OperationalError
from psycopg import Connection, Cursor
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from domain.application import OkrLedger
from infra.settings import Settings, get_settings
from infra.views.copy_format import copy_rows
from infra.views.copy_format import copy_text as copy_text
from infra.views.helpers import Helper, helper_ledger
from infra.views.log import LogReader
from infra.views.memory import TRIM_EVERY, collector_paused, release_free_memory
from infra.views.model import HISTORY, VIEWS, Model, Shard
from infra.views.model_file import compressed_model, model_from_bytes
from infra.views.model_file import model_bytes as model_bytes
from infra.views.projector import ShardLog, shard_sql
from infra.views.schema import (
    READS,
    REBUILD_PARKED_TABLE,
    RETIRED,
    SHADOW,
    SUPERSEDED_TABLE,
    TABLES,
    Table,
    tables_of,
)
from infra.views.store import (
    VERSIONS,
    ShardedViews,
    ViewStore,
    appended_rows,
    entity_tables,
)

LOCK_KEY = "okrledger:views:rebuild"

Progress = Callable[[int, int, str], None]
"""(events done, events to do, phase) — phases: scan, rows, indexes, swap, done."""


class RebuildBusy(RuntimeError):
    """Another rebuild holds the lock."""


@dataclass
class RebuildReport:
    views: tuple[str, ...]
    helper: dict[str, Any] = field(default_factory=dict)
    """What each helper process reported (its events, phases), by its views."""
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
        workers: int | None = None,
    ) -> None:
        self.ledger = ledger
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
        self.workers = workers if workers is not None else 1
        """Processes, each folding one shard of the views (`infra.views.model.Shard`): its
        own aggregates' events and the events every shard shares (the organisation's, the
        objectives' structure), into the same shadow tables. One by default."""
        self.saving: Future[None] | None = None
        """The final save of the model `build` returned, still running (see `saved`)."""

    def _t(self, name: str) -> Identifier:
        return Identifier(self.schema, name)

    def saved(self, report: RebuildReport | None = None) -> None:
        """Wait for the final save `build` began (the model may change once it is done)."""
        saving, self.saving = self.saving, None
        if saving is not None:
            clock = time.perf_counter()
            saving.result()  # raises what the save raised
            if report is not None:
                report.seconds["save"] = time.perf_counter() - clock

    # ------------------------------------------------------------------- run

    def run(self, views: Sequence[str] | None) -> RebuildReport:
        """Rebuild `views` (None: all). Raises KeyboardInterrupt after saving progress."""
        self.store.create_table()
        # A view whose answers read another view's table (the history's timeline is the audit
        # view's rows) is rebuilt with that view: `okr rebuild history` rebuilds the timeline.
        wanted = set(VIEWS if views is None else views)
        wanted |= {
            owner
            for view in set(wanted)
            for table in READS.get(view, ())
            for owner in VIEWS
            if table in {t.name for t in TABLES[owner]}
        }
        chosen = tuple(v for v in VIEWS if v in wanted)
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
                with collector_paused():
                    return self._run(chosen)
            finally:
                if self.saving is not None:  # failed or interrupted meanwhile: let it end
                    with contextlib.suppress(Exception):
                        self.saved()
                lock_conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (LOCK_KEY,))

    def _run(self, views: tuple[str, ...]) -> RebuildReport:
        full = views == VIEWS
        report = RebuildReport(views)
        target = self.log.head() if full else self.store.position()
        if self.workers > 1:
            return self._run_sharded(views, full, target, report)
        model = self.build(views, target, report)
        if model is None or report.interrupted:
            report.interrupted = True
            return report
        self.saved(report)
        clock = time.perf_counter()
        self.progress(report.events, report.events, "swap")
        report.position = self._swap([(views, model, _key(views))], full)
        report.seconds["swap"] = time.perf_counter() - clock
        self.progress(report.events, report.events, "done")
        return report

    def _run_sharded(
        self, views: tuple[str, ...], full: bool, target: int, report: RebuildReport
    ) -> RebuildReport:
        """`shards` processes, each folding one shard of the views (this one the last), into
        the same shadow tables; then the indexes and one swap."""
        shards = [Shard(k, self.workers) for k in range(self.workers)]
        tables = tables_of(views)
        self._prepare_shards(views, tables, shards)
        pace = {
            "page_size": self.page_size,
            "save_every": self.save_every,
            "checkpoint_every": self.settings.checkpoint_every,
        }
        helpers = [Helper.start(self.ledger, views, target, shard, pace) for shard in shards[:-1]]
        models: list[tuple[tuple[str, ...], Model | _Saved, str]] = []
        try:
            model = self.build(views, target, report, shards[-1])
            if model is None:
                for helper in helpers:
                    helper.interrupt()
            else:
                models.append((views, model, _key(views, shards[-1])))
                self.progress(report.events, report.events, "waiting for the helpers")
                for shard, helper in zip(shards, helpers, strict=False):
                    clock = time.perf_counter()
                    answer = helper.wait()
                    waited = time.perf_counter() - clock
                    report.seconds["helpers"] = report.seconds.get("helpers", 0.0) + waited
                    report.helper[shard.name] = answer
                    report.events = max(report.events, int(answer.get("events", 0)))
                    if answer.get("interrupted"):
                        report.interrupted = True
                        continue
                    key = _key(views, shard)
                    models.insert(0, (views, _Saved(self, key, int(answer["position"])), key))
        except BaseException:
            for helper in helpers:
                helper.interrupt()
            raise
        if model is None or report.interrupted:
            report.interrupted = True
            return report
        clock = time.perf_counter()
        self.progress(report.events, report.events, "indexes")
        self._index(tables)
        report.seconds["indexes"] = time.perf_counter() - clock
        self.saved(report)
        clock = time.perf_counter()
        self.progress(report.events, report.events, "swap")
        report.position = self._swap(models, full)
        report.seconds["swap"] = time.perf_counter() - clock
        # Each shard read only part of the log: count the log's events the run covered.
        starts = [report.resumed_from or 0] + [
            int(a.get("resumed_from") or 0) for a in report.helper.values()
        ]
        with self.datastore.get_connection() as conn:
            found = conn.execute(
                SQL(
                    "SELECT count(*) AS n FROM {} WHERE notification_id > %s "
                    "AND notification_id <= %s"
                ).format(self.log.events_table),
                (min(starts), report.position),
            ).fetchone()
        report.events = int(found["n"]) if found else report.events
        self.progress(report.events, report.events, "done")
        return report

    def _prepare_shards(
        self, views: tuple[str, ...], tables: Sequence[Table], shards: Sequence[Shard]
    ) -> None:
        """Resume a sharded rebuild of `views` (every shard from its own saved position, the
        entity tables emptied: each shard writes its rows again at the end), or start one."""
        versions = _versions(views)
        keys = [_key(views, shard) for shard in shards]
        with self.datastore.get_connection() as conn:
            saved = {
                row["id"]: row
                for row in conn.execute(
                    SQL("SELECT id, versions, position FROM {} WHERE id = ANY(%s)").format(
                        self.store.rebuild_table
                    ),
                    (keys,),
                ).fetchall()
            }
            resumable = (
                bool(saved)
                and all(row["versions"] == versions for row in saved.values())
                and self._shadows_exist(conn, tables)
            )
            # Any other layout's progress for these views is void from here on.
            conn.execute(
                SQL("DELETE FROM {} WHERE (id = %s OR id LIKE %s) AND NOT id = ANY(%s)").format(
                    self.store.rebuild_table
                ),
                (_key(views), _key(views) + "#%", keys if resumable else []),
            )
        if not resumable:
            self._create_shadows(tables)
            return
        with self.datastore.get_connection() as conn, conn.transaction():
            for shard, key in zip(shards, keys, strict=True):
                position = int(saved[key]["position"]) if key in saved else 0
                for table in tables:
                    if table.append_only:
                        owner, params = _owner(table.name, shard)
                        conn.execute(
                            SQL("DELETE FROM {} WHERE position > %s AND {}").format(
                                self._t(table.name + SHADOW), SQL(owner)
                            ),
                            (position, *params),
                        )
                if _supersessions(tables):
                    conn.execute(
                        SQL("DELETE FROM {} WHERE position > %s AND shard = %s").format(
                            self._t(SUPERSEDED_TABLE)
                        ),
                        (position, shard.index),
                    )
            for table in tables:
                if not table.append_only:
                    conn.execute(SQL("TRUNCATE {}").format(self._t(table.name + SHADOW)))

    def build(
        self,
        views: tuple[str, ...],
        target: int,
        report: RebuildReport,
        shard: Shard | None = None,
    ) -> Model | None:
        """Fill the shadow tables of `views` (of one shard of them) up to `target`; the model
        (None if stopped). A shard's shadow tables are prepared, and indexed, by the parent."""
        tables = tables_of(views)
        key = _key(views, shard)
        versions = _versions(views)
        if shard is None:
            model, started = self._resume(key, versions, tables)
        else:
            model, started = self._load(key), datetime.now(UTC)
        if model is None:
            if shard is None:
                self._create_shadows(tables)
            model = Model(views, self.settings.checkpoint_every, shard)
            started = datetime.now(UTC)
        else:
            report.resumed_from = model.position
        clock = time.perf_counter()
        writer = _Writer(self)
        try:
            self._scan(model, views, target, report, writer, started)
            writer.flush()
        except KeyboardInterrupt:
            report.interrupted = True
            writer.flush()
            self._save(key, views, versions, model, started)
            raise
        finally:
            writer.close()
            report.seconds["scan"] = time.perf_counter() - clock
        if self.stop.is_set():
            self._save(key, views, versions, model, started)
            report.interrupted = True
            return None
        clock = time.perf_counter()
        self.progress(report.events, report.events, "rows")
        self._copy(entity_tables(model, views), SHADOW)
        release_free_memory()
        report.seconds["rows"] = time.perf_counter() - clock
        # The final save (for a resume should the rest fail) runs beside the indexes, which
        # are the database's work: the model is not touched again until `saved` is waited on.
        saver = ThreadPoolExecutor(1, thread_name_prefix="okr-rebuild-save")
        self.saving = saver.submit(self._save, key, views, versions, model, started)
        saver.shutdown(wait=False)  # the save runs on; `saved` waits for it
        if shard is None:
            clock = time.perf_counter()
            self.progress(report.events, report.events, "indexes")
            self._index(tables)
            report.seconds["indexes"] = time.perf_counter() - clock
        return model

    # ------------------------------------------------------------------ scan

    def _scan(
        self,
        model: Model,
        views: tuple[str, ...],
        target: int,
        report: RebuildReport,
        writer: _Writer,
        started: datetime,
    ) -> None:
        start = model.position
        total = max(0, target - start)
        saved = time.monotonic()
        saving = 0.0
        pages = 0
        with collector_paused():
            for rows in self._pages(model.position, target, model.shard):
                model.apply_all(self.log.logged(rows))
                # The model only grows: kept out of the collector's scans, which otherwise walk
                # all of it again and again (about 40% of the fold's time at 100k events).
                gc.freeze()
                changes = model.take_changes()
                superseded = changes.superseded if HISTORY in views else []
                writer.put(appended_rows(model, views, changes), superseded, model)
                report.events += len(rows)
                pages += 1
                if pages % TRIM_EVERY == 0:
                    release_free_memory()
                self.progress(model.position - start, total, "scan")
                if self.stop.is_set():
                    return
                if time.monotonic() - saved > max(self.save_every, 10 * saving):
                    writer.flush()  # a saved position promises every row up to it is written
                    began = time.monotonic()
                    self._save(_key(views, model.shard), views, _versions(views), model, started)
                    saved = time.monotonic()
                    saving = saved - began  # grows with the model: at most a tenth of the time

    def _pages(self, after: int, up_to: int, shard: Shard | None = None) -> Iterator[list[Any]]:
        """Pages of raw rows (of a shard's events), the next one fetched while the current one
        is folded."""
        read = ShardLog(self.log, shard).page_rows if shard is not None else self.log.page_rows
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
                        rows = read(conn, position, up_to, self.page_size)
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
            if _supersessions(tables):
                conn.execute(SQL("DROP TABLE IF EXISTS {}").format(self._t(SUPERSEDED_TABLE)))
                conn.execute(
                    SQL(
                        "CREATE TABLE {} (check_in_id uuid NOT NULL, superseded_by uuid NOT NULL, "
                        "position bigint NOT NULL, shard integer NOT NULL, "
                        "n bigint GENERATED ALWAYS AS IDENTITY)"
                    ).format(self._t(SUPERSEDED_TABLE))
                )
            for table in tables:
                conn.execute(SQL("DROP TABLE IF EXISTS {}").format(self._t(table.name + SHADOW)))
                conn.execute(table.create(self.schema, SHADOW, key=not table.key_after_load))
                # No autovacuum while loading: it would scan the growing tables beside the
                # fold (and, still running at the swap, hold up its renames for a second
                # each); the indexing ANALYZEs them, and the swap turns autovacuum back on.
                conn.execute(
                    SQL("ALTER TABLE {} SET (autovacuum_enabled = false)").format(
                        self._t(table.name + SHADOW)
                    )
                )

    def _copy(self, tables: Iterable[tuple[str, list[tuple[Any, ...]]]], suffix: str) -> None:
        """COPY each table's rows, one table at a time (`entity_tables` builds the next one
        only once the previous is written and dropped)."""
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            curs.execute(WRITER_SETTINGS)
            for name, rows in tables:
                if rows:
                    copy_rows(curs, self._t(name + suffix), name, rows)
                del rows

    def _index(self, tables: Sequence[Table]) -> None:
        memory = f"{self.settings.rebuild_index_memory_mb}MB"
        with self.datastore.get_connection() as conn, conn.transaction():
            conn.execute("SELECT set_config('maintenance_work_mem', %s, true)", (memory,))
            # Between two statements this thread may wait seconds for the GIL (the final save
            # encodes the model beside it, `saved`): the pool's idle-in-transaction timeout
            # must not end the session then, as it did on a busy machine at 1M events.
            conn.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
            for table in tables:
                if table.name == SUPERSEDED_IN:
                    self._supersede(conn)
                if table.key_after_load and not self._has_key(conn, table):
                    conn.execute(table.add_key(self.schema, SHADOW))
                for statement in table.create_indexes(self.schema, SHADOW):
                    conn.execute(statement)
                conn.execute(SQL("ANALYZE {}").format(self._t(table.name + SHADOW)))

    def _supersede(self, conn: Connection[Any]) -> None:
        """The supersessions the scan met, applied to the check-ins' shadow in one statement
        (a hash join: applied before its key and index are built, the updated rows are
        indexed once), and forgotten. The latest supersession of a check-in wins, as when
        they were applied one page at a time."""
        side = self._t(SUPERSEDED_TABLE)
        conn.execute(SQL("ANALYZE {}").format(side))
        conn.execute(
            SQL(
                "UPDATE {} AS c SET superseded_by = s.superseded_by FROM (SELECT DISTINCT ON "
                "(check_in_id) check_in_id, superseded_by FROM {} ORDER BY check_in_id, n DESC) "
                "AS s WHERE c.check_in_id = s.check_in_id"
            ).format(self._t(SUPERSEDED_IN + SHADOW), side)
        )
        conn.execute(SQL("TRUNCATE {}").format(side))

    def _has_key(self, conn: Connection[Any], table: Table) -> bool:
        """Whether `table`'s shadow has its primary key already (a rebuild resumed after its
        index phase)."""
        row = conn.execute(
            "SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype = 'p'",
            (f'"{self.schema}"."{table.name + SHADOW}"',),
        ).fetchone()
        return row is not None

    # ----------------------------------------------------------------- swap

    def _swap(self, models: list[tuple[tuple[str, ...], Model | _Saved, str]], full: bool) -> int:
        """Fold what the log gained into the shadows and swap them in, in one transaction.
        `models`: (views, model, key of its saved progress), one per process or shard.

        A failed attempt is retried only if it folded nothing: otherwise a model stands past
        its rows, which the rollback took back, and a new run resumes from the saved progress.
        """
        for attempt in range(20):
            before = [model.position for _, model, _ in models]
            try:
                with self.datastore.get_connection() as conn, conn.transaction():
                    return self._swap_once(conn, models, full)
            except OperationalError:
                if attempt == 19 or [model.position for _, model, _ in models] != before:
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def _swap_once(
        self,
        conn: Connection[Any],
        models: list[tuple[tuple[str, ...], Model | _Saved, str]],
        full: bool,
    ) -> int:
        curs = conn.cursor()
        curs.execute(
            "SET LOCAL lock_timeout = '10s'; SET LOCAL idle_in_transaction_session_timeout = 0"
        )
        live, sharded = self.store.lock_all(curs)
        if sharded and not full:
            raise ShardedViews(
                "Kafka workers keep the views in shards: rebuild every view (okr rebuild --all)"
            )
        built = max(model.position for _, model, _ in models)
        position = max(live, built) if full else live
        views: list[str] = []
        for n, (group, built_model, key) in enumerate(models):
            if built_model.position < position:  # the log moved on while we read: fold it in
                model = built_model.load() if isinstance(built_model, _Saved) else built_model
                models[n] = (group, model, key)
                read = (
                    ShardLog(self.log, model.shard).page_rows
                    if model.shard is not None
                    else self.log.page_rows
                )
                while model.position < position:
                    rows = read(conn, model.position, position, self.page_size)
                    if not rows:
                        break
                    model.apply_all(self.log.logged(rows))
                    self.store.write(curs, model, model.take_changes(), group, SHADOW)
                model.position = max(model.position, position)
            curs.execute(
                SQL("DELETE FROM {} WHERE id = %s").format(self.store.rebuild_table), (key,)
            )
            views.extend(v for v in group if v not in views)
        for table in tables_of(tuple(views)):
            self._rename(curs, table)
        if position != live or sharded:
            self.store.set_position(curs, position)
        curs.execute(
            SQL(
                "UPDATE {} SET version = v.version, generation = generation + 1, "
                "built_at = now(), built_position = %s FROM unnest(%s::text[], %s::text[]) "
                "AS v(view, version) WHERE {}.view = v.view"
            ).format(self._t("okr_views"), self._t("okr_views")),
            (position, views, [VERSIONS[v] for v in views]),
        )
        return position

    def _rename(self, curs: Cursor[Any], table: Table) -> None:
        live, new, old = table.name, table.name + SHADOW, table.name + RETIRED
        curs.execute(SQL("DROP TABLE IF EXISTS {}").format(self._t(old)))
        curs.execute(
            SQL("ALTER TABLE IF EXISTS {} RENAME TO {}").format(self._t(live), Identifier(old))
        )
        curs.execute(SQL("ALTER TABLE {} RENAME TO {}").format(self._t(new), Identifier(live)))
        curs.execute(SQL("ALTER TABLE {} RESET (autovacuum_enabled)").format(self._t(live)))
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
        state = compressed_model(model, parked=False)
        with self.datastore.get_connection() as conn, conn.transaction():
            conn.execute(
                SQL(
                    "INSERT INTO {} (id, views, versions, target, position, started_at, saved_at, "
                    "state) VALUES (%s, %s, %s, 0, %s, coalesce(%s, now()), now(), %s) "
                    "ON CONFLICT (id) DO UPDATE SET versions = EXCLUDED.versions, "
                    "position = EXCLUDED.position, saved_at = now(), state = EXCLUDED.state"
                ).format(self.store.rebuild_table),
                (key, list(views), versions, model.position, started, state),
            )
            del state
            self._save_parked(conn, key, model)
        model.parked.mark_saved(key)

    def _save_parked(self, conn: Connection[Any], key: str, model: Model) -> None:
        """The parked objectives' rows beside the saved model, in their own table: only what
        changed since the last save under `key`, read from the parked file and COPYed
        `PARKED_PAGE` objectives at a time (at a million events the parked rows are hundreds
        of MB: held at once beside the indexes, they were the rebuild's peak memory)."""
        table = self._t(REBUILD_PARKED_TABLE)
        stale, fresh = model.parked.unsaved(key)
        if model.parked.saved_as != key:
            conn.execute(SQL("DELETE FROM {} WHERE id = %s").format(table), (key,))
        elif stale:
            conn.execute(
                SQL("DELETE FROM {} WHERE id = %s AND objective_id = ANY(%s)").format(table),
                (key, stale),
            )
        if not fresh:
            return
        with conn.cursor().copy(
            SQL("COPY {} (id, objective_id, rows) FROM STDIN (FORMAT BINARY)").format(table)
        ) as copy:
            copy.set_types(["text", "uuid", "bytea"])
            for page in model.parked.pages(fresh, PARKED_PAGE):
                for objective_id, document in page:
                    copy.write_row((key, objective_id, document))
                del page

    def _parked_rows(self, conn: Connection[Any], key: str) -> Iterator[tuple[UUID, bytes]]:
        """The parked objectives' rows saved under `key`, streamed."""
        yield from conn.cursor(row_factory=tuple_row).stream(
            SQL("SELECT objective_id, rows FROM {} WHERE id = %s").format(
                self._t(REBUILD_PARKED_TABLE)
            ),
            (key,),
            size=PARKED_PAGE,
        )

    def _load(self, key: str) -> Model | None:
        """The model saved under `key` (by a helper process, or an interrupted shard)."""
        with self.datastore.get_connection() as conn:
            row = conn.execute(
                SQL("SELECT state FROM {} WHERE id = %s").format(self.store.rebuild_table),
                (key,),
            ).fetchone()
            if row is None:
                return None
            return model_from_bytes(
                zlib.decompress(row["state"]),
                self.settings.checkpoint_every,
                self._parked_rows(conn, key),
                key,
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
            model = model_from_bytes(
                zlib.decompress(row["state"]),
                self.settings.checkpoint_every,
                self._parked_rows(conn, key),
                key,
            )
            with conn.transaction():
                if _supersessions(tables):
                    conn.execute(
                        SQL("DELETE FROM {} WHERE position > %s").format(self._t(SUPERSEDED_TABLE)),
                        (model.position,),
                    )
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
        names = [table.name + SHADOW for table in tables]
        if _supersessions(tables):
            names.append(SUPERSEDED_TABLE)
        for name in names:
            row = conn.execute(
                "SELECT to_regclass(%s) AS found", (f'"{self.schema}"."{name}"',)
            ).fetchone()
            if row is None or row["found"] is None:
                return False
        return True


def _key(views: Sequence[str], shard: Shard | None = None) -> str:
    """Names a rebuild's saved progress: its views, and its shard."""
    return ",".join(views) + (f"#{shard.name}" if shard is not None else "")


OWNERS = {
    "view_audit": "entity_id",
    "view_audit_titles": "objective_id",
    "view_history_check_ins": "objective_id",
    "view_tt_objectives": "objective_id",
}
"""The column naming the aggregate an append-only row belongs to (its shard's)."""


def _owner(table: str, shard: Shard) -> tuple[str, tuple[int, ...]]:
    """A condition selecting `shard`'s rows of an append-only table, and its parameters."""
    if table == "view_tt_checkpoints":
        return "shard = %s AND shards = %s", (shard.index, shard.count)
    column = OWNERS.get(table)
    if column is None:  # rows of no aggregate (the organisation's documents): shard 0's
        return ("true" if shard.index == 0 else "false"), ()
    return f"{shard_sql(column)} = %s", (shard.count, shard.index)


SUPERSEDED_IN = "view_history_check_ins"
"""The table whose rows supersessions change (`superseded_by`)."""


def _supersessions(tables: Sequence[Table]) -> bool:
    """Whether a rebuild of `tables` keeps the supersessions it meets (`SUPERSEDED_TABLE`)."""
    return any(table.name == SUPERSEDED_IN for table in tables)


def _versions(views: Sequence[str]) -> str:
    return ",".join(VERSIONS[v] for v in views)


WRITER_SETTINGS = (
    "SET LOCAL idle_in_transaction_session_timeout = 0; SET LOCAL synchronous_commit = off"
)
"""For the writer's transactions. Between its COPYs the writer thread waits for the GIL, for
seconds while the model is encoded: the pool's idle-in-transaction timeout (eventsourcing's
default 5 s) must not end its session then. Its commits need not wait for the disk: the
saved progress is committed durably after them (a durable commit flushes every earlier one),
and rows beyond a saved position are deleted on resume."""


PARKED_PAGE = 500
"""Parked objectives read from the parked file (or from a saved rebuild) at a time."""


@dataclass
class _Saved:
    """A helper's shard as it saved itself, loaded only if the swap has events to fold into it
    (the log moved on while the shards were built): at a million events the load alone takes
    longer than the indexes."""

    rebuild: Rebuild
    key: str
    position: int

    def load(self) -> Model:
        model = self.rebuild._load(self.key)
        if model is None:
            raise RuntimeError("a helper process saved no model")
        return model


class _Writer:
    """COPYs a scan's rows on its own connection and thread, so the database's work on one page
    overlaps the folding of the next."""

    def __init__(self, rebuild: Rebuild) -> None:
        self.rebuild = rebuild
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="okr-rebuild-writer", daemon=True)
        self.thread.start()

    def put(
        self, rows: dict[str, list[tuple[Any, ...]]], superseded: list[Any], model: Model
    ) -> None:
        """A page's rows, and its supersessions (kept aside with the page's position and the
        model's shard until the index phase: `Rebuild._supersede`)."""
        self._check()
        if any(rows.values()) or superseded:
            shard = model.shard.index if model.shard is not None else 0
            pending = [(a, b, model.position, shard) for a, b in superseded]
            self.queue.put((rows, pending))

    def flush(self) -> None:
        """Wait until everything put so far is committed."""
        self.queue.join()
        self._check()

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(30)

    def _check(self) -> None:
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        rebuild = self.rebuild
        with rebuild.datastore.get_connection() as conn:
            while True:
                item = self.queue.get()
                try:
                    if item is None:
                        return
                    if self.error is None:
                        rows, superseded = item
                        with conn.transaction(), conn.cursor() as curs:
                            curs.execute(WRITER_SETTINGS)
                            for name, table_rows in rows.items():
                                if table_rows:
                                    copy_rows(curs, rebuild._t(name + SHADOW), name, table_rows)
                            if superseded:
                                with curs.copy(
                                    SQL(
                                        "COPY {} (check_in_id, superseded_by, position, shard) "
                                        "FROM STDIN"
                                    ).format(rebuild._t(SUPERSEDED_TABLE))
                                ) as copy:
                                    for row in superseded:
                                        copy.write_row(row)
                except BaseException as error:
                    self.error = error
                finally:
                    self.queue.task_done()


def _helper_main() -> None:
    """The helper process: build the shadow tables of the views in the job read from stdin."""
    job = orjson.loads(sys.stdin.buffer.read())
    ledger = helper_ledger(job["env"])
    settings = get_settings().model_copy(update={"checkpoint_every": job["checkpoint_every"]})
    rebuild = Rebuild(
        ledger, settings, page_size=job["page_size"], save_every=job["save_every"], workers=1
    )
    views = tuple(job["views"])
    shard = Shard(*job["shard"])
    report = RebuildReport(views)
    try:
        with rebuild.datastore.get_connection() as lock:
            # One builder per group of shadow tables, even if an old helper is still dying.
            key = _key(views, shard)
            lock.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"{LOCK_KEY}:{key}",))
            with collector_paused():
                model = rebuild.build(views, int(job["target"]), report, shard)
                rebuild.saved(report)
    except KeyboardInterrupt:
        print(orjson.dumps({"interrupted": True, "events": report.events}).decode())
        sys.exit(130)
    finally:
        ledger.close()
    print(
        orjson.dumps(
            {
                "interrupted": model is None,
                "events": report.events,
                "position": model.position if model is not None else None,
                "seconds": report.seconds,
                "resumed_from": report.resumed_from,
            }
        ).decode()
    )


if __name__ == "__main__":
    _helper_main()

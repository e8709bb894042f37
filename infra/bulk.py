"""The bulk write path: many events in one transaction under the hash chain, written by a
thread of their own while the caller goes on deciding the next ones (docs/performance.md,
"Bulk path"; docs/import.md).

A :class:`BulkWriter` opens one transaction on the chained store, takes the events table's
lock (``LOCK TABLE … IN EXCLUSIVE MODE``, as every save does), and then takes events in
chunks: each chunk is encoded as the application's mapper would encode it (the typed encoder,
`infra.event_encoding`: the same bytes, faster), numbered
from the events' sequence, linked onto the chain by the client (:func:`infra.chainhash.link_hash`)
and inserted with its links as typed binary arrays, all by the writer's thread. The caller's
thread meanwhile plans the next events; the two overlap where it counts, the server's work on
one core and the planning on the other. :meth:`BulkWriter.commit` commits everything at once;
:meth:`BulkWriter.abort` (or an error on either side) rolls everything back: all or nothing.

Each event may be written with an instant of its own (the demo's simulated clock, an import's
definition time): the links' commit times are those instants floored at the chain head's and
at each other's, so commit times never go back, exactly as :func:`infra.chain.importing_history`
floors them. The links are the ones a save of the same events would have written: the same ids
in the same order, the same hashes.
"""

from __future__ import annotations

import gc
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Mapper, OperationalError
from psycopg.sql import SQL, Identifier

from infra.chain import GENESIS_POSITION, ChainedApplicationRecorder
from infra.chainhash import GENESIS_HASH, link_hash
from infra.event_encoding import TypedEncoder

CHUNK = 2000
"""Events the writer's thread takes at a time (one id query, then inserts of `STATEMENT`)."""

STATEMENT = 1000
"""Events per insert statement (and as many links per links statement)."""

IDLE_SECONDS = 120.0
"""The writer gives up (and rolls back) when its caller sends nothing for this long."""

_COMMIT = object()
_ABORT = object()


_pauses = 0
_was_enabled = False
_pauses_lock = threading.Lock()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block (an import's read, plan and write),
    back on when the last such block ends (they may overlap in a server's threads).

    A bulk write builds hundreds of thousands of objects that all stay alive until it ends
    (rows, records, events, check-ins): each of the collector's passes over the growing heap
    finds nothing to free, and together they cost as much CPU as the planning itself
    (docs/performance.md, session 8). Reference counting still frees everything else at once;
    what only the collector frees (cycles) waits for the end of the block, at most the size of
    one file's import (`OKR_IMPORT_MAX_BYTES`)."""
    global _pauses, _was_enabled
    with _pauses_lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pauses_lock:
            _pauses -= 1
            if _pauses == 0 and _was_enabled:
                gc.enable()


class BulkAborted(Exception):
    """The bulk write was rolled back on request: nothing was written."""


class BulkWriter:
    """One transaction of many events on the chained store, written by a thread of its own.

    Use as a context manager: ``write(events, at)`` queues events (their commit instant, or
    ``None`` for the transaction's own clock), ``commit()`` commits and answers the ids; leaving
    the block without committing, or any error, rolls back. The table lock is held from the
    first chunk to the commit, as one long save would hold it.
    """

    def __init__(
        self,
        recorder: ChainedApplicationRecorder,
        mapper: Mapper[Any],
        *,
        imported: bool,
        chunk: int = CHUNK,
    ) -> None:
        self.recorder = recorder
        self.mapper = mapper
        self.encoder = TypedEncoder(mapper)
        self.imported = imported
        self.chunk = chunk
        self.ids: list[int] = []
        self.thread_cpu = 0.0
        """Seconds of CPU the writer's thread spent (encoding, hashing, sending; for the bench)."""
        self._pending: list[DomainEventProtocol[Any]] = []
        self._pending_at: list[datetime | None] = []
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=64)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._committed = False
        schema = Identifier(recorder.datastore.schema)
        qualified = f"{recorder.datastore.schema}.{recorder.events_table_name}"
        self._head_statement = SQL(
            "SELECT h.position, h.hash, h.committed_at, clock_timestamp() AS now "
            "FROM (SELECT 1) AS one LEFT JOIN (SELECT position, hash, committed_at "
            "FROM {schema}.{chain} ORDER BY position DESC LIMIT 1) AS h ON true"
        ).format(schema=schema, chain=Identifier(recorder.chain_table_name))
        self._ids_statement = SQL(
            "SELECT ARRAY(SELECT nextval(pg_get_serial_sequence({events}, 'notification_id')) "
            "FROM generate_series(1, %(n)s) ORDER BY 1) AS ids"
        ).format(events=qualified)
        self._links_statement = SQL(
            "INSERT INTO {schema}.{chain} (position, prev_position, committed_at, hash, imported) "
            "SELECT position, prev_position, committed_at, hash, %(imported)s "
            "FROM unnest(%(positions)b::bigint[], %(prev_positions)b::bigint[], "
            "%(committed_at)b::timestamptz[], %(hashes)b::bytea[]) "
            "AS u(position, prev_position, committed_at, hash)"
        ).format(schema=schema, chain=Identifier(recorder.chain_table_name))

    # ------------------------------------------------------------------ the caller's side

    def __enter__(self) -> BulkWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self._committed:
            self.abort()

    def write(self, events: Sequence[DomainEventProtocol[Any]], at: datetime | None) -> None:
        """Queue `events`, committed at `at` (floored; ``None``: the transaction's clock)."""
        self._raise_if_failed()
        self._pending.extend(events)
        self._pending_at.extend([at] * len(events))
        if len(self._pending) >= self.chunk:
            self._send()

    def commit(self) -> list[int]:
        """Write what is queued, commit, and answer every event's notification id in order."""
        self._send()
        if self._thread is None:
            self._committed = True
            return self.ids
        self._put(_COMMIT)
        self._join()
        self._raise_if_failed()
        self._committed = True
        return self.ids

    def abort(self) -> None:
        """Roll everything back (nothing written); waits for the writer's thread."""
        if self._thread is None or not self._thread.is_alive():
            return
        self._pending.clear()
        self._pending_at.clear()
        self._put(_ABORT)
        self._join()

    def _send(self) -> None:
        if self._pending and self._thread is None:
            # The transaction (and the table lock) begins with the first chunk.
            self._thread = threading.Thread(target=self._run, name="okr-bulk-writer", daemon=True)
            self._thread.start()
        if self._pending:
            self._put((self._pending, self._pending_at))
            self._pending, self._pending_at = [], []

    def _put(self, item: Any) -> None:
        while self._thread is not None and self._thread.is_alive():
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _join(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    # ------------------------------------------------------------------ the writer's side

    def _run(self) -> None:
        began = time.thread_time()
        try:
            self._write()
        finally:
            self.thread_cpu = time.thread_time() - began

    def _write(self) -> None:
        recorder = self.recorder
        try:
            with (
                recorder.datastore.get_connection() as conn,
                conn.transaction(),
                conn.cursor() as curs,
            ):
                # The caller plans between chunks: the transaction may wait for it.
                curs.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
                recorder._lock_table(curs)
                recorder._notify_channel(curs)
                head = curs.execute(self._head_statement, prepare=False).fetchone()
                assert head is not None
                prev_position = (
                    head["position"] if head["position"] is not None else GENESIS_POSITION
                )
                prev_hash = bytes(head["hash"]) if head["hash"] is not None else GENESIS_HASH
                now: datetime = head["now"]
                floor: datetime | None = head["committed_at"]
                while True:
                    try:
                        item = self._queue.get(timeout=IDLE_SECONDS)
                    except queue.Empty:
                        raise BulkAborted("the bulk write's caller went silent") from None
                    if item is _COMMIT:
                        break
                    if item is _ABORT:
                        raise BulkAborted
                    events, ats = item
                    prev_position, prev_hash, floor = self._chunk(
                        curs, events, ats, prev_position, prev_hash, floor, now
                    )
        except BulkAborted:
            self.ids = []
        except BaseException as error:
            self.ids = []
            self._error = error
            if isinstance(error, psycopg.IntegrityError):
                # Another writer saved one of these aggregates first: a conflict (409).
                self._error = IntegrityError(str(error))
            elif isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
                # The lock timed out, or the database went away: busy or unreachable (503).
                self._error = OperationalError(str(error))
            self._error.__cause__ = error
            # The caller's next write raises it; drained, so no put stays blocked.
            while not self._queue.empty():
                self._queue.get_nowait()

    def _chunk(
        self,
        curs: Any,
        events: Sequence[DomainEventProtocol[Any]],
        ats: Sequence[datetime | None],
        prev_position: int,
        prev_hash: bytes,
        floor: datetime | None,
        now: datetime,
    ) -> tuple[int, bytes, datetime | None]:
        originator_ids, versions, topics, states = self.encoder.encode_all(events)
        row = curs.execute(self._ids_statement, {"n": len(states)}, prepare=True).fetchone()
        ids: list[int] = row["ids"]
        hashes: list[bytes] = []
        prev_positions: list[int] = []
        times: list[datetime] = []
        for position, originator_id, version, topic, state, at in zip(
            ids, originator_ids, versions, topics, states, ats, strict=True
        ):
            prev_hash = link_hash(prev_hash, position, str(originator_id), version, topic, state)
            hashes.append(prev_hash)
            prev_positions.append(prev_position)
            prev_position = position
            instant = at or now
            if floor is not None and floor > instant:
                instant = floor
            floor = instant
            times.append(instant)
        for start in range(0, len(states), STATEMENT):
            end = start + STATEMENT
            curs.execute(
                self.recorder.statements.bulk_events,
                {
                    "ids": ids[start:end],
                    "originator_ids": originator_ids[start:end],
                    "versions": versions[start:end],
                    "topics": topics[start:end],
                    "states": states[start:end],
                },
                prepare=True,
            )
            curs.execute(
                self._links_statement,
                {
                    "positions": ids[start:end],
                    "prev_positions": prev_positions[start:end],
                    "committed_at": times[start:end],
                    "hashes": hashes[start:end],
                    "imported": self.imported,
                },
                prepare=True,
            )
        self.ids.extend(ids)
        return prev_position, prev_hash, floor


def history_writer(
    app: Application[Any],
) -> Callable[[Sequence[tuple[datetime | None, Sequence[DomainEventProtocol[Any]]]]], int]:
    """Writes a history's saves (each an instant and its events, in order) into `app`'s
    chained store in one bulk transaction, flagged imported, each committed at its instant
    floored at the one before (`load_demo`'s `history_writer`). Answers the events written."""
    recorder = app.recorder
    if not isinstance(recorder, ChainedApplicationRecorder):
        msg = f"{type(recorder).__name__} has no bulk path"
        raise TypeError(msg)

    def write(saves: Sequence[tuple[datetime | None, Sequence[DomainEventProtocol[Any]]]]) -> int:
        with BulkWriter(recorder, app.mapper, imported=True) as writer:
            for at, events in saves:
                writer.write(events, at)
            return len(writer.commit())

    return write

"""The hash-chained event store: every stored event gets a chain link in the same transaction.

Links live in ``<events_table>_chain``, one row per notification::

    position       bigint PRIMARY KEY   -- the event's notification id
    prev_position  bigint NOT NULL      -- the previous link's position (0 before the first)
    committed_at   timestamptz NOT NULL -- database time under the insert lock, never decreasing
    hash           bytea NOT NULL       -- infra.chainhash.link_hash(previous hash, event...)

eventsourcing's insert takes ``LOCK TABLE <events> IN EXCLUSIVE MODE`` before inserting, so the
chain head is read and extended under that same lock: inserts from any number of threads and
processes extend one chain in commit order. One statement inserts the events and their links,
hashed by the server (``sha256()``) exactly as :func:`infra.chainhash.link_hash` specifies. ``prev_position`` is not hashed; it only lets the
verifier tell a removed link (a deletion) from a legitimate gap, because notification ids skip
the values consumed by rolled-back inserts.
"""

from __future__ import annotations

import threading
from collections import deque
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import psycopg
from eventsourcing.persistence import (
    ApplicationRecorder,
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresProcessRecorder,
)
from eventsourcing.utils import retry
from psycopg.rows import TupleRow, tuple_row
from psycopg.sql import SQL, Composed, Identifier

from infra.chainhash import GENESIS_HASH, link_hash
from infra.idempotency import Claim, KeyAlreadyWritten, already_written, current_claim
from infra.verifications import VERIFICATIONS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from uuid import UUID

    from psycopg import Connection, Cursor
    from psycopg.rows import DictRow

GENESIS_POSITION = 0
"""The ``prev_position`` of the first link."""

VERIFY_PAGE_SIZE = 5000

ChainProblem = Literal["edited", "deleted", "inserted", "reordered"]


_import_time: ContextVar[datetime | None] = ContextVar("okrledger_import_time", default=None)


@contextmanager
def importing_history(at: datetime) -> Iterator[Callable[[datetime], None]]:
    """Record the writes made in this block (this thread) as committed at `at`.

    For loading history that happened elsewhere or earlier (the demo organisation, a migration),
    so that time travel over it shows the moments it describes. The links are flagged
    `imported`, and `at` is still floored at the chain head's time: commit times never go back.
    Yields a function that moves the import clock on, for imports that replay a timeline.
    """

    def advance(to: datetime) -> None:
        if to.tzinfo is None:
            raise ValueError("an import time must be timezone-aware")
        _import_time.set(to)

    if at.tzinfo is None:
        raise ValueError("an import time must be timezone-aware")
    token = _import_time.set(at)
    try:
        yield advance
    finally:
        _import_time.reset(token)


def chain_table_name(events_table_name: str) -> str:
    """The chain table that accompanies an events table."""
    return f"{events_table_name}_chain"


@dataclass(eq=False)
class PendingWrite:
    """One save waiting in :class:`GroupCommit`: what it writes, and then its outcome."""

    stored_events: Sequence[StoredEvent]
    kwargs: dict[str, Any]
    claim: Claim | None
    imported_at: datetime | None
    ids: Sequence[int] | None = None
    error: BaseException | None = None
    finished: bool = False
    lead: bool = False
    """Set when this save's thread is to commit the next batch (its own included)."""
    wake: threading.Event = field(default_factory=threading.Event)


BULK_EVENTS = 64
"""A save of at least this many events takes the bulk insert (ids and hashes made by the client,
one pass) instead of the server-side recursive statement, whose cost grows faster than its
length."""

BULK_CHUNK = 500
"""Events per statement of a bulk insert."""

MAX_BATCH_WRITES = 64
"""At most this many saves share one transaction."""


class GroupCommit:
    """Group commit: the saves that arrive while a commit is in flight go out together next.

    No thread of its own: the first save to arrive while no commit is in flight leads, i.e.
    takes every save waiting (its own included, at most ``max_writes``), commits them with
    ``commit_batch``, wakes their threads, and hands the lead to the oldest save that arrived
    meanwhile. A save that finds a leader waits to be woken with its outcome, or to lead the
    next batch. So one transaction is in flight per recorder at a time, a lone save commits at
    once, and under load each commit carries every save that queued behind the last one.
    """

    def __init__(
        self,
        commit_batch: Callable[[Sequence[PendingWrite]], None],
        max_writes: int = MAX_BATCH_WRITES,
    ) -> None:
        self._commit_batch = commit_batch
        self._max_writes = max_writes
        self._lock = threading.Lock()
        self._queue: deque[PendingWrite] = deque()
        self._leading = False
        self.batches = 0
        """Transactions committed (or tried) so far, for the benchmarks and tests."""
        self.writes = 0
        """Saves they carried."""

    def submit(self, write: PendingWrite) -> Sequence[int] | None:
        """Queue ``write``, wait until it is committed or refused, and answer its ids."""
        with self._lock:
            self._queue.append(write)
            if not self._leading:
                self._leading = True
                write.lead = True
        while not write.finished:
            if write.lead:
                self._lead()  # the oldest save waiting leads: its own is in the batch
            else:
                write.wake.wait()
                write.wake.clear()
        if write.error is not None:
            raise write.error
        return write.ids

    def _lead(self) -> None:
        with self._lock:
            size = min(len(self._queue), self._max_writes)
            batch = [self._queue.popleft() for _ in range(size)]
        try:
            self._commit_batch(batch)
        except BaseException as error:  # pragma: no cover - commit_batch reports per write
            for write in batch:
                write.error = error
        finally:
            with self._lock:
                self.batches += 1
                self.writes += len(batch)
                for write in batch:
                    write.finished = True
                    write.wake.set()
                if self._queue:
                    successor = self._queue[0]
                    successor.lead = True
                    successor.wake.set()
                else:
                    self._leading = False


def _refusal(error: psycopg.Error, write: PendingWrite) -> BaseException:
    """A refused save's error, as eventsourcing's datastore would raise it."""
    refused: BaseException
    if isinstance(error, psycopg.IntegrityError):
        refused = IntegrityError(str(error))
        refused.__cause__ = error
        return refused
    refused = DataError(str(error))
    refused.__cause__ = error
    if write.claim is not None and isinstance(refused, DataError) and already_written(refused):
        keyed = KeyAlreadyWritten(str(error))
        keyed.__cause__ = refused
        return keyed
    return refused


class ChainedApplicationRecorder(PostgresApplicationRecorder):
    """A PostgreSQL application recorder that appends hash-chain links as it inserts events."""

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        events_table_name: str = "stored_events",
    ) -> None:
        if datastore.enable_db_functions:
            # The database-function insert path skips the table lock and these hooks.
            msg = "the hash-chained recorder needs POSTGRES_ENABLE_DB_FUNCTIONS off"
            raise ProgrammingError(msg)
        super().__init__(datastore, events_table_name=events_table_name)
        # Database functions stay off, so the insert function is never needed; replacing it on
        # every start also races ("tuple concurrently updated") when processes start together.
        del self.sql_create_statements[self.create_insert_function_statement_index]
        self.chain_table_name = chain_table_name(events_table_name)
        self.check_identifier_length(self.chain_table_name)
        schema = Identifier(datastore.schema)
        chain = Identifier(self.chain_table_name)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{chain} ("
                "position bigint PRIMARY KEY, "
                "prev_position bigint NOT NULL, "
                "committed_at timestamptz NOT NULL, "
                "hash bytea NOT NULL, "
                "imported boolean NOT NULL DEFAULT false)"
            ).format(schema=schema, chain=chain)
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE INDEX IF NOT EXISTS {index} ON {schema}.{chain} (committed_at, position)"
            ).format(
                index=Identifier(f"{self.chain_table_name}_time_idx"),
                schema=schema,
                chain=chain,
            )
        )
        self._insert_chained_statement = self._chained_insert(schema, chain)
        self._qualified_chain = Composed([schema, SQL("."), chain])

    def _chained_insert(self, schema: Identifier, chain: Identifier) -> Composed:
        """One statement that inserts the events and their chain links, hashed by the server.

        It runs after ``LOCK TABLE``, so no other writer can move the chain head it reads. The
        links are hashed in SQL with the byte layout of :func:`infra.chainhash.link_hash`
        (``int8send``/``int4send`` are big-endian; lengths stay far below 2**31), folded in
        notification-id order by a recursive query, and inserted with one clock reading floored
        at the head's time. Writing the links costs no round trip of its own while the table
        is locked. The statement's own rows are the new notification ids.
        """
        return SQL(
            "WITH RECURSIVE "
            "head AS (SELECT position, hash, committed_at FROM {schema}.{chain} "
            "ORDER BY position DESC LIMIT 1), "
            "ins AS (INSERT INTO {schema}.{events} AS t "
            "(originator_id, originator_version, topic, state) "
            "SELECT originator_id, originator_version, topic, state "
            "FROM unnest(%(events)s::{schema}.{stored_event_type}[]) "
            "RETURNING notification_id, originator_id, "
            "originator_version, topic, state), "
            "body AS (SELECT array_agg(notification_id ORDER BY notification_id) AS ids, "
            "array_agg("
            "int8send(notification_id) "
            "|| int4send(octet_length(convert_to(originator_id::text, 'UTF8'))) "
            "|| convert_to(originator_id::text, 'UTF8') "
            "|| int8send(originator_version) "
            "|| int4send(octet_length(convert_to(topic, 'UTF8'))) "
            "|| convert_to(topic, 'UTF8') "
            "|| int8send(octet_length(state)) || state "
            "ORDER BY notification_id) AS bodies FROM ins), "
            "links (n, position, prev_position, hash) AS ("
            "SELECT 1, (SELECT ids[1] FROM body), "
            "COALESCE((SELECT position FROM head), {genesis_position}), "
            "sha256(COALESCE((SELECT hash FROM head), %(genesis)s) "
            "|| (SELECT bodies[1] FROM body)) "
            "UNION ALL "
            "SELECT l.n + 1, (SELECT ids FROM body)[l.n + 1], l.position, "
            "sha256(l.hash || (SELECT bodies FROM body)[l.n + 1]) "
            "FROM links l WHERE l.n < (SELECT cardinality(ids) FROM body)) "
            "INSERT INTO {schema}.{chain} (position, prev_position, committed_at, hash, imported) "
            "SELECT l.position, l.prev_position, t.committed_at, l.hash, %(imported)s "
            "FROM links l CROSS JOIN (SELECT GREATEST("
            "COALESCE(%(imported_at)s::timestamptz, clock_timestamp()), "
            "(SELECT committed_at FROM head)) AS committed_at) AS t "
            "RETURNING position AS notification_id"
        ).format(
            schema=schema,
            chain=chain,
            events=Identifier(self.events_table_name),
            stored_event_type=Identifier(self.stored_event_type_name),
            genesis_position=GENESIS_POSITION,
        )

    def _create_table(self, curs: Cursor[DictRow]) -> None:
        # CREATE ... IF NOT EXISTS is not safe against a concurrent creator: serialise creators.
        curs.execute(
            SQL("SELECT pg_advisory_xact_lock(hashtext(%s))"),
            (f"okrledger:create:{self.datastore.schema}.{self.events_table_name}",),
        )
        super()._create_table(curs)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert events and their links, committed with the other saves waiting (group commit).

        The saves that arrive while a commit is in flight wait for it, then go out together in
        one transaction: one table lock, one ``NOTIFY``, one durable commit (one WAL flush)
        for all of them (:class:`GroupCommit`). Each save keeps its own outcome: it runs in a
        savepoint of its own, so a stale version (``IntegrityError``, a 409) or a key written
        already (:class:`~infra.idempotency.KeyAlreadyWritten`) refuses that save alone and
        the others commit. A save that arrives while nothing is in flight commits at once, as
        before (no waiting at low load).

        Within the transaction the saves take their notification ids and chain links in the
        order they arrived, under the table lock, so ids stay in commit order and the chain
        extends exactly as if they had been committed one by one.

        A write made for a request with an ``Idempotency-Key`` (a :class:`infra.idempotency.Claim`
        is current) also marks that key ``written`` in its savepoint, or fails with
        :class:`~infra.idempotency.KeyAlreadyWritten` when the key was written already.
        """
        if not stored_events:
            nothing: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
            return nothing
        write = PendingWrite(stored_events, kwargs, current_claim(), _import_time.get())
        return self.group_commit.submit(write)

    def _commit_batch(self, batch: Sequence[PendingWrite]) -> None:
        """Commit ``batch`` in one transaction, a savepoint per write; each write gets its ids
        or its own error. An error outside a write's savepoint (the lock, the commit, the
        connection) is every write's error. A batch of one (no other save waited) is committed
        as before group commit: no savepoint, one round trip (:meth:`_commit_alone`)."""
        if len(batch) == 1 and len(batch[0].stored_events) < BULK_EVENTS:
            self._commit_alone(batch[0])
            return
        try:
            with (
                self.datastore.get_connection() as conn,
                conn.pipeline() as pipeline,
                conn.transaction(),
            ):
                with conn.cursor() as curs:
                    self._lock_table(curs)
                    self._notify_channel(curs)
                for write in batch:
                    self._write_in_savepoint(conn, pipeline, write)
                for write in batch:
                    if write.claim is not None and write.error is None:
                        write.claim.crash("before_commit", pipeline.sync)
                if len(batch) > 1:
                    # Fault injection: the process dies with a batch of several saves
                    # inserted and not yet committed.
                    for write in batch:
                        if write.claim is not None:
                            write.claim.crash("mid_batch", pipeline.sync)
            for write in batch:
                if write.claim is not None and write.error is None:
                    write.claim.crash("after_commit")
        except BaseException as error:
            for write in batch:
                write.ids = None
                write.error = error
            return

    def _commit_alone(self, write: PendingWrite) -> None:
        """One save in its own transaction: ``BEGIN``, the lock, ``NOTIFY``, the chained insert
        (and the key's mark) and ``COMMIT`` in one pipeline; the new ids read afterwards."""
        claim = write.claim
        token = _import_time.set(write.imported_at)
        try:
            with self.datastore.get_connection() as conn, conn.cursor() as curs:
                with conn.pipeline() as pipeline, conn.transaction():
                    with conn.cursor() as tracking_curs:
                        self._insert_events(tracking_curs, write.stored_events, **write.kwargs)
                    self._insert_stored_events(curs, write.stored_events)
                    if claim is not None:
                        with conn.cursor() as claim_curs:
                            claim.record_write(
                                claim_curs,
                                write.stored_events,
                                self._qualified_chain,
                                write.kwargs.get("command_result"),
                            )
                        claim.crash("before_commit", pipeline.sync)
                if claim is not None:
                    claim.crash("after_commit")
                write.ids = self._fetch_ids_after_insert_events(curs, write.stored_events)
        except DataError as error:
            keyed = claim is not None and already_written(error)
            write.error = KeyAlreadyWritten(str(error)) if keyed else error
            if keyed:
                write.error.__cause__ = error
        except BaseException as error:
            write.error = error
        finally:
            _import_time.reset(token)

    def _write_in_savepoint(
        self, conn: Connection[DictRow], pipeline: psycopg.Pipeline, write: PendingWrite
    ) -> None:
        token = _import_time.set(write.imported_at)
        try:
            with conn.transaction(), conn.cursor() as curs:
                with conn.cursor() as tracking_curs:
                    self._insert_events(tracking_curs, write.stored_events, **write.kwargs)
                bulk_ids = (
                    self._insert_bulk(curs, pipeline, write)
                    if len(write.stored_events) >= BULK_EVENTS
                    else None
                )
                if bulk_ids is None:
                    self._insert_chained(curs, write.stored_events)
                if write.claim is not None:
                    with conn.cursor() as claim_curs:
                        write.claim.record_write(
                            claim_curs,
                            write.stored_events,
                            self._qualified_chain,
                            write.kwargs.get("command_result"),
                        )
                # The savepoint's errors surface here, inside it: it alone is rolled back.
                pipeline.sync()
                write.ids = (
                    self._fetch_ids_after_insert_events(curs, write.stored_events)
                    if bulk_ids is None
                    else bulk_ids
                )
        except (psycopg.IntegrityError, psycopg.DataError) as error:
            write.error = _refusal(error, write)
        finally:
            _import_time.reset(token)

    def _insert_bulk(
        self, curs: Cursor[DictRow], pipeline: psycopg.Pipeline, write: PendingWrite
    ) -> list[int]:
        """Insert a large save's events and links with their ids and hashes made here, in one
        pass: the ids are taken from the events' sequence under the table lock (one round
        trip, with the chain head and the clock), each link hashed with
        :func:`infra.chainhash.link_hash` onto the previous one, and the events and links sent
        as two array inserts. The links are the ones the server-side statement would write,
        byte for byte (same ids in the same order, same hashes, one commit time)."""
        events = write.stored_events
        curs.execute(self._bulk_head_statement, {"n": len(events)}, prepare=True)
        pipeline.sync()
        head = curs.fetchone()
        assert head is not None
        ids: list[int] = head["ids"]
        prev_position = head["position"] if head["position"] is not None else GENESIS_POSITION
        prev_hash = bytes(head["hash"]) if head["hash"] is not None else GENESIS_HASH
        committed_at = write.imported_at or head["now"]
        if head["committed_at"] is not None and head["committed_at"] > committed_at:
            committed_at = head["committed_at"]
        hashes: list[bytes] = []
        prev_positions: list[int] = []
        for position, e in zip(ids, events, strict=True):
            prev_hash = link_hash(
                prev_hash, position, str(e.originator_id), e.originator_version, e.topic, e.state
            )
            hashes.append(prev_hash)
            prev_positions.append(prev_position)
            prev_position = position
        imported = write.imported_at is not None
        # In chunks, each synced: a pipeline that sends megabytes without reading can stall
        # (seen with psycopg 3.3, docs/audit.md).
        for start in range(0, len(events), BULK_CHUNK):
            end = start + BULK_CHUNK
            curs.execute(
                self._bulk_events_statement,
                {
                    "ids": ids[start:end],
                    "originator_ids": [e.originator_id for e in events[start:end]],
                    "versions": [e.originator_version for e in events[start:end]],
                    "topics": [e.topic for e in events[start:end]],
                    "states": [e.state for e in events[start:end]],
                },
                prepare=True,
            )
            curs.execute(
                self._bulk_links_statement,
                {
                    "positions": ids[start:end],
                    "prev_positions": prev_positions[start:end],
                    "committed_at": committed_at,
                    "hashes": hashes[start:end],
                    "imported": imported,
                },
                prepare=True,
            )
            if end < len(events):
                pipeline.sync()
        return ids

    @cached_property
    def _bulk_head_statement(self) -> Composed:
        schema = Identifier(self.datastore.schema)
        qualified_events = f"{self.datastore.schema}.{self.events_table_name}"
        return SQL(
            "SELECT h.position, h.hash, h.committed_at, clock_timestamp() AS now, "
            "ARRAY(SELECT nextval(pg_get_serial_sequence({events}, 'notification_id')) "
            "FROM generate_series(1, %(n)s) ORDER BY 1) AS ids "
            "FROM (SELECT 1) AS one LEFT JOIN (SELECT position, hash, committed_at "
            "FROM {schema}.{chain} ORDER BY position DESC LIMIT 1) AS h ON true"
        ).format(
            events=qualified_events,
            schema=schema,
            chain=Identifier(self.chain_table_name),
        )

    @cached_property
    def _bulk_events_statement(self) -> Composed:
        schema = Identifier(self.datastore.schema)
        return SQL(
            "INSERT INTO {schema}.{events} "
            "(notification_id, originator_id, originator_version, topic, state) "
            # Typed arrays in binary: no text escaping of the states.
            "SELECT * FROM unnest(%(ids)b::bigint[], %(originator_ids)b::{id_type}[], "
            "%(versions)b::bigint[], %(topics)b::text[], %(states)b::bytea[])"
        ).format(
            schema=schema,
            events=Identifier(self.events_table_name),
            id_type=SQL(self.datastore.originator_id_type),
        )

    @cached_property
    def _bulk_links_statement(self) -> Composed:
        return SQL(
            "INSERT INTO {chain} (position, prev_position, committed_at, hash, imported) "
            "SELECT position, prev_position, %(committed_at)s::timestamptz, hash, %(imported)s "
            "FROM unnest(%(positions)b::bigint[], %(prev_positions)b::bigint[], "
            "%(hashes)b::bytea[]) AS u(position, prev_position, hash)"
        ).format(chain=self._qualified_chain)

    def select_events_after(
        self, after: Sequence[tuple[UUID | str, int]]
    ) -> dict[UUID | str, list[StoredEvent]]:
        """The events of several aggregates after the versions given, in one query (one round
        trip): what fast-forwarding several cached aggregates needs (an objective and its
        cycle, for every objective command). Each aggregate's events in version order; an
        aggregate with none is absent."""
        found: dict[UUID | str, list[StoredEvent]] = {}
        if not after:
            return found
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                self._select_after_statement,
                {
                    "ids": [originator_id for originator_id, _ in after],
                    "versions": [version for _, version in after],
                },
                prepare=True,
            )
            for row in curs.fetchall():
                found.setdefault(row["originator_id"], []).append(
                    StoredEvent(
                        originator_id=row["originator_id"],
                        originator_version=row["originator_version"],
                        topic=row["topic"],
                        state=bytes(row["state"]),
                    )
                )
        return found

    @cached_property
    def _select_after_statement(self) -> Composed:
        return SQL(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state "
            "FROM unnest(%(ids)s::{id_type}[], %(versions)s::bigint[]) AS a(id, version) "
            "JOIN {schema}.{events} AS e "
            "ON e.originator_id = a.id AND e.originator_version > a.version "
            "ORDER BY e.originator_id, e.originator_version"
        ).format(
            schema=Identifier(self.datastore.schema),
            events=Identifier(self.events_table_name),
            id_type=SQL(self.datastore.originator_id_type),
        )

    @cached_property
    def group_commit(self) -> GroupCommit:
        """This recorder's queue of saves waiting for the commit in flight."""
        return GroupCommit(self._commit_batch)

    def _insert_stored_events(
        self,
        curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
        **_: Any,
    ) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        self._insert_chained(curs, stored_events)

    def _insert_chained(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent]) -> None:
        imported_at = _import_time.get()
        events = [
            self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
            for e in stored_events
        ]
        curs.execute(
            self._insert_chained_statement,
            {
                "events": events,
                "genesis": GENESIS_HASH,
                "imported": imported_at is not None,
                "imported_at": imported_at,
            },
            prepare=True,
        )

    def _fetch_ids_after_insert_events(
        self,
        curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
        **_: Any,
    ) -> Sequence[int] | None:
        # The rows come back in no promised order; the events took their ids in list order.
        assert curs.statusmessage and curs.statusmessage.startswith("INSERT"), curs.statusmessage
        try:
            ids = sorted(row["notification_id"] for row in curs.fetchall())
        except psycopg.ProgrammingError as e:
            msg = f"Couldn't get all notification IDs (expected {len(stored_events)})"
            raise ProgrammingError(msg) from e
        if len(ids) != len(stored_events):
            msg = f"got {len(ids)} notification IDs for {len(stored_events)} events"
            raise ProgrammingError(msg)
        return ids

    @property
    def chain(self) -> ChainReader:
        """Queries over this recorder's chain."""
        return ChainReader(self.datastore, self.events_table_name)


class ChainedProcessRecorder(PostgresProcessRecorder, ChainedApplicationRecorder):
    """The process-recorder variant: tracking record, events and chain links in one commit."""


@dataclass(frozen=True)
class ChainHead:
    """The last link of the chain."""

    position: int
    hash: bytes
    committed_at: datetime


@dataclass(frozen=True)
class ChainReport:
    """The outcome of :func:`verify_chain`.

    ``count``, ``head_position`` and ``head_hash`` describe the links verified before the first
    problem (all of them when ``ok``; ``None`` head when none were). ``problem`` and ``position``
    locate the first disagreement between the stored events and the chain:

    - ``edited``: the event (or its link) at ``position`` no longer hashes to its stored link;
    - ``deleted``: the event at ``position`` is missing (its link remains, or the next link
      points back to it);
    - ``inserted``: the event at ``position`` has no link, or its link is not part of the chain;
    - ``reordered``: the event at ``position`` hashes correctly at a later position, i.e. rows'
      notification ids were swapped.
    """

    ok: bool
    count: int
    head_position: int | None
    head_hash: bytes | None
    problem: ChainProblem | None = None
    position: int | None = None
    detail: str = ""


class ChainReader:
    """Read-side queries over an events table's chain: time ↔ position, head, verification."""

    def __init__(self, datastore: PostgresDatastore, events_table_name: str) -> None:
        self.datastore = datastore
        self.events_table_name = events_table_name
        self.chain_table_name = chain_table_name(events_table_name)
        schema = Identifier(datastore.schema)
        self.qualified_events = Composed([schema, SQL("."), Identifier(events_table_name)])
        self.qualified_chain = Composed([schema, SQL("."), Identifier(self.chain_table_name)])

    @classmethod
    def for_recorder(cls, recorder: ApplicationRecorder) -> ChainReader:
        """The reader for an application's recorder, which must be the chained one."""
        if not isinstance(recorder, ChainedApplicationRecorder):
            msg = f"{type(recorder).__name__} does not keep a hash chain"
            raise TypeError(msg)
        return recorder.chain

    def head(self) -> ChainHead | None:
        """The last link, or ``None`` while the log is empty."""
        row = self._fetchone(
            SQL("SELECT position, hash, committed_at FROM {} ORDER BY position DESC LIMIT 1"),
        )
        return None if row is None else ChainHead(row[0], bytes(row[1]), row[2])

    def position_at(self, instant: datetime) -> int | None:
        """The last position committed at or before ``instant`` (``None`` if nothing was)."""
        if instant.tzinfo is None:
            msg = "instant must be timezone-aware"
            raise ValueError(msg)
        row = self._fetchone(
            SQL(
                "SELECT position FROM {} WHERE committed_at <= %s "
                "ORDER BY committed_at DESC, position DESC LIMIT 1"
            ),
            (instant,),
        )
        return None if row is None else int(row[0])

    def hash_at(self, position: int) -> bytes:
        """The chain hash at ``position``: the link at the greatest position at or below it
        (a position in a gap of rolled-back ids has its predecessor's), ``GENESIS_HASH`` at 0
        and before the first link. One backward step on the primary key."""
        row = self._fetchone(
            SQL("SELECT hash FROM {} WHERE position <= %s ORDER BY position DESC LIMIT 1"),
            (position,),
        )
        return GENESIS_HASH if row is None else bytes(row[0])

    def committed_at(self, position: int) -> datetime | None:
        """When the event at ``position`` was committed (``None`` if there is no such link)."""
        row = self._fetchone(SQL("SELECT committed_at FROM {} WHERE position = %s"), (position,))
        return None if row is None else row[0]

    def _fetchone(self, query: SQL, params: tuple[Any, ...] = ()) -> TupleRow | None:
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row) as curs,
        ):
            return curs.execute(query.format(self.qualified_chain), params, prepare=True).fetchone()


def verify_chain(
    chain: ChainReader,
    *,
    from_position: int | None = None,
    to_position: int | None = None,
    page_size: int = VERIFY_PAGE_SIZE,
    record: bool = True,
) -> ChainReport:
    """Recompute the chain from the stored events and report the first disagreement.

    Reads one consistent snapshot, streaming both tables through server-side cursors in pages of
    ``page_size`` rows. With ``from_position``, the range is linked to the stored link before it.
    The outcome is this process's last verification (``infra.verifications``) unless ``record``
    is off (a caller that adds to the verdict records it).
    """
    with chain.datastore.get_connection() as conn, conn.transaction(force_rollback=True):
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
        report = _Verification(conn, chain, from_position, to_position, page_size).run()
    if record:
        VERIFICATIONS.record(report.ok, report.head_position, report.problem)
    return report


class _Verification:
    def __init__(
        self,
        conn: Connection[Any],
        chain: ChainReader,
        from_position: int | None,
        to_position: int | None,
        page_size: int,
    ) -> None:
        self.conn = conn
        self.chain = chain
        self.page_size = page_size
        self.low = from_position if from_position is not None else GENESIS_POSITION + 1
        self.high = to_position
        self.count = 0
        self.prev_position = GENESIS_POSITION
        self.prev_hash = GENESIS_HASH
        self.prev_time: datetime | None = None

    def run(self) -> ChainReport:
        anchor = (
            self.conn.cursor(row_factory=tuple_row)
            .execute(
                SQL(
                    "SELECT position, hash, committed_at FROM {} WHERE position < %s "
                    "ORDER BY position DESC LIMIT 1"
                ).format(self.chain.qualified_chain),
                (self.low,),
            )
            .fetchone()
        )
        if anchor is not None:
            self.prev_position, self.prev_hash, self.prev_time = anchor[0], anchor[1], anchor[2]
        with (
            self._stream(
                "okr_verify_events",
                "SELECT notification_id, originator_id, originator_version, topic, state FROM {} ",
                self.chain.qualified_events,
                "notification_id",
            ) as events,
            self._stream(
                "okr_verify_links",
                "SELECT position, prev_position, hash, committed_at FROM {} ",
                self.chain.qualified_chain,
                "position",
            ) as links,
        ):
            return self._merge(events, links)

    def _merge(self, events: Iterator[TupleRow], links: Iterator[TupleRow]) -> ChainReport:
        event = next(events, None)
        link = next(links, None)
        while event is not None or link is not None:
            if link is None or (event is not None and event[0] < link[0]):
                assert event is not None
                return self._fail("inserted", event[0], "the event has no chain link")
            if event is None or link[0] < event[0]:
                return self._fail("deleted", link[0], "the chain link has no event")
            problem = self._check(event, link)
            if problem is not None:
                return problem
            self.count += 1
            self.prev_position, self.prev_hash, self.prev_time = link[0], link[2], link[3]
            event = next(events, None)
            link = next(links, None)
        return self._report()

    def _check(self, event: TupleRow, link: TupleRow) -> ChainReport | None:
        position, prev_position, stored_hash, committed_at = link
        if prev_position > self.prev_position:
            return self._fail(
                "deleted",
                prev_position,
                f"link {position} follows position {prev_position}, which is gone",
            )
        if prev_position < self.prev_position:
            return self._fail(
                "inserted",
                self.prev_position,
                f"link {position} follows position {prev_position}, "
                f"so position {self.prev_position} was not in the chain",
            )
        _, originator_id, version, topic, state = event
        if topic is None or state is None:
            return self._fail("edited", position, "the event's topic or state is NULL")
        expected = link_hash(self.prev_hash, position, str(originator_id), version, topic, state)
        if expected != stored_hash:
            original = self._original_position(event, position, stored_hash)
            if original is not None:
                return self._fail(
                    "reordered",
                    position,
                    f"the event at {position} was chained at position {original}",
                )
            return self._fail("edited", position, "the event does not match its chain link")
        if self.prev_time is not None and committed_at < self.prev_time:
            return self._fail("edited", position, "commit time earlier than the previous link's")
        return None

    def _original_position(self, event: TupleRow, after: int, after_hash: bytes) -> int | None:
        """Search the later links for one this event hashes to (a swapped position)."""
        _, originator_id, version, topic, state = event
        prev_hash = after_hash
        with self._stream(
            "okr_verify_search",
            "SELECT position, hash FROM {} ",
            self.chain.qualified_chain,
            "position",
            low=after + 1,
        ) as links:
            for position, stored_hash in links:
                if link_hash(prev_hash, position, str(originator_id), version, topic, state) == (
                    stored_hash
                ):
                    return int(position)
                prev_hash = stored_hash
        return None

    @contextmanager
    def _stream(
        self,
        name: str,
        select: str,
        table: Composed,
        key: str,
        *,
        low: int | None = None,
    ) -> Iterator[Iterator[TupleRow]]:
        column = Identifier(key)
        query = SQL(select).format(table) + SQL("WHERE {} >= %s").format(column)
        params: list[int] = [self.low if low is None else low]
        if self.high is not None:
            query += SQL(" AND {} <= %s").format(column)
            params.append(self.high)
        query += SQL(" ORDER BY {}").format(column)
        with self.conn.cursor(name, row_factory=tuple_row) as cursor:
            cursor.itersize = self.page_size
            cursor.execute(query, params)
            yield iter(cursor)

    def _report(
        self, problem: ChainProblem | None = None, position: int | None = None, detail: str = ""
    ) -> ChainReport:
        """The links verified so far, and the first problem if there is one."""
        verified = self.count > 0
        return ChainReport(
            ok=problem is None,
            count=self.count,
            head_position=self.prev_position if verified else None,
            head_hash=self.prev_hash if verified else None,
            problem=problem,
            position=position,
            detail=detail,
        )

    def _fail(self, problem: ChainProblem, position: int, detail: str) -> ChainReport:
        return self._report(problem, position, detail)

"""The hash-chained event store: every stored event gets a chain link in the same transaction.

eventsourcing's insert takes ``LOCK TABLE <events> IN EXCLUSIVE MODE`` before inserting, so the
chain head is read and extended under that same lock: inserts from any number of threads and
processes extend one chain in commit order. One statement inserts the events and their links,
hashed by the server (``sha256()``) exactly as :func:`infra.chainhash.link_hash` specifies.

This module is the recorder: how a save is committed (alone, as one statement; in a batch of
group commit; in bulk) and how a command's aggregates' new events are read. The pieces it uses:
the SQL (:mod:`infra.chain_sql`), the queue of saves (:mod:`infra.group_commit`) and the chain's
table layout, reader and verifier (:mod:`infra.chain_reader`, whose names are importable from
here too).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from functools import cached_property
from typing import TYPE_CHECKING, Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
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
from psycopg.sql import SQL

from infra.chain_direct import BINARY, INT8, OID, TEXT, DirectStatement
from infra.chain_reader import (
    GENESIS_POSITION,
    VERIFY_PAGE_SIZE,
    ChainHead,
    ChainProblem,
    ChainReader,
    ChainReport,
    chain_table_name,
    verify_chain,
)
from infra.chain_sql import SCALAR_PARAMETERS, ChainStatements, insert_function_name
from infra.chainhash import GENESIS_HASH, link_hash
from infra.group_commit import MAX_BATCH_WRITES, GroupCommit, PendingWrite, refusal
from infra.idempotency import KeyAlreadyWritten, already_written, current_claim

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from datetime import datetime

    from psycopg import Connection, Cursor
    from psycopg.rows import DictRow

__all__ = [
    "BULK_CHUNK",
    "BULK_EVENTS",
    "GENESIS_POSITION",
    "MAX_BATCH_WRITES",
    "SCALAR_PARAMETERS",
    "VERIFY_PAGE_SIZE",
    "ChainHead",
    "ChainProblem",
    "ChainReader",
    "ChainReport",
    "ChainedApplicationRecorder",
    "ChainedProcessRecorder",
    "GroupCommit",
    "PendingWrite",
    "chain_table_name",
    "importing_history",
    "insert_function_name",
    "verify_chain",
]

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


BULK_EVENTS = 64
"""A save of at least this many events takes the bulk insert (ids and hashes made by the client,
one pass) instead of the server-side recursive statement, whose cost grows faster than its
length."""

BULK_CHUNK = 500
"""Events per statement of a bulk insert."""


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
        self.statements = ChainStatements(
            datastore.schema,
            events_table_name,
            originator_id_type=datastore.originator_id_type,
            stored_event_type_name=self.stored_event_type_name,
            channel_name=self.channel_name,
        )
        """The SQL this recorder sends (and creates)."""
        self.sql_create_statements += [
            self.statements.create_chain_table,
            self.statements.create_chain_time_index,
            self.statements.insert_function,
            self.statements.insert_function_unchanged,
        ]
        self._qualified_chain = self.statements.qualified_chain
        self._insert_function_ready = False
        """Set once this process has created the function (``create_table``); until then a
        lone save commits with the client's statements, as a batch does."""
        self._lock_timeout = f"{datastore.lock_timeout}s"
        self._direct = datastore.originator_id_type == "uuid"
        """A command's read and a lone save go at libpq level (:mod:`infra.chain_direct`),
        whose binary parameters and rows are made for `uuid` ids."""
        self._direct_selects: dict[int, DirectStatement] = {}
        self._direct_calls: dict[tuple[int, bool], DirectStatement] = {}

    def create_table(self) -> None:
        super().create_table()
        self._insert_function_ready = True

    def commits_unchanged(self) -> bool:
        """Whether a save made now can be conditioned on an aggregate it does not write being
        unchanged (``save(..., unchanged=(id, version))``): a save that calls the insert
        function (:attr:`infra.chain_sql.ChainStatements.insert_function_unchanged`), i.e.
        one this process created the function for and that marks no ``Idempotency-Key``
        (a keyed save commits with the client's statements). Asked by a command before it
        decides on its cached aggregates without reading the store
        (``domain.ledger.base.LedgerBase._cached_copies``)."""
        return self._insert_function_ready and current_claim() is None

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
        the others commit. A save that arrives while nothing is in flight commits at once (no
        waiting at low load), as one statement when it can (:meth:`_commit_one_statement`).

        Within the transaction the saves take their notification ids and chain links in the
        order they arrived, under the table lock, so ids stay in commit order and the chain
        extends exactly as if they had been committed one by one.

        A write made for a request with an ``Idempotency-Key`` (a :class:`infra.idempotency.Claim`
        is current) also marks that key ``written`` in its savepoint, or fails with
        :class:`~infra.idempotency.KeyAlreadyWritten` when the key was written already.

        ``unchanged=(aggregate_id, version)`` conditions the save on that aggregate having no
        event after ``version``, checked under the table lock: otherwise the save is refused
        as a stale version is (``IntegrityError``) and writes nothing. Only the insert
        function checks it (:meth:`commits_unchanged` says when a save will call it); a save
        that would take another path is refused unwritten.
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
        """One save in its own transaction. Most saves (no ``Idempotency-Key`` to mark, no
        tracking record) are one statement in autocommit (:meth:`_commit_one_statement`);
        the others send ``BEGIN``, the lock, ``NOTIFY``, the chained insert (and the key's
        mark) and ``COMMIT`` in one pipeline and read the new ids afterwards."""
        claim = write.claim
        if claim is None and self._insert_function_ready and not write.kwargs.get("tracking"):
            self._commit_one_statement(write)
            return
        if _unchanged(write) is not None:
            write.error = _unchecked(write)
            return
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

    def _commit_one_statement(self, write: PendingWrite) -> None:
        """A lone save as one ``SELECT`` of ``<events>_insert_chained``
        (:attr:`infra.chain_sql.ChainStatements.insert_function`) in autocommit: the lock,
        the ``NOTIFY``, the events and their links, and the commit at the statement's end
        (the answer arrives after it, so the save is durable when its ids are read). A stale
        version fails the statement as it failed the transaction (``IntegrityError``)."""
        try:
            if self._direct and len(write.stored_events) <= SCALAR_PARAMETERS:
                self._commit_one_statement_direct(write)
                return
            with (
                self.datastore.get_connection() as conn,
                conn.cursor(row_factory=tuple_row) as curs,
            ):
                self._call_insert_function(curs, write)
                write.ids = self._function_ids(curs, write)
        except BaseException as error:
            write.error = error

    def _commit_one_statement_direct(self, write: PendingWrite) -> None:
        """:meth:`_commit_one_statement` for a few events, at libpq level
        (:mod:`infra.chain_direct`): the same call with binary parameters (the import time
        and the lock timeout as text), the new ids read from its binary rows."""
        events = write.stored_events
        params: list[bytes | None] = [_uuid(e.originator_id).bytes for e in events]
        params += [INT8.pack(e.originator_version) for e in events]
        params += [e.topic.encode() for e in events]
        params += [e.state for e in events]
        imported_at = write.imported_at
        params.append(None if imported_at is None else imported_at.isoformat().encode())
        params.append(self._lock_timeout.encode())
        formats = [BINARY] * (4 * len(events)) + [TEXT, TEXT]
        unchanged = _unchanged(write)
        if unchanged is not None:
            params += [_uuid(unchanged[0]).bytes, INT8.pack(unchanged[1])]
            formats += [BINARY, BINARY]
        with self.datastore.get_connection() as conn:
            statement = self._direct_call(len(events), conn, unchanged=unchanged is not None)
            result = statement.execute(conn, params, formats)
            ids = sorted(
                INT8.unpack(result.get_value(row, 0) or b"")[0] for row in range(result.ntuples)
            )
        if len(ids) != len(events):
            msg = f"got {len(ids)} notification IDs for {len(events)} events"
            raise ProgrammingError(msg)
        write.ids = ids

    def _direct_call(
        self, events: int, conn: Connection[DictRow], *, unchanged: bool = False
    ) -> DirectStatement:
        statement = self._direct_calls.get((events, unchanged))
        if statement is None:
            kinds = ("uuid", "int8", "text", "bytea")
            suffix = "_unchanged" if unchanged else ""
            statement = self._direct_calls[events, unchanged] = DirectStatement(
                f"okr_{self.events_table_name}_insert_{events}{suffix}".encode(),
                self.statements.insert_function_call(events, conn, unchanged=unchanged),
                [OID[kind] for kind in kinds for _ in range(events)]
                + [OID["timestamptz"], OID["text"]]
                + ([OID["uuid"], OID["int8"]] if unchanged else []),
            )
        return statement

    def _call_insert_function(self, curs: Cursor[TupleRow], write: PendingWrite) -> None:
        """Send the call of ``<events>_insert_chained`` for ``write`` (in a pipeline, the rows
        are read after the sync)."""
        events = write.stored_events
        columns: list[Any] = [
            [e.originator_id for e in events],
            [e.originator_version for e in events],
            [e.topic for e in events],
            [e.state for e in events],
        ]
        values = (
            [value for column in columns for value in column]
            if len(events) <= SCALAR_PARAMETERS
            else columns
        )
        values += [write.imported_at, self._lock_timeout]
        unchanged = _unchanged(write)
        if unchanged is not None:
            values += list(unchanged)
        call = self.statements.insert_function_call(
            len(events), curs.connection, unchanged=unchanged is not None
        )
        curs.execute(call, values, prepare=True)

    @staticmethod
    def _function_ids(curs: Cursor[TupleRow], write: PendingWrite) -> list[int]:
        ids = sorted(row[0] for row in curs.fetchall())
        if len(ids) != len(write.stored_events):
            msg = f"got {len(ids)} notification IDs for {len(write.stored_events)} events"
            raise ProgrammingError(msg)
        return ids

    def _write_in_savepoint(
        self, conn: Connection[DictRow], pipeline: psycopg.Pipeline, write: PendingWrite
    ) -> None:
        """One save of a batch in its own savepoint: its events and links (the function's
        call, as a lone save's, or the bulk insert), and its key's mark."""
        called = self._insert_function_ready and len(write.stored_events) < BULK_EVENTS
        if not called and _unchanged(write) is not None:
            write.error = _unchecked(write)
            return
        token = _import_time.set(write.imported_at)
        try:
            with (
                conn.transaction(),
                conn.cursor() as curs,
                conn.cursor(row_factory=tuple_row) as function_curs,
            ):
                with conn.cursor() as tracking_curs:
                    self._insert_events(tracking_curs, write.stored_events, **write.kwargs)
                bulk_ids = (
                    self._insert_bulk(curs, pipeline, write)
                    if len(write.stored_events) >= BULK_EVENTS
                    else None
                )
                if called:
                    self._call_insert_function(function_curs, write)
                elif bulk_ids is None:
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
                if called:
                    write.ids = self._function_ids(function_curs, write)
                elif bulk_ids is None:
                    write.ids = self._fetch_ids_after_insert_events(curs, write.stored_events)
                else:
                    write.ids = bulk_ids
        except (psycopg.IntegrityError, psycopg.DataError) as error:
            write.error = refusal(error, write)
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
        curs.execute(self.statements.bulk_head, {"n": len(events)}, prepare=True)
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
                self.statements.bulk_events,
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
                self.statements.bulk_links,
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
        if self._direct and len(after) <= SCALAR_PARAMETERS:
            return self._select_events_after_direct(after)
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row) as curs,
        ):
            if len(after) <= SCALAR_PARAMETERS:
                params: list[Any] = [value for pair in after for value in pair]
            else:
                params = [[i for i, _ in after], [version for _, version in after]]
            select = self.statements.select_after(len(after), conn)
            curs.execute(select, params, prepare=True)
            for originator_id, version, topic, state in curs.fetchall():
                found.setdefault(originator_id, []).append(
                    StoredEvent(
                        originator_id=originator_id,
                        originator_version=version,
                        topic=topic,
                        state=bytes(state),
                    )
                )
        return found

    def _select_events_after_direct(
        self, after: Sequence[tuple[UUID | str, int]]
    ) -> dict[UUID | str, list[StoredEvent]]:
        """:meth:`select_events_after` for a few aggregates, at libpq level
        (:mod:`infra.chain_direct`): binary parameters in, binary rows out."""
        found: dict[UUID | str, list[StoredEvent]] = {}
        params: list[bytes | None] = []
        for originator_id, version in after:
            params.append(_uuid(originator_id).bytes)
            params.append(INT8.pack(version))
        with self.datastore.get_connection() as conn:
            statement = self._direct_select(len(after), conn)
            result = statement.execute(conn, params, (BINARY,) * len(params))
            value = result.get_value
            for row in range(result.ntuples):
                originator_id = UUID(bytes=bytes(value(row, 0) or b""))
                found.setdefault(originator_id, []).append(
                    StoredEvent(
                        originator_id=originator_id,
                        originator_version=INT8.unpack(value(row, 1) or b"")[0],
                        topic=bytes(value(row, 2) or b"").decode(),
                        state=bytes(value(row, 3) or b""),
                    )
                )
        return found

    def _direct_select(self, aggregates: int, conn: Connection[DictRow]) -> DirectStatement:
        statement = self._direct_selects.get(aggregates)
        if statement is None:
            statement = self._direct_selects[aggregates] = DirectStatement(
                f"okr_{self.events_table_name}_after_{aggregates}".encode(),
                self.statements.select_after(aggregates, conn),
                [OID["uuid"], OID["int8"]] * aggregates,
            )
        return statement

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
            self.statements.chained_insert,
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


def _uuid(originator_id: UUID | str) -> UUID:
    return originator_id if isinstance(originator_id, UUID) else UUID(originator_id)


def _unchanged(write: PendingWrite) -> tuple[UUID | str, int] | None:
    """The aggregate (id, version) a save is conditioned on (``insert_events``'s
    ``unchanged``), if any."""
    unchanged: tuple[UUID | str, int] | None = write.kwargs.get("unchanged")
    return unchanged


def _unchecked(write: PendingWrite) -> IntegrityError:
    """The refusal of a conditioned save on a path that cannot check its condition (the
    client's statements): nothing is written; the command decides again on the store."""
    return IntegrityError(
        f"a save conditioned on {_unchanged(write)} unchanged cannot be checked on this path"
    )

"""Idempotency keys for HTTP commands, kept in PostgreSQL beside the event store.

A client that sends ``Idempotency-Key: K`` with a POST may repeat the request (after a timeout,
a dropped connection, a crashed server) and get the first answer again, without a second write.
One row per (principal, key):

    principal        text         -- the person whose token sent the request
    key              text         -- the client's key (at most 255 characters)
    request_hash     text         -- sha256 of method, path, query and body: a reused key must match
    state            text         -- 'pending' -> 'written' -> 'done' (see below)
    owner            integer      -- the server process running the request (its liveness lock)
    result_id        uuid         -- what the command wrote: the aggregate it answers with,
    result_version   bigint       --   that aggregate's new version,
    result_position  bigint       --   the log position of the write (the last event's),
    result_extra_id  uuid         --   and the child it created, if any        (when written)
    status           integer      -- the first answer's HTTP status            (when done)
    body             bytea        -- the first answer's body                   (when done)
    content_type     text         -- the first answer's media type             (when done)
    headers          jsonb        -- the first answer's replayable headers (ETag, Location)
    created_at       timestamptz  -- when the key was reserved (or last taken over)

The states and who moves them:

- ``pending``: reserved before the command runs (:meth:`IdempotencyStore.reserve`). A failed
  command deletes it (:meth:`~IdempotencyStore.release`), so the client may fix the request.
- ``written``: set by the event store **in the transaction that commits the command's events**
  (the recorder calls :meth:`Claim.record_write` while the request's :class:`Claim` is the
  current one, see :func:`claiming`). The update only succeeds on a ``pending`` row; on any other
  state it aborts that transaction, so one key commits events at most once whatever happens
  around it (:class:`KeyAlreadyWritten`).
- ``done``: the whole answer stored after the handler answered (:meth:`~IdempotencyStore.complete`).

A retry that finds ``done`` replays the stored answer; one that finds ``written`` (the server died
after the commit, before storing the answer) gets the answer rebuilt from the ``result_*``
columns; neither runs the command again. A ``pending`` row whose server died before its commit
is taken over at once: each server process holds a session-level advisory lock
(``OWNER_LOCK_CLASS``, its owner number) on a connection of its own, which PostgreSQL releases
when the process dies. A ``pending`` row whose owner still holds its lock is a request still
running (409), unless it is older than ``pending_timeout``.
"""

from __future__ import annotations

import enum
import json
import os
import secrets
import signal
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import psycopg
from eventsourcing.persistence import DataError, OperationalError, PersistenceError
from eventsourcing.postgres import PostgresRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composable, Composed

from domain.application import CommandResult
from infra.tables import create_tables, execute, qualified

if TYPE_CHECKING:
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.postgres import PostgresDatastore
    from psycopg import Cursor

DEFAULT_TABLE = "okr_idempotency_keys"
MAX_KEY_LENGTH = 255
OWNER_LOCK_CLASS = 0x4F4B5249
"""First key of the advisory locks that tell a running server process ("OKRI") from a dead one."""

_ALREADY_WRITTEN = "idempotency key already written"


class Outcome(enum.Enum):
    RESERVED = "reserved"
    """The key is new (or its dead request's reservation was taken over): run the command."""
    REPLAY = "replay"
    """The key was used for the same request before: answer with the stored response."""
    WRITTEN = "written"
    """The command committed but its answer was never stored: rebuild it from the result."""
    MISMATCH = "mismatch"
    """The key was used for a different request (other body, method or path)."""
    IN_PROGRESS = "in_progress"
    """The first request with this key is still running."""


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


WrittenResult = CommandResult
"""What a keyed command committed (its result), recorded in the same transaction as its events."""


@dataclass(frozen=True)
class Reservation:
    outcome: Outcome
    response: StoredResponse | None = None
    written: WrittenResult | None = None


class KeyAlreadyWritten(PersistenceError):
    """A keyed write found its key no longer pending: another request with the key committed
    first. Its transaction was rolled back; the caller answers with that request's result."""


@dataclass(frozen=True)
class Claim:
    """The request being served under an idempotency key, as the event store sees it."""

    store: IdempotencyStore
    principal: str
    key: str
    crash_point: str | None = None

    def record_write(
        self,
        curs: Cursor[Any],
        stored_events: Sequence[StoredEvent],
        chain_table: Composable,
        command: Any = None,
    ) -> None:
        """Mark the key ``written`` in the transaction inserting ``stored_events`` (pipelined,
        no round trip of its own). ``command`` is the save's ``command_result`` (its id,
        version and extra id); without one, the first event's aggregate is the answer's.
        The position is the chain head, read under the insert's table lock."""
        if command is not None:
            aggregate_id, version = command.id, command.version
            extra_id = command.extra_id
        else:
            aggregate_id = stored_events[0].originator_id
            version = max(
                e.originator_version for e in stored_events if e.originator_id == aggregate_id
            )
            extra_id = None
        curs.execute(
            self.store.write_statement(chain_table),
            {
                "principal": self.principal,
                "key": self.key,
                "id": aggregate_id,
                "version": version,
                "extra_id": extra_id,
                "refused": f"{_ALREADY_WRITTEN}: ",
            },
            prepare=True,
        )

    def crash(self, point: str, first: Callable[[], object] | None = None) -> None:
        """Kill this process at ``point`` when a test server was told to (fault injection);
        ``first`` runs just before (e.g. sends the pipeline, so the server holds the
        uncommitted events when the process dies)."""
        if self.crash_point == point:
            if first is not None:
                first()
            os.kill(os.getpid(), signal.SIGKILL)


_claim: ContextVar[Claim | None] = ContextVar("okrledger_idempotency_claim", default=None)


def current_claim() -> Claim | None:
    """The claim of the request this thread serves, if it came with an idempotency key."""
    return _claim.get()


@contextmanager
def claiming(claim: Claim) -> Iterator[None]:
    """Tag the writes made in this block (and threads started from its context) with ``claim``."""
    token = _claim.set(claim)
    try:
        yield
    finally:
        _claim.reset(token)


def already_written(error: DataError) -> bool:
    """Whether ``error`` is the refusal of :meth:`Claim.record_write` (the key not pending)."""
    cause = error.__cause__
    return isinstance(cause, psycopg.errors.InvalidTextRepresentation) and (
        _ALREADY_WRITTEN in str(cause)
    )


class IdempotencyStore:
    """The idempotency-key table, on the event store's own connection pool."""

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        table: str = DEFAULT_TABLE,
        pending_timeout: timedelta = timedelta(seconds=60),
    ) -> None:
        self.datastore = datastore
        self.pending_timeout = pending_timeout
        self._table = qualified(datastore, table)
        self.owner = secrets.randbelow(2**31 - 1) + 1
        """This process's owner number: its liveness lock is (OWNER_LOCK_CLASS, owner)."""
        self._liveness: psycopg.Connection[Any] | None = None
        self._liveness_lock = threading.Lock()
        self._write_statements: dict[str, Composed] = {}

    @classmethod
    def for_recorder(cls, recorder: object, **kwargs: Any) -> IdempotencyStore:
        """The store beside an application's PostgreSQL recorder (same database and pool)."""
        if not isinstance(recorder, PostgresRecorder):
            msg = f"{type(recorder).__name__} is not a PostgreSQL recorder"
            raise TypeError(msg)
        return cls(recorder.datastore, **kwargs)

    def create_table(self) -> None:
        create_tables(
            self.datastore,
            self._table,
            SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                "principal text NOT NULL, "
                "key text NOT NULL, "
                "request_hash text NOT NULL, "
                "state text NOT NULL DEFAULT 'pending', "
                "status integer, "
                "body bytea, "
                "content_type text, "
                "headers jsonb, "
                "created_at timestamptz NOT NULL DEFAULT clock_timestamp(), "
                "PRIMARY KEY (principal, key))"
            ).format(self._table),
            # Added after the first release: the columns of the `written` state.
            SQL(
                "ALTER TABLE {} "
                "ADD COLUMN IF NOT EXISTS owner integer, "
                "ADD COLUMN IF NOT EXISTS result_id uuid, "
                "ADD COLUMN IF NOT EXISTS result_version bigint, "
                "ADD COLUMN IF NOT EXISTS result_position bigint, "
                "ADD COLUMN IF NOT EXISTS result_extra_id uuid"
            ).format(self._table),
        )

    # ------------------------------------------------------------ liveness

    def _hold_liveness_lock(self) -> None:
        """Hold this process's liveness lock on a connection of its own (reopened if lost).

        Other processes read a ``pending`` row whose owner's lock is free as a request that
        died; PostgreSQL frees the lock when this process (or its connection) goes away.
        """
        with self._liveness_lock:
            conn = self._liveness
            if conn is not None and not conn.closed and not conn.broken:
                return
            pool = self.datastore.pool
            pool_kwargs = pool.kwargs() if callable(pool.kwargs) else pool.kwargs or {}
            conninfo = pool.conninfo() if callable(pool.conninfo) else pool.conninfo
            kwargs = {k: v for k, v in pool_kwargs.items() if k != "row_factory"}
            get_password = getattr(pool, "get_password_func", None)
            if get_password is not None:
                kwargs["password"] = get_password()
            try:
                conn = psycopg.connect(conninfo, autocommit=True, **kwargs)
                conn.execute("SELECT pg_advisory_lock(%s, %s)", (OWNER_LOCK_CLASS, self.owner))
            except psycopg.OperationalError as error:  # as the pool's errors: a 503
                raise OperationalError(str(error)) from error
            self._liveness = conn
            weakref.finalize(self, conn.close)

    def close(self) -> None:
        """Let go of the liveness lock (this process's pending requests then look dead)."""
        with self._liveness_lock:
            if self._liveness is not None:
                # Unlocked before the close returns: a backend lets go of its session locks
                # only once it has exited, a moment after its client hung up, and another
                # process retrying meanwhile would still find the key's owner alive.
                with suppress(psycopg.Error):
                    self._liveness.execute(
                        "SELECT pg_advisory_unlock(%s, %s)", (OWNER_LOCK_CLASS, self.owner)
                    )
                self._liveness.close()
                self._liveness = None

    # ----------------------------------------------------------------- states

    def claim(self, principal: str, key: str, crash_point: str | None = None) -> Claim:
        return Claim(self, principal, key, crash_point)

    def reserve(self, principal: str, key: str, request_hash: str) -> Reservation:
        """Reserve ``key`` for this request, or say why not (replay, written, mismatch, busy)."""
        self._hold_liveness_lock()
        with self.datastore.get_connection() as conn, conn.transaction():
            curs = conn.cursor(row_factory=tuple_row)
            inserted = curs.execute(
                SQL(
                    "INSERT INTO {} (principal, key, request_hash, owner) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT DO NOTHING RETURNING 1"
                ).format(self._table),
                (principal, key, request_hash, self.owner),
            ).fetchone()
            if inserted is not None:
                return Reservation(Outcome.RESERVED)
            row = curs.execute(
                SQL(
                    "SELECT request_hash, state, status, body, content_type, headers, "
                    "result_id, result_version, result_position, result_extra_id, owner, "
                    "created_at < clock_timestamp() - %s "
                    "FROM {} WHERE principal = %s AND key = %s FOR UPDATE"
                ).format(self._table),
                (self.pending_timeout, principal, key),
            ).fetchone()
            if row is None:  # released between the two statements: try once more
                curs.execute(
                    SQL(
                        "INSERT INTO {} (principal, key, request_hash, owner) "
                        "VALUES (%s, %s, %s, %s)"
                    ).format(self._table),
                    (principal, key, request_hash, self.owner),
                )
                return Reservation(Outcome.RESERVED)
            stored_hash, state, status, body, content_type, headers = row[:6]
            result_id, result_version, result_position, result_extra_id, owner, stale = row[6:]
            if stored_hash != request_hash:
                return Reservation(Outcome.MISMATCH)
            if state == "done":
                return Reservation(
                    Outcome.REPLAY,
                    StoredResponse(
                        int(status), bytes(body), str(content_type), dict(headers or {})
                    ),
                )
            if state == "written":
                return Reservation(
                    Outcome.WRITTEN,
                    written=WrittenResult(
                        result_id, int(result_version), int(result_position), result_extra_id
                    ),
                )
            if stale or self._owner_is_gone(curs, owner):
                curs.execute(
                    SQL(
                        "UPDATE {} SET created_at = clock_timestamp(), owner = %s "
                        "WHERE principal = %s AND key = %s"
                    ).format(self._table),
                    (self.owner, principal, key),
                )
                return Reservation(Outcome.RESERVED)
            return Reservation(Outcome.IN_PROGRESS)

    @staticmethod
    def _owner_is_gone(curs: Cursor[Any], owner: int | None) -> bool:
        """Whether the process that reserved a row is gone (nobody holds its liveness lock).

        The probe takes the lock for this transaction only; it is free again at its end."""
        if owner is None:  # reserved before owners were recorded
            return False
        probe = curs.execute(
            "SELECT pg_try_advisory_xact_lock(%s, %s)", (OWNER_LOCK_CLASS, owner)
        ).fetchone()
        return bool(probe and probe[0])

    def write_statement(self, chain_table: Composable) -> Composed:
        """The statement that marks a key ``written`` in its events' transaction, or fails.

        It fails (``invalid_text_representation``, see :func:`already_written`) when the row is
        not ``pending``: the whole transaction, events included, is then rolled back."""
        cache_key = repr(chain_table)
        statement = self._write_statements.get(cache_key)
        if statement is None:
            statement = SQL(
                "WITH w AS (UPDATE {table} SET state = 'written', result_id = %(id)s, "
                "result_version = %(version)s, result_extra_id = %(extra_id)s, "
                "result_position = (SELECT max(position) FROM {chain}) "
                "WHERE principal = %(principal)s AND key = %(key)s AND state = 'pending' "
                "RETURNING 1) "
                "SELECT CASE WHEN count(*) = 1 THEN 1 "
                "ELSE (%(refused)s::text || count(*))::integer END FROM w"
            ).format(table=self._table, chain=chain_table)
            self._write_statements[cache_key] = statement
        return statement

    def complete(self, principal: str, key: str, response: StoredResponse) -> None:
        """Store the first answer for ``key``; later requests with it get this answer."""
        execute(
            self.datastore,
            SQL(
                "UPDATE {} SET state = 'done', status = %s, body = %s, content_type = %s, "
                "headers = %s WHERE principal = %s AND key = %s AND state <> 'done'"
            ).format(self._table),
            (
                response.status,
                response.body,
                response.content_type,
                json.dumps(response.headers),
                principal,
                key,
            ),
        )

    def release(self, principal: str, key: str) -> None:
        """Forget this process's pending reservation (the command failed), so the key may be
        used again. A key whose command committed (``written``) is kept: its retry gets that
        result; so is one another process took over meanwhile."""
        execute(
            self.datastore,
            SQL(
                "DELETE FROM {} WHERE principal = %s AND key = %s AND state = 'pending' "
                "AND owner IS NOT DISTINCT FROM %s"
            ).format(self._table),
            (principal, key, self.owner),
        )

    def purge(self, older_than: timedelta) -> int:
        """Delete keys reserved longer ago than ``older_than``; returns how many."""
        return execute(
            self.datastore,
            SQL("DELETE FROM {} WHERE created_at < clock_timestamp() - %s").format(self._table),
            (older_than,),
        )

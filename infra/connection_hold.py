"""One pool connection held by a thread for a block: a command's load and its save share it.

A command reads its aggregates' new events and then saves, each through eventsourcing's
``PostgresDatastore.get_connection``: two pool checkouts and returns, each tens of
microseconds of Python. :meth:`HoldingDatastore.holding` checks one connection out for the
block; while it is held, the thread's outermost ``get_connection`` answers it (errors
translated as eventsourcing's datastore translates them) and a nested one, or one after the
held connection broke, checks one out of the pool as before.

A thread about to wait for another thread's commit (group commit) gives its held connection
back first (:meth:`HoldingDatastore.release_held`), so that the committing thread never waits
for a connection that waiting threads hold.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

import psycopg
from eventsourcing.persistence import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
)
from eventsourcing.postgres import PostgresDatastore
from psycopg.types.composite import register_composite

if TYPE_CHECKING:
    from collections.abc import Iterator

    from psycopg import Connection
    from psycopg.rows import DictRow

_TRANSLATED: tuple[tuple[type[psycopg.Error], type[PersistenceError]], ...] = (
    (psycopg.InterfaceError, InterfaceError),
    (psycopg.OperationalError, OperationalError),
    (psycopg.DataError, DataError),
    (psycopg.IntegrityError, IntegrityError),
    (psycopg.InternalError, InternalError),
    (psycopg.ProgrammingError, ProgrammingError),
    (psycopg.NotSupportedError, NotSupportedError),
    (psycopg.DatabaseError, DatabaseError),
    (psycopg.Error, PersistenceError),
)
"""psycopg's errors as eventsourcing's datastore raises them (first match wins)."""


def translated(error: psycopg.Error) -> PersistenceError:
    """``error`` as eventsourcing's ``PostgresDatastore.get_connection`` would raise it."""
    for psycopg_class, persistence_class in _TRANSLATED:
        if isinstance(error, psycopg_class):
            return persistence_class(str(error))
    return PersistenceError(str(error))  # pragma: no cover - psycopg.Error matches last


class _Held:
    """A thread's held connection: the pool checkout (``stack``) it came from, and whether a
    ``get_connection`` of the thread is using it now."""

    __slots__ = ("conn", "in_use", "stack")

    def __init__(self, conn: Connection[DictRow], stack: ExitStack) -> None:
        self.conn = conn
        self.stack = stack
        self.in_use = False


class HoldingDatastore(PostgresDatastore):
    """eventsourcing's PostgreSQL datastore that can hold one connection for a thread's block.

    eventsourcing's factory makes the datastore; :meth:`adopt` makes that instance this class
    (it adds methods and one attribute, no other state).
    """

    _holds: threading.local

    @classmethod
    def adopt(cls, datastore: PostgresDatastore) -> HoldingDatastore:
        """``datastore``, able to hold connections (the same object, idempotent)."""
        if not isinstance(datastore, HoldingDatastore):
            datastore._holds = threading.local()  # type: ignore[attr-defined]
            datastore.__class__ = HoldingDatastore
        assert isinstance(datastore, HoldingDatastore)
        return datastore

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Hold one pool connection for this thread's block (within a hold: the outer one)."""
        if getattr(self._holds, "held", None) is not None:
            yield
            return
        with ExitStack() as stack:
            conn = stack.enter_context(super().get_connection())
            self._holds.held = _Held(conn, stack)
            try:
                yield
            finally:
                self._holds.held = None

    def release_held(self) -> None:
        """Give this thread's held connection back to the pool now (unless it is in use);
        the rest of the block checks connections out as without a hold."""
        held: _Held | None = getattr(self._holds, "held", None)
        if held is None or held.in_use:
            return
        self._holds.held = None
        held.stack.close()

    @contextmanager
    def get_connection(self) -> Iterator[Connection[DictRow]]:
        held: _Held | None = getattr(self._holds, "held", None)
        if held is None or held.in_use:
            with super().get_connection() as conn:
                yield conn
            return
        conn = held.conn
        for info in self.psycopg_type_adapters.values():
            if not conn.adapters.types.get(info.oid):
                register_composite(info, conn)
        held.in_use = True
        try:
            yield conn
        except psycopg.Error as error:
            if conn.broken or conn.closed:
                held.in_use = False
                self.release_held()  # the pool discards it; a retry checks out another
            raise translated(error) from error
        finally:
            held.in_use = False

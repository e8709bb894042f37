"""The plain tables beside the event store (operational state, not decisions): their names in
the store's schema, their creation on first use, and one store per recorder.

Token use, data-source health, idempotency keys, webhook secrets and deliveries each keep such a
table on the event store's own connection pool; this module is the upkeep they share.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from eventsourcing.postgres import PostgresDatastore, PostgresRecorder
from psycopg.abc import Params
from psycopg.sql import SQL, Composed, Identifier

K = TypeVar("K")
T = TypeVar("T")


def qualified(datastore: PostgresDatastore, table: str) -> Composed:
    """`schema.table`, in the event store's schema."""
    return Composed([Identifier(datastore.schema or "public"), SQL("."), Identifier(table)])


def create_tables(
    datastore: PostgresDatastore, lock: str | Composed, *statements: SQL | Composed
) -> None:
    """Run `statements` (CREATE/ALTER ... IF NOT EXISTS) in one transaction, under an advisory
    lock named `okrledger:create:<lock>`: those statements race when servers start together,
    so one process at a time runs them. `lock` is a name, or the table's qualified name."""
    with datastore.get_connection() as conn, conn.transaction():
        name = lock if isinstance(lock, str) else lock.as_string(conn)
        conn.execute(
            SQL("SELECT pg_advisory_xact_lock(hashtext(%s))"), (f"okrledger:create:{name}",)
        )
        for statement in statements:
            conn.execute(statement)


def execute(
    datastore: PostgresDatastore, statement: SQL | Composed, params: Params | None = None
) -> int:
    """Run one statement in a transaction of its own; how many rows it touched."""
    with datastore.get_connection() as conn, conn.transaction():
        return conn.execute(statement, params).rowcount


def returning(
    datastore: PostgresDatastore, statement: SQL | Composed, params: Params | None = None
) -> list[Any]:
    """Run one statement (`... RETURNING`) in a transaction of its own; the rows it answers."""
    with datastore.get_connection() as conn, conn.transaction():
        return conn.execute(statement, params).fetchall()


class CreatedOnce:
    """Tables this process creates the first time it needs them (`ensure`), then trusts."""

    def __init__(
        self, datastore: PostgresDatastore, lock: str | Composed, *statements: SQL | Composed
    ) -> None:
        self.datastore = datastore
        self.lock = lock
        self.statements = statements
        self.created = False

    def ensure(self) -> None:
        if self.created:
            return
        create_tables(self.datastore, self.lock, *self.statements)
        self.created = True


class OnePer(Generic[K, T]):
    """One value per key object (a recorder, a ledger), made on the first ask under a lock and
    dropped when its key goes away."""

    def __init__(self) -> None:
        self._values: weakref.WeakKeyDictionary[K, T] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, key: K, make: Callable[[], T]) -> T:
        with self._lock:
            value = self._values.get(key)
            if value is None:
                value = self._values[key] = make()
            return value

    def pop(self, key: K) -> T | None:
        with self._lock:
            return self._values.pop(key, None)


class PerRecorder(Generic[T]):
    """One store per PostgreSQL recorder, made on first ask; None for other recorders (in
    memory), where the store's table is not kept. A recorder that goes away takes its store."""

    def __init__(self, make: Callable[[PostgresDatastore], T]) -> None:
        self._make = make
        self._stores: OnePer[PostgresRecorder, T] = OnePer()

    def __call__(self, recorder: object) -> T | None:
        if not isinstance(recorder, PostgresRecorder):
            return None
        return self._stores.get(recorder, lambda: self._make(recorder.datastore))

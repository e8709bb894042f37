"""One leader per database: a session advisory lock held on a dedicated connection."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from eventsourcing.postgres import PostgresDatastore


@contextlib.contextmanager
def leadership(datastore: PostgresDatastore, key: str) -> Iterator[bool]:
    """Try to take the advisory lock `key`; yields whether this process leads. PostgreSQL
    releases the lock if the process dies, so a standby takes over."""
    with datastore.get_connection() as conn:
        row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s)) AS locked", (key,)).fetchone()
        locked = bool(row and (row["locked"] if isinstance(row, dict) else row[0]))
        try:
            yield locked
        finally:
            if locked:
                with contextlib.suppress(Exception):
                    conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))

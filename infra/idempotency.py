"""Idempotency keys for HTTP commands, kept in PostgreSQL beside the event store.

A client that sends ``Idempotency-Key: K`` with a POST may repeat the request (after a timeout,
a dropped connection) and get the first answer again, without a second write. One row per
(principal, key):

    principal     text          -- the person whose token sent the request
    key           text          -- the client's key (at most 255 characters)
    request_hash  text          -- sha256 of method, path and body: a reused key must match it
    state         text          -- 'pending' while the first request runs, then 'done'
    status        integer       -- the first answer's HTTP status   (when done)
    body          bytea         -- the first answer's body          (when done)
    content_type  text          -- the first answer's media type    (when done)
    headers       jsonb         -- the first answer's replayable headers (ETag, Location)
    created_at    timestamptz   -- when the key was reserved (or last taken over)

A key is reserved before the command runs and completed after it succeeded; a failed command
releases it, so the client may retry under the same key. A reservation still pending after
``pending_timeout`` (its request died between the write and the completion) may be taken over.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from eventsourcing.postgres import PostgresRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

if TYPE_CHECKING:
    from eventsourcing.postgres import PostgresDatastore

DEFAULT_TABLE = "okr_idempotency_keys"
MAX_KEY_LENGTH = 255


class Outcome(enum.Enum):
    RESERVED = "reserved"
    """The key is new (or its stale reservation was taken over): run the command."""
    REPLAY = "replay"
    """The key was used for the same request before: answer with the stored response."""
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


@dataclass(frozen=True)
class Reservation:
    outcome: Outcome
    response: StoredResponse | None = None


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
        self._table = Composed(
            [Identifier(datastore.schema or "public"), SQL("."), Identifier(table)]
        )

    @classmethod
    def for_recorder(cls, recorder: object, **kwargs: Any) -> IdempotencyStore:
        """The store beside an application's PostgreSQL recorder (same database and pool)."""
        if not isinstance(recorder, PostgresRecorder):
            msg = f"{type(recorder).__name__} is not a PostgreSQL recorder"
            raise TypeError(msg)
        return cls(recorder.datastore, **kwargs)

    def create_table(self) -> None:
        with self.datastore.get_connection() as conn, conn.transaction():
            conn.execute(
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
                ).format(self._table)
            )

    def reserve(self, principal: str, key: str, request_hash: str) -> Reservation:
        """Reserve ``key`` for this request, or say why not (replay, mismatch, in progress)."""
        with self.datastore.get_connection() as conn, conn.transaction():
            curs = conn.cursor(row_factory=tuple_row)
            inserted = curs.execute(
                SQL(
                    "INSERT INTO {} (principal, key, request_hash) VALUES (%s, %s, %s) "
                    "ON CONFLICT DO NOTHING RETURNING 1"
                ).format(self._table),
                (principal, key, request_hash),
            ).fetchone()
            if inserted is not None:
                return Reservation(Outcome.RESERVED)
            row = curs.execute(
                SQL(
                    "SELECT request_hash, state, status, body, content_type, headers, "
                    "created_at < clock_timestamp() - %s "
                    "FROM {} WHERE principal = %s AND key = %s FOR UPDATE"
                ).format(self._table),
                (self.pending_timeout, principal, key),
            ).fetchone()
            if row is None:  # released between the two statements: try once more
                curs.execute(
                    SQL("INSERT INTO {} (principal, key, request_hash) VALUES (%s, %s, %s)").format(
                        self._table
                    ),
                    (principal, key, request_hash),
                )
                return Reservation(Outcome.RESERVED)
            stored_hash, state, status, body, content_type, headers, stale = row
            if stored_hash != request_hash:
                return Reservation(Outcome.MISMATCH)
            if state == "done":
                return Reservation(
                    Outcome.REPLAY,
                    StoredResponse(
                        int(status), bytes(body), str(content_type), dict(headers or {})
                    ),
                )
            if stale:
                curs.execute(
                    SQL(
                        "UPDATE {} SET created_at = clock_timestamp() "
                        "WHERE principal = %s AND key = %s"
                    ).format(self._table),
                    (principal, key),
                )
                return Reservation(Outcome.RESERVED)
            return Reservation(Outcome.IN_PROGRESS)

    def complete(self, principal: str, key: str, response: StoredResponse) -> None:
        """Store the first answer for ``key``; later requests with it get this answer."""
        with self.datastore.get_connection() as conn, conn.transaction():
            conn.execute(
                SQL(
                    "UPDATE {} SET state = 'done', status = %s, body = %s, content_type = %s, "
                    "headers = %s WHERE principal = %s AND key = %s"
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
        """Forget a pending reservation (the command failed), so the key may be used again."""
        with self.datastore.get_connection() as conn, conn.transaction():
            conn.execute(
                SQL(
                    "DELETE FROM {} WHERE principal = %s AND key = %s AND state = 'pending'"
                ).format(self._table),
                (principal, key),
            )

    def purge(self, older_than: timedelta) -> int:
        """Delete keys reserved longer ago than ``older_than``; returns how many."""
        with self.datastore.get_connection() as conn, conn.transaction():
            curs = conn.execute(
                SQL("DELETE FROM {} WHERE created_at < clock_timestamp() - %s").format(self._table),
                (older_than,),
            )
            return int(curs.rowcount)

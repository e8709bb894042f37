"""The webhook tables beside the event store: operational state, not decisions.

- ``okrledger_webhook_secret``: each endpoint's signing secret and each chat channel's URL
  (never in an event, a secret returned once at registration), sealed with AES-GCM under
  ``OKR_SECRETS_KEY`` and the row's id as associated data (`infra.secretbox`). A row is written *before* the endpoint's `Registered` event commits,
  so a follower that has read the event always finds the endpoint's row.
- ``okrledger_webhook_progress``: the follower's log position. Its row is locked (``FOR
  UPDATE``) for the whole round, and the round's delivery rows commit with the new position:
  every (endpoint, event) gets exactly one row however many processes follow, whenever they die.
- ``okrledger_webhook_delivery``: one row per (endpoint, event, send): the signed body's
  content, its status (``pending``, ``delivered``, ``failed``), attempts, the next attempt's
  time, the last answer. Redelivery and replay add rows; nothing is rewritten but a row's own
  status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from psycopg import Connection
from psycopg.rows import dict_row
from psycopg.sql import SQL

from infra.secretbox import SecretBox, SecretsKeyMissing, is_sealed
from infra.tables import CreatedOnce, execute, qualified, returning

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


@dataclass(frozen=True)
class Delivery:
    """One delivery as the API lists it."""

    id: int
    endpoint_id: UUID
    position: int
    message_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
    redelivery_of: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "endpoint_id": str(self.endpoint_id),
            "position": self.position,
            "message_id": self.message_id,
            "event_type": self.event_type,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": (
                self.next_attempt_at.isoformat()
                if self.next_attempt_at and self.status == PENDING
                else None
            ),
            "last_status": self.last_status,
            "last_error": self.last_error,
            "created_at": self.created_at.isoformat(),
            "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None,
            "redelivery_of": self.redelivery_of,
        }


@dataclass(frozen=True)
class Due:
    """A delivery the sender has leased for one attempt."""

    id: int
    endpoint_id: UUID
    message_id: str
    body: bytes
    attempts: int
    created_at: datetime


_COLUMNS = (
    "id, endpoint_id, position, message_id, event_type, status, attempts, next_attempt_at, "
    "last_status, last_error, created_at, delivered_at, redelivery_of"
)


class WebhookStore:
    """The three tables, on the event store's connection pool."""

    def __init__(self, datastore: PostgresDatastore, box: SecretBox | None = None) -> None:
        self.datastore = datastore
        self.box = box
        self.secret = qualified(datastore, "okrledger_webhook_secret")
        self.progress = qualified(datastore, "okrledger_webhook_progress")
        self.deliveries_table = qualified(datastore, "okrledger_webhook_delivery")
        self._tables = CreatedOnce(
            datastore,
            "webhooks",
            SQL(
                "CREATE TABLE IF NOT EXISTS {secret} (endpoint_id uuid PRIMARY KEY, "
                "secret text NOT NULL, created_at timestamptz NOT NULL DEFAULT now()); "
                "CREATE TABLE IF NOT EXISTS {progress} (name text PRIMARY KEY, "
                "position bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now()); "
                "INSERT INTO {progress} (name, position) VALUES ('follower', 0) "
                "ON CONFLICT (name) DO NOTHING; "
                "CREATE TABLE IF NOT EXISTS {deliveries} ("
                "id bigserial PRIMARY KEY, endpoint_id uuid NOT NULL, "
                "position bigint NOT NULL, aggregate_id uuid NOT NULL, "
                "message_id text NOT NULL, event_type text NOT NULL, body bytea NOT NULL, "
                "status text NOT NULL DEFAULT 'pending', attempts int NOT NULL DEFAULT 0, "
                "next_attempt_at timestamptz NOT NULL, lease_until timestamptz, "
                "last_status int, last_error text NOT NULL DEFAULT '', "
                "created_at timestamptz NOT NULL, delivered_at timestamptz, "
                "redelivery_of bigint); "
                "CREATE INDEX IF NOT EXISTS okrledger_webhook_delivery_pending ON {deliveries} "
                "(endpoint_id, aggregate_id, position) WHERE status = 'pending'; "
                "CREATE INDEX IF NOT EXISTS okrledger_webhook_delivery_due ON {deliveries} "
                "(next_attempt_at) WHERE status = 'pending'; "
                "CREATE INDEX IF NOT EXISTS okrledger_webhook_delivery_endpoint ON {deliveries} "
                "(endpoint_id, id)"
            ).format(secret=self.secret, progress=self.progress, deliveries=self.deliveries_table),
        )

    def create_tables(self) -> None:
        self._tables.ensure()

    # --------------------------------------------------------------- secrets

    def put_secret(self, endpoint_id: UUID, secret: str) -> None:
        """Store a secret sealed under the current key (SecretsKeyMissing without one)."""
        if self.box is None:
            raise SecretsKeyMissing
        self.create_tables()
        execute(
            self.datastore,
            SQL("INSERT INTO {} (endpoint_id, secret) VALUES (%s, %s)").format(self.secret),
            (endpoint_id, self.box.seal(endpoint_id, secret)),
        )

    def secrets(self) -> dict[UUID, str]:
        """Every endpoint's secret (the endpoints whose registration did not commit too).

        A value stored in plain (before sealing) or under an earlier key is sealed again under
        the current key as it is read; one that no configured key opens is SecretUnreadable."""
        self.create_tables()
        with self.datastore.get_connection() as conn:
            rows = conn.execute(
                SQL("SELECT endpoint_id, secret FROM {}").format(self.secret)
            ).fetchall()
        opened: dict[UUID, str] = {}
        stale: list[tuple[UUID, str, str]] = []
        for row in rows:
            row_id, stored = row["endpoint_id"], row["secret"]
            if not is_sealed(stored):
                opened[row_id] = stored
            elif self.box is None:
                raise SecretsKeyMissing
            else:
                opened[row_id] = self.box.open(row_id, stored)
            if self.box is not None and not self.box.is_current(stored):
                stale.append((row_id, stored, opened[row_id]))
        if stale:
            self._reseal(stale)
        return opened

    def rotate(self) -> int:
        """Seal every plain or earlier-key value under the current key; how many were."""
        if self.box is None:
            raise SecretsKeyMissing
        before = self.sealed_under_current()
        self.secrets()
        return self.sealed_under_current() - before

    def sealed_under_current(self) -> int:
        self.create_tables()
        with self.datastore.get_connection() as conn:
            rows = conn.execute(SQL("SELECT secret FROM {}").format(self.secret)).fetchall()
        return sum(1 for r in rows if self.box is not None and self.box.is_current(r["secret"]))

    def _reseal(self, stale: list[tuple[UUID, str, str]]) -> None:
        assert self.box is not None
        with self.datastore.get_connection() as conn, conn.transaction():
            for row_id, stored, secret in stale:
                conn.execute(
                    SQL("UPDATE {} SET secret = %s WHERE endpoint_id = %s AND secret = %s").format(
                        self.secret
                    ),
                    (self.box.seal(row_id, secret), row_id, stored),
                )

    def endpoint_ids(self) -> list[UUID]:
        self.create_tables()
        with self.datastore.get_connection() as conn:
            rows = conn.execute(
                SQL("SELECT endpoint_id FROM {} ORDER BY created_at").format(self.secret)
            ).fetchall()
        return [row["endpoint_id"] for row in rows]

    # ------------------------------------------------------------ deliveries

    def insert(
        self,
        conn: Connection[Any],
        rows: list[tuple[UUID, int, UUID, str, str, bytes, datetime, int | None]],
    ) -> None:
        """(endpoint, position, aggregate, message id, type, body, now, redelivery_of) rows."""
        if not rows:
            return
        with conn.cursor() as curs:
            curs.executemany(
                SQL(
                    "INSERT INTO {} (endpoint_id, position, aggregate_id, message_id, event_type, "
                    "body, next_attempt_at, created_at, redelivery_of) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                ).format(self.deliveries_table),
                [(e, p, a, m, t, b, now, now, r) for e, p, a, m, t, b, now, r in rows],
            )

    def lease_due(
        self, endpoints: list[UUID], now: datetime, lease_until: datetime, limit: int
    ) -> list[Due]:
        """Lease up to `limit` due deliveries, each the first pending one of its aggregate
        for its endpoint (a later event of an aggregate waits for the earlier one)."""
        if not endpoints:
            return []
        self.create_tables()
        query = SQL(
            "WITH due AS (SELECT d.id FROM {d} d WHERE d.status = 'pending' "
            "AND d.endpoint_id = ANY(%(endpoints)s) AND d.next_attempt_at <= %(now)s "
            "AND (d.lease_until IS NULL OR d.lease_until <= %(now)s) "
            "AND NOT EXISTS (SELECT 1 FROM {d} p WHERE p.status = 'pending' "
            "AND p.endpoint_id = d.endpoint_id AND p.aggregate_id = d.aggregate_id "
            "AND (p.position < d.position OR (p.position = d.position AND p.id < d.id))) "
            "ORDER BY d.position, d.id LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
            "UPDATE {d} SET lease_until = %(lease)s FROM due WHERE {d}.id = due.id "
            "RETURNING {d}.id, {d}.endpoint_id, {d}.message_id, {d}.body, {d}.attempts, "
            "{d}.created_at, {d}.position"
        ).format(d=self.deliveries_table)
        rows = returning(
            self.datastore,
            query,
            {"endpoints": endpoints, "now": now, "lease": lease_until, "limit": limit},
        )
        rows.sort(key=lambda r: (r["position"], r["id"]))
        return [
            Due(
                r["id"],
                r["endpoint_id"],
                r["message_id"],
                bytes(r["body"]),
                r["attempts"],
                r["created_at"],
            )
            for r in rows
        ]

    def settle(
        self,
        delivery_id: int,
        *,
        status: str,
        attempts: int,
        next_attempt_at: datetime,
        last_status: int | None,
        last_error: str,
        delivered_at: datetime | None,
    ) -> None:
        execute(
            self.datastore,
            SQL(
                "UPDATE {} SET status = %s, attempts = %s, next_attempt_at = %s, "
                "lease_until = NULL, last_status = %s, last_error = %s, delivered_at = %s "
                "WHERE id = %s"
            ).format(self.deliveries_table),
            (
                status,
                attempts,
                next_attempt_at,
                last_status,
                last_error[:2000],
                delivered_at,
                delivery_id,
            ),
        )

    def deliveries(
        self, endpoint_id: UUID, *, before: int | None = None, limit: int = 100
    ) -> list[Delivery]:
        """The endpoint's deliveries, newest first."""
        self.create_tables()
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=dict_row) as curs:
            curs.execute(
                SQL(
                    "SELECT " + _COLUMNS + " FROM {} WHERE endpoint_id = %s AND id < %s "
                    "ORDER BY id DESC LIMIT %s"
                ).format(self.deliveries_table),
                (endpoint_id, before if before is not None else 2**62, limit),
            )
            return [Delivery(**row) for row in curs.fetchall()]

    def delivery(self, endpoint_id: UUID, delivery_id: int) -> Delivery | None:
        self.create_tables()
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=dict_row) as curs:
            curs.execute(
                SQL("SELECT " + _COLUMNS + " FROM {} WHERE endpoint_id = %s AND id = %s").format(
                    self.deliveries_table
                ),
                (endpoint_id, delivery_id),
            )
            row = curs.fetchone()
        return Delivery(**row) if row else None

    def redeliver(self, endpoint_id: UUID, delivery_id: int, now: datetime) -> Delivery | None:
        """A new pending delivery of the same signed content; None if there is no such one."""
        self.create_tables()
        rows = returning(
            self.datastore,
            SQL(
                "INSERT INTO {d} (endpoint_id, position, aggregate_id, message_id, "
                "event_type, body, next_attempt_at, created_at, redelivery_of) "
                "SELECT endpoint_id, position, aggregate_id, message_id, event_type, body, "
                "%s, %s, id FROM {d} WHERE endpoint_id = %s AND id = %s RETURNING id"
            ).format(d=self.deliveries_table),
            (now, now, endpoint_id, delivery_id),
        )
        return self.delivery(endpoint_id, rows[0]["id"]) if rows else None

    def follower_position(self) -> int:
        self.create_tables()
        with self.datastore.get_connection() as conn:
            row = conn.execute(
                SQL("SELECT position FROM {} WHERE name = 'follower'").format(self.progress)
            ).fetchone()
        return int(row["position"]) if row else 0

"""The notifier's tables beside the event store: its position, the outbox, the deliveries.

Decisions are events; this is machinery (operational state), so it lives in plain tables:

- ``okrledger_notifier_tracking``: eventsourcing's tracking table; one row, the log position
  the notices have been decided up to. It moves only forward, in the transaction that writes
  the notices that position caused: the outbox is exactly-once however the follower dies.
- ``okrledger_notices``: the outbox, one row per notice (`projections.notices.Notice`), ids
  deterministic, so a page decided twice inserts nothing twice. ``dispatched_at`` is set once a
  sender has decided the notice's channels from the recipient's preferences (``dropped`` says
  why nobody was told, e.g. the recipient is deactivated).
- ``okrledger_notice_deliveries``: one row per notice and channel: ``sent`` (the in-app
  channel is sent by being stored), ``pending`` (until ``not_before``: quiet hours, retries),
  ``held`` (for the person's digest), ``skipped`` (turned off), ``failed`` (given up), with
  attempts, the last error and the message id the receiver can recognise a resend by.
- ``okrledger_notifier_keys``: the key that signs one-click unsubscribe links.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore
from psycopg import Connection, Cursor
from psycopg.sql import SQL, Identifier

from infra.tables import PerRecorder
from infra.tracking import ConcurrentlyCreated
from projections.notices import Notice

TRACKING_TABLE = "okrledger_notifier_tracking"
TRACKING_NAME = "notifier"
NOTICES = "okrledger_notices"
DELIVERIES = "okrledger_notice_deliveries"
KEYS = "okrledger_notifier_keys"
CHANNEL = "okrledger_notices"
"""The LISTEN/NOTIFY channel that wakes senders when notices or deliveries are due."""

IN_APP = "in_app"


class NoticeStore(ConcurrentlyCreated):
    """The outbox and its tracking position, on the event store's connection pool."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        super().__init__(datastore, tracking_table_name=TRACKING_TABLE)
        schema = datastore.schema or "public"
        self.notices = Identifier(schema, NOTICES)
        self.deliveries = Identifier(schema, DELIVERIES)
        self.keys = Identifier(schema, KEYS)
        self.sql_create_statements.extend(
            [
                SQL(
                    "CREATE TABLE IF NOT EXISTS {} ("
                    "id uuid PRIMARY KEY, position bigint NOT NULL, kind text NOT NULL, "
                    "recipient_id uuid NOT NULL, actor text NOT NULL, objective_id uuid, "
                    "link text NOT NULL, data jsonb NOT NULL, "
                    "created_at timestamptz NOT NULL DEFAULT now(), "
                    "dispatched_at timestamptz, dropped text, "
                    "in_app_only boolean NOT NULL DEFAULT false)"
                ).format(self.notices),
                SQL(
                    "CREATE INDEX IF NOT EXISTS okrledger_notices_undispatched "
                    "ON {} (position) WHERE dispatched_at IS NULL"
                ).format(self.notices),
                SQL(
                    "CREATE INDEX IF NOT EXISTS okrledger_notices_recipient "
                    "ON {} (recipient_id, position DESC)"
                ).format(self.notices),
                SQL(
                    "CREATE TABLE IF NOT EXISTS {} ("
                    "notice_id uuid NOT NULL REFERENCES {} (id), channel text NOT NULL, "
                    "status text NOT NULL, not_before timestamptz NOT NULL DEFAULT now(), "
                    "attempts integer NOT NULL DEFAULT 0, message_id text, last_error text, "
                    "sent_at timestamptz, PRIMARY KEY (notice_id, channel))"
                ).format(self.deliveries, self.notices),
                SQL(
                    "CREATE INDEX IF NOT EXISTS okrledger_notice_deliveries_due "
                    "ON {} (not_before) WHERE status = 'pending'"
                ).format(self.deliveries),
                SQL(
                    "CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, secret bytea NOT NULL)"
                ).format(self.keys),
            ]
        )
        self._created = False
        self._setting_up = threading.Lock()

    def _create_table(self, curs: Cursor[Any]) -> None:
        # CREATE ... IF NOT EXISTS is not safe against a concurrent creator: serialise them.
        curs.execute(
            SQL("SELECT pg_advisory_xact_lock(hashtext(%s))"),
            (f"okrledger:create:{self.datastore.schema}.notifier",),
        )
        super()._create_table(curs)

    def setup(self) -> None:
        with self._setting_up:
            if not self._created:
                self.create_table()
                self._created = True

    # -------------------------------------------------------------- follower

    def position(self) -> int:
        self.setup()
        return int(self.max_tracking_id(TRACKING_NAME) or 0)

    def record(
        self,
        curs: Cursor[Any],
        notices: Sequence[Notice],
        position: int,
        in_app_only: frozenset[UUID] = frozenset(),
    ) -> None:
        """Write `notices` and move the position to `position`, in the caller's transaction.
        Refused (IntegrityError) unless the position moves forward: a second follower that
        read the same page commits nothing. Notices in `in_app_only` (about old events) are
        shown on the notifications page and sent on no other channel."""
        self.insert(curs, notices, in_app_only)
        with curs.connection.cursor() as own:
            self._insert_tracking(own, Tracking(TRACKING_NAME, position))

    def insert(
        self,
        curs: Cursor[Any],
        notices: Sequence[Notice],
        in_app_only: frozenset[UUID] = frozenset(),
    ) -> int:
        """Write `notices` (ids already stored are left alone) and wake the senders; how many
        were new. The follower writes with its position (`record`); the reminder scheduler
        writes notices that time caused with this alone."""
        if not notices:
            return 0
        curs.executemany(
            SQL(
                "INSERT INTO {} (id, position, kind, recipient_id, actor, objective_id, "
                "link, data, in_app_only) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (id) DO NOTHING"
            ).format(self.notices),
            [
                (
                    n.id,
                    n.position,
                    n.kind,
                    n.recipient_id,
                    n.actor,
                    n.objective_id,
                    n.link,
                    orjson.dumps(n.data).decode(),
                    n.id in in_app_only,
                )
                for n in notices
            ],
        )
        written = max(curs.rowcount, 0)
        curs.execute(SQL("SELECT pg_notify(%s, 'notices')"), (CHANNEL,))
        return written

    # -------------------------------------------------------------- keys

    def secret(self, name: str = "unsubscribe") -> bytes:
        """A random key kept in the database (made on first use), shared by every process."""
        self.setup()
        with self.datastore.get_connection() as conn, conn.transaction():
            conn.execute(
                SQL("INSERT INTO {} (name, secret) VALUES (%s, %s) ON CONFLICT DO NOTHING").format(
                    self.keys
                ),
                (name, secrets.token_bytes(32)),
            )
            row: Any = conn.execute(
                SQL("SELECT secret FROM {} WHERE name = %s").format(self.keys), (name,)
            ).fetchone()
        return bytes(row["secret"])

    # -------------------------------------------------------------- reads

    def messages(self, recipient_id: UUID, limit: int = 50) -> list[dict[str, Any]]:
        """The person's latest notices (newest first) with each channel's delivery status."""
        self.setup()
        with self.datastore.get_connection() as conn:
            rows: list[Any] = conn.execute(
                SQL(
                    "SELECT n.id, n.position, n.kind, n.recipient_id, n.actor, n.objective_id, "
                    "n.link, n.data, n.created_at, n.dispatched_at, n.dropped, "
                    "coalesce(json_agg(json_build_object("
                    "'channel', d.channel, 'status', d.status, 'attempts', d.attempts, "
                    "'sent_at', d.sent_at, 'last_error', d.last_error, 'message_id', "
                    "d.message_id) ORDER BY d.channel) FILTER (WHERE d.channel IS NOT NULL), "
                    "'[]') AS deliveries FROM {} n LEFT JOIN {} d ON d.notice_id = n.id "
                    "WHERE n.recipient_id = %s GROUP BY n.id "
                    "ORDER BY n.position DESC, n.kind LIMIT %s"
                ).format(self.notices, self.deliveries),
                (recipient_id, limit),
            ).fetchall()
        return [dict(row) for row in rows]

    def counts(self, conn: Connection[Any] | None = None) -> dict[str, int]:
        """Deliveries by status (for tests, benchmarks and metrics)."""
        query = SQL("SELECT status, count(*) AS n FROM {} GROUP BY status").format(self.deliveries)
        if conn is not None:
            rows: list[Any] = conn.execute(query).fetchall()
        else:
            with self.datastore.get_connection() as own:
                rows = own.execute(query).fetchall()
        return {row["status"]: int(row["n"]) for row in rows}


def notice_of(row: dict[str, Any]) -> Notice:
    data = row["data"]
    return Notice(
        id=row["id"],
        kind=row["kind"],
        recipient_id=row["recipient_id"],
        position=int(row["position"]),
        actor=row["actor"],
        objective_id=row["objective_id"],
        link=row["link"],
        data=dict(data if isinstance(data, dict) else orjson.loads(data)),
    )


notice_store_of = PerRecorder(NoticeStore)
"""The notifier's tables beside an application's PostgreSQL recorder (one per recorder); None
for other recorders (in memory), where nothing is notified."""

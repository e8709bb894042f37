"""The relay: the notification log, in commit order, onto a Kafka topic — at least once.

How it stays correct:

- **Position after acknowledgement.** The relay reads a page of the log after its saved
  position, sends it, flushes, and only then saves the position of the longest prefix of the page
  the broker acknowledged (``acks=all``, idempotent producer). A crash between the flush and the
  save resends that page: duplicates are confined to the unacknowledged tail and carry the same
  CloudEvents ``id`` (aggregate id + version), so consumers dedupe by it.
- **One active relay.** A relay publishes only while it holds a PostgreSQL session advisory lock
  on its own dedicated connection; others wait as standbys, polling the lock. When the holder dies
  its connection closes, PostgreSQL releases the lock, and a standby takes over from the saved
  position. The position is written through that same connection, so a relay that lost its
  connection (and with it the lock) can no longer advance the position.
- **Broker trouble is not fatal.** A page that was not fully acknowledged within the producer's
  delivery timeout (broker paused, restarted, unreachable) is resent from the first unacknowledged
  event with a fresh producer after an exponential back-off; the topic is re-created first if the
  broker lost it.
- **Gap-free reads.** eventsourcing inserts under ``LOCK TABLE ... EXCLUSIVE``, so notification ids
  become visible in commit order: reading ``> position`` never skips an event committed later with
  a lower id.

The relay's row in ``<events_table>_relay`` (one per topic) is what ``okr relay --status``
compares with the log head.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import random
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from eventsourcing.persistence import Mapper, Notification, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from kafka.errors import KafkaError
from psycopg.sql import SQL, Composed, Identifier

from infra.audit.personal import PersonalDataMapper
from infra.chain import ChainedApplicationRecorder
from infra.kafka import envelope
from infra.kafka.config import KafkaConfig, ensure_topic
from infra.kafka.pg import connect, postgres_recorder
from infra.repeating import Looping

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from eventsourcing.application import Application
    from kafka import KafkaProducer

log = logging.getLogger("okrledger.kafka.relay")


def relay_table_name(events_table_name: str) -> str:
    return f"{events_table_name}_relay"


@dataclass(frozen=True)
class _Row:
    position: int
    originator_id: Any
    originator_version: int
    topic: str
    state: bytes
    chain_hash: bytes | None
    committed_at: datetime | None


@dataclass(frozen=True)
class RelayStatus:
    """Where the relay stands against the log."""

    topic: str
    position: int
    """The last log position the broker acknowledged."""
    head: int
    """The last position in the log."""
    lag: int
    """Events committed but not yet acknowledged by the broker."""
    active: bool
    """Whether a relay holds the lock right now."""
    holder: str | None
    """The active relay's ``application_name`` (``okr-relay host:pid``)."""
    updated_at: datetime | None
    """When the position last moved."""
    oldest_unpublished_at: datetime | None
    """Commit time of the first event not yet acknowledged (``None`` when caught up)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "position": self.position,
            "head": self.head,
            "lag": self.lag,
            "active": self.active,
            "holder": self.holder,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "oldest_unpublished_at": (
                self.oldest_unpublished_at.isoformat() if self.oldest_unpublished_at else None
            ),
        }


class _Tables:
    """SQL for one application's relay: its position table, its log and chain, its lock key."""

    def __init__(self, recorder: PostgresApplicationRecorder, topic: str) -> None:
        datastore = recorder.datastore
        self.topic = topic
        self.channel = recorder.channel_name
        schema = Identifier(datastore.schema)
        relay_table = relay_table_name(recorder.events_table_name)
        recorder.check_identifier_length(relay_table)
        self.relay = Composed([schema, SQL("."), Identifier(relay_table)])
        events = Composed([schema, SQL("."), Identifier(recorder.events_table_name)])
        self.events = events
        name = f"okrledger:relay:{datastore.schema}.{relay_table}:{topic}"
        self.lock_key = int.from_bytes(
            hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
        )
        if isinstance(recorder, ChainedApplicationRecorder):
            chain = Composed([schema, SQL("."), Identifier(recorder.chain_table_name)])
            self.select_page = SQL(
                "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, "
                "e.state, c.hash, c.committed_at FROM {events} e "
                "LEFT JOIN {chain} c ON c.position = e.notification_id "
                "WHERE e.notification_id > %s ORDER BY e.notification_id LIMIT %s"
            ).format(events=events, chain=chain)
            self.select_committed_at: Composed | None = SQL(
                "SELECT committed_at FROM {chain} WHERE position > %s ORDER BY position LIMIT 1"
            ).format(chain=chain)
        else:
            self.select_page = SQL(
                "SELECT notification_id, originator_id, originator_version, topic, state, "
                "NULL, NULL FROM {events} "
                "WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
            ).format(events=events)
            self.select_committed_at = None
        self.create = SQL(
            "CREATE TABLE IF NOT EXISTS {relay} ("
            "topic text PRIMARY KEY, "
            "position bigint NOT NULL, "
            "updated_at timestamptz NOT NULL DEFAULT now())"
        ).format(relay=self.relay)
        self.insert = SQL(
            "INSERT INTO {relay} (topic, position) VALUES (%s, 0) ON CONFLICT (topic) DO NOTHING"
        ).format(relay=self.relay)
        self.select_position = SQL(
            "SELECT position, updated_at FROM {relay} WHERE topic = %s"
        ).format(relay=self.relay)
        # Never backwards: a resend after a crash must not undo a later relay's progress.
        self.advance = SQL(
            "UPDATE {relay} SET position = %s, updated_at = now() "
            "WHERE topic = %s AND position < %s"
        ).format(relay=self.relay)

    def create_tables(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"okrledger:create:{self.relay}",)
            )
            conn.execute(self.create)
            conn.execute(self.insert, (self.topic,))


def _lock_parts(key: int) -> tuple[int, int]:
    """The (classid, objid) under which pg_locks shows a bigint advisory lock key."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    return unsigned >> 32, unsigned & 0xFFFFFFFF


def relay_status(app: Application[Any], topic: str) -> RelayStatus:
    """The relay's position against the log head, and whether a relay is active."""
    recorder = postgres_recorder(app)
    tables = _Tables(recorder, topic)
    classid, objid = _lock_parts(tables.lock_key)
    with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(
            "SELECT to_regclass(%s) IS NOT NULL",
            (tables.relay.as_string(conn),),
        )
        row = curs.fetchone()
        exists = bool(row and next(iter(row.values())))
        position, updated_at = 0, None
        if exists:
            found = curs.execute(tables.select_position, (topic,)).fetchone()
            if found is not None:
                position, updated_at = int(found["position"]), found["updated_at"]
        # Two index range reads (a FILTER over one count would scan the whole log).
        head_row = curs.execute(
            SQL(
                "SELECT (SELECT max(notification_id) FROM {events}) AS head, "
                "(SELECT count(*) FROM {events} WHERE notification_id > %s) AS lag"
            ).format(events=tables.events),
            (position,),
        ).fetchone()
        head = int(head_row["head"] or 0) if head_row else 0
        lag = int(head_row["lag"] or 0) if head_row else 0
        holder_row = curs.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND l.classid = %s::bigint::oid AND l.objid = %s::bigint::oid AND l.objsubid = 1",
            (classid, objid),
        ).fetchone()
        oldest = None
        if lag and tables.select_committed_at is not None:
            oldest_row = curs.execute(tables.select_committed_at, (position,)).fetchone()
            oldest = oldest_row["committed_at"] if oldest_row else None
    return RelayStatus(
        topic=topic,
        position=position,
        head=head,
        lag=lag,
        active=holder_row is not None,
        holder=holder_row["application_name"] if holder_row else None,
        updated_at=updated_at,
        oldest_unpublished_at=oldest,
    )


class _LostLock(Exception):
    """The relay's connection, and so its lock, is gone: stop publishing."""


class Relay(Looping):
    """Publishes the application's notification log to Kafka; see the module docstring.

    ``run()`` blocks until ``stop()``; ``start()`` runs it in a daemon thread (``okr serve``).
    """

    thread_name = "okr-relay"

    def __init__(
        self,
        app: Application[Any],
        config: KafkaConfig,
        *,
        standby_poll_seconds: float = 0.5,
        idle_wait_seconds: float = 1.0,
        min_backoff_seconds: float = 0.2,
        max_backoff_seconds: float = 5.0,
        on_published: Callable[[int, int], None] | None = None,
    ) -> None:
        super().__init__()
        self.app = app
        self.config = config
        self.recorder = postgres_recorder(app)
        self.tables = _Tables(self.recorder, config.topic)
        self.standby_poll_seconds = standby_poll_seconds
        self.idle_wait_seconds = idle_wait_seconds
        self.min_backoff_seconds = min_backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.on_published = on_published
        """Called with (first position, last position) after each acknowledged batch."""
        self.name = f"okr-relay {socket.gethostname()}:{os.getpid()}"
        self._active = threading.Event()
        self.position: int | None = None
        self.published = 0
        """Events acknowledged by the broker since this relay started."""

    # ------------------------------------------------------------ lifecycle

    @property
    def active(self) -> bool:
        """Whether this relay holds the lock and publishes (the others are standbys)."""
        return self._active.is_set()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Finish the batch in flight, save its position, release the lock and return."""
        super().stop(timeout)

    def wait_until_active(self, timeout: float | None = None) -> bool:
        return self._active.wait(timeout)

    def run(self) -> None:
        """Stand by, become active, publish; on a lost database connection, start over."""
        backoff = self.min_backoff_seconds
        while not self._stopping.is_set():
            try:
                with connect(self.recorder, self.name) as conn:
                    backoff = self.min_backoff_seconds
                    if self._acquire(conn):
                        self._lead(conn)
            except (psycopg.OperationalError, psycopg.InterfaceError, _LostLock) as e:
                if self._active.is_set():
                    log.error("lost the database connection, and with it the relay lock: %s", e)
                else:
                    log.warning("database unavailable (%s); retrying in %.1f s", e, backoff)
                self._active.clear()
                self._stopping.wait(_jitter(backoff))
                backoff = min(backoff * 2, self.max_backoff_seconds)
            except Exception:
                # A bug, not an outage; keep the process (okr serve) alive and try again later.
                log.exception("relay failed; restarting in %.1f s", self.max_backoff_seconds)
                self._active.clear()
                self._stopping.wait(self.max_backoff_seconds)
            finally:
                self._active.clear()
        log.info("relay stopped at position %s", self.position)

    # ------------------------------------------------------------ standby

    def _acquire(self, conn: psycopg.Connection[Any]) -> bool:
        """Wait for the lock; False if stopped first."""
        self.tables.create_tables(conn)
        waiting_logged = False
        while not self._stopping.is_set():
            row = conn.execute(
                "SELECT pg_try_advisory_lock(%s::bigint)", (self.tables.lock_key,)
            ).fetchone()
            if row and row[0]:
                self._active.set()
                return True
            if not waiting_logged:
                holder = relay_status(self.app, self.config.topic).holder
                log.info("standby: %s is the active relay for %s", holder, self.config.topic)
                waiting_logged = True
            self._stopping.wait(self.standby_poll_seconds)
        return False

    # ------------------------------------------------------------ active

    def _lead(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(SQL("LISTEN {}").format(Identifier(self.tables.channel)))
        self.position = self._load_position(conn)
        log.info(
            "active: relaying %s from position %d to %s at %s",
            self.recorder.events_table_name,
            self.position,
            self.config.topic,
            self.config.bootstrap,
        )
        producer: KafkaProducer | None = None
        backoff = self.min_backoff_seconds
        try:
            while not self._stopping.is_set():
                rows = self._fetch(conn, self.position)
                if not rows:
                    self._wait_for_commit(conn)
                    continue
                if producer is None:
                    producer = self._connect_producer()
                    if producer is None:
                        self._stopping.wait(backoff)
                        backoff = min(backoff * 2, self.max_backoff_seconds)
                        continue
                acked, error = self._publish(producer, rows)
                if acked is not None:
                    self._save_position(conn, acked)
                    count = sum(1 for r in rows if r.position <= acked)
                    self.published += count
                    if self.on_published is not None:
                        self.on_published(rows[0].position, acked)
                if error is None:
                    if backoff > self.min_backoff_seconds:
                        log.info("broker reachable again; relayed up to position %d", acked)
                    backoff = self.min_backoff_seconds
                    continue
                log.warning(
                    "broker did not acknowledge positions %d..%d (%s); resending from %d in %.1f s",
                    (acked or rows[0].position - 1) + 1,
                    rows[-1].position,
                    error,
                    self.position + 1,
                    backoff,
                )
                _close(producer)
                producer = None
                self._stopping.wait(_jitter(backoff))
                backoff = min(backoff * 2, self.max_backoff_seconds)
        finally:
            if producer is not None:
                _close(producer, timeout=self.config.delivery_timeout_ms / 1000)
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s::bigint)", (self.tables.lock_key,))

    def _load_position(self, conn: psycopg.Connection[Any]) -> int:
        row = conn.execute(self.tables.select_position, (self.config.topic,)).fetchone()
        return int(row[0]) if row else 0

    def _save_position(self, conn: psycopg.Connection[Any], position: int) -> None:
        try:
            conn.execute(self.tables.advance, (position, self.config.topic, position))
        except psycopg.OperationalError as e:
            raise _LostLock(str(e)) from e
        self.position = position

    def _fetch(self, conn: psycopg.Connection[Any], after: int) -> list[_Row]:
        try:
            rows = conn.execute(self.tables.select_page, (after, self.config.batch_size)).fetchall()
        except psycopg.OperationalError as e:
            raise _LostLock(str(e)) from e
        return [
            _Row(
                position=r[0],
                originator_id=r[1],
                originator_version=r[2],
                topic=r[3],
                state=bytes(r[4]),
                chain_hash=bytes(r[5]) if r[5] is not None else None,
                committed_at=r[6],
            )
            for r in rows
        ]

    def _wait_for_commit(self, conn: psycopg.Connection[Any]) -> None:
        """Sleep until the recorder NOTIFYs a commit (or a short timeout, as a safety net)."""
        try:
            for _ in conn.notifies(timeout=self.idle_wait_seconds, stop_after=1):
                pass
        except psycopg.OperationalError as e:
            raise _LostLock(str(e)) from e

    def _connect_producer(self) -> KafkaProducer | None:
        try:
            ensure_topic(self.config)
            return self.config.producer(client_id=f"{self.config.client_id}-relay")
        except KafkaError as e:
            log.warning("cannot reach the broker at %s: %s", self.config.bootstrap, e)
            return None

    def _publish(
        self, producer: KafkaProducer, rows: Sequence[_Row]
    ) -> tuple[int | None, Exception | None]:
        """Send a page, flush, and return the last position of its acknowledged prefix."""
        futures = []
        error: Exception | None = None
        try:
            for row in rows:
                message = self._envelope(row)
                future = producer.send(
                    self.config.topic,
                    key=message.key,
                    value=message.value,
                    headers=message.headers,
                )
                futures.append((row.position, future))
        except KafkaError as e:
            error = e
        try:
            producer.flush(timeout=self.config.delivery_timeout_ms / 1000 + 5)
        except KafkaError as e:
            error = error or e
        acked: int | None = None
        for position, future in futures:
            if not (future.is_done and future.succeeded()):
                error = error or future.exception or KafkaError("not acknowledged in time")
                break
            acked = position
        return acked, error

    def _envelope(self, row: _Row) -> envelope.Envelope:
        notification = Notification(
            id=row.position,
            originator_id=row.originator_id,
            originator_version=row.originator_version,
            topic=row.topic,
            state=row.state,
        )
        event = event_for_publishing(self.app.mapper, notification)
        return envelope.encode(
            event,
            position=row.position,
            source=self.config.source,
            chain_hash=row.chain_hash,
            committed_at=row.committed_at,
        )


def event_for_publishing(mapper: Mapper[Any], stored: StoredEvent) -> Any:
    """The domain event to publish, with personal data still sealed.

    Names and e-mail addresses are stored encrypted under a key per person, so that forgetting
    the person (destroying the key) erases them everywhere. Published in clear they would outlive
    the erasure in Kafka's log and in every consumer; so they travel as the same ciphertext, and
    only a reader with access to the key store (a projection worker) can open them.
    """
    if isinstance(mapper, PersonalDataMapper):
        return Mapper.to_domain_event(mapper, stored)  # decode, but do not decrypt
    return mapper.to_domain_event(stored)


def _close(producer: KafkaProducer, timeout: float = 0) -> None:
    with contextlib.suppress(Exception):
        producer.close(timeout=timeout)


def _jitter(seconds: float) -> float:
    return seconds * random.uniform(0.8, 1.2)


def wait_for_position(app: Application[Any], topic: str, position: int, timeout: float) -> bool:
    """Wait until the relay has published up to ``position`` (tests, and ``min_position``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if relay_status(app, topic).position >= position:
            return True
        time.sleep(0.05)
    return False

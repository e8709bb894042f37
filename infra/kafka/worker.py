"""Projection workers: a consumer group that applies the topic to PostgreSQL views, exactly once.

Each worker owns the partitions the group assigns it. For every partition batch it opens one
PostgreSQL transaction that

1. locks the partition's row in ``okr_kafka_offsets`` and drops records below the stored offset
   (a batch a previous owner already applied);
2. decodes the envelopes — a record that is not an okrledger event goes to the dead-letter topic
   with the reason, and the worker carries on;
3. drops events whose aggregate version it has already applied (``okr_kafka_versions``): the
   relay's at-least-once resends — unless the projector tracks a log position of its own (the
   live views, ``projectors.LiveViews``), which makes this bookkeeping unnecessary;
4. hands the rest to the projector, which writes its view rows;
5. stores the applied versions and the partition's next offset, and commits.

Rows and offsets commit together, so a worker killed at any point leaves either the whole batch
or none of it; the next owner of the partition seeks to the offset stored in PostgreSQL when the
group assigns it (Kafka's own committed offsets are never used). A worker that lost its partition
while busy (a zombie) cannot commit over the new owner's work: step 1 waits for the new owner's
lock and then finds the records already applied.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, LiteralString, TypeVar
from uuid import UUID

import psycopg
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import Mapper, MapperDeserialisationError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from kafka import ConsumerRebalanceListener, TopicPartition
from kafka.errors import KafkaError
from psycopg.sql import SQL, Composed, Identifier

from infra.audit.personal import PersonalDataMapper
from infra.kafka import envelope
from infra.kafka.config import KafkaConfig, ensure_topic
from infra.kafka.pg import connect, postgres_recorder
from infra.repeating import Looping
from infra.views.schema import TRACKING_TABLE
from infra.views.store import ViewStore, views_position
from projections.base import Logged

if TYPE_CHECKING:
    from eventsourcing.application import Application
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.consumer.fetcher import ConsumerRecord

    from infra.kafka.projectors import Projector

log = logging.getLogger("okrledger.kafka.worker")

HEADER_REASON = "okr-dlq-reason"

T = TypeVar("T")

DATABASE_DOWN = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    StoreOperationalError,  # the event store's pool (e.g. a person's key, looked up to decode)
    StoreInterfaceError,
)
"""Errors that mean PostgreSQL is unreachable: the worker reconnects and rejoins the group."""


@dataclass(frozen=True)
class PartitionLag:
    partition: int
    next_offset: int
    """The next offset the group will apply (0: nothing applied yet)."""
    end_offset: int | None
    """The partition's end on the broker (``None`` if the broker did not answer)."""

    @property
    def lag(self) -> int | None:
        return None if self.end_offset is None else max(0, self.end_offset - self.next_offset)


class _Tables:
    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.offsets = Composed([Identifier(schema), SQL("."), Identifier("okr_kafka_offsets")])
        self.versions = Composed([Identifier(schema), SQL("."), Identifier("okr_kafka_versions")])

    def create(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))",
                (f"okrledger:create:{self.schema}.okr_kafka_offsets",),
            )
            conn.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {} ("
                    "consumer_group text NOT NULL, topic text NOT NULL, "
                    "partition integer NOT NULL, next_offset bigint NOT NULL, "
                    "updated_at timestamptz NOT NULL DEFAULT now(), "
                    "PRIMARY KEY (consumer_group, topic, partition))"
                ).format(self.offsets)
            )
            conn.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {} ("
                    "projector text NOT NULL, aggregate_id uuid NOT NULL, "
                    "version integer NOT NULL, PRIMARY KEY (projector, aggregate_id))"
                ).format(self.versions)
            )

    def group_offsets(
        self, conn: psycopg.Connection[Any], columns: LiteralString, group: str, topic: str
    ) -> psycopg.Cursor[Any]:
        """`SELECT columns` over the group's offsets rows on `topic`."""
        return conn.execute(
            SQL("SELECT {} FROM {} WHERE consumer_group = %s AND topic = %s").format(
                SQL(columns), self.offsets
            ),
            (group, topic),
        )

    def stored_offsets(
        self, conn: psycopg.Connection[Any], group: str, topic: str
    ) -> dict[int, int]:
        rows = self.group_offsets(conn, "partition, next_offset", group, topic).fetchall()
        return {int(p): int(o) for p, o in rows}


@dataclass(frozen=True)
class WorkerStatus:
    """How far the projection group is behind."""

    group: str
    topic: str
    unapplied: int
    """Events in the log that the group's view has not applied yet (from PostgreSQL alone)."""
    last_batch_at: datetime | None
    """When a worker of the group last committed a batch."""
    partitions: list[PartitionLag]
    """Per partition: the stored offset against the broker's end offset."""
    shards: dict[int, int] = field(default_factory=dict)
    """The views' log position per shard (= partition), when workers keep them in shards."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "topic": self.topic,
            "unapplied": self.unapplied,
            "shards": {str(k): v for k, v in sorted(self.shards.items())},
            "last_batch_at": self.last_batch_at.isoformat() if self.last_batch_at else None,
            "partitions": [
                {
                    "partition": p.partition,
                    "next_offset": p.next_offset,
                    "end_offset": p.end_offset,
                    "lag": p.lag,
                }
                for p in self.partitions
            ],
        }


def worker_status(
    app: Application[Any], config: KafkaConfig, projector: str = "views"
) -> WorkerStatus:
    """The group's lag: events not yet applied (exact), and offsets against the broker's ends.

    The event count compares the log with what the view applied, so it needs no broker and
    counts relay lag too. Broker end offsets are as the broker reports them (the Tansu test
    broker under-reports them).
    """
    recorder = postgres_recorder(app)
    tables = _Tables(recorder.datastore.schema)
    with connect(recorder, "okr-worker-status") as conn:
        tables.create(conn)
        stored = tables.stored_offsets(conn, config.group, config.topic)
        shards: dict[int, int] = {}
        if projector == "views":
            with contextlib.suppress(psycopg.errors.UndefinedTable):
                with conn.transaction():
                    found = ViewStore(recorder.datastore).shard_positions(conn)
                shards = {int(name.split("-of-")[0]): at for name, at in found.items()}
    unapplied = unapplied_events(app, projector)
    last = last_batch_at(app, config.group, config.topic)
    ends: dict[int, int] = {}
    with contextlib.suppress(KafkaError):
        consumer = config.consumer(group_id=None)
        try:
            partitions = consumer.partitions_for_topic(config.topic) or set()
            tps = [TopicPartition(config.topic, p) for p in partitions]
            ends = {tp.partition: int(o) for tp, o in consumer.end_offsets(tps).items()}
        finally:
            consumer.close()
    return WorkerStatus(
        group=config.group,
        topic=config.topic,
        unapplied=unapplied,
        last_batch_at=last,
        partitions=[
            PartitionLag(p, stored.get(p, 0), ends.get(p)) for p in sorted(set(stored) | set(ends))
        ],
        shards=shards,
    )


def open_personal_data(mapper: Mapper[Any], event: Any) -> Any:
    """The event with its sealed personal fields opened with the person's key from PostgreSQL.

    A forgotten person's fields open to the same placeholders the application reads
    ("forgotten person #N"), so the view equals a rebuild from the log.
    """
    if not isinstance(mapper, PersonalDataMapper):
        return event
    if not any(envelope.is_sealed(value) for value in vars(event).values()):
        return event
    return mapper.to_domain_event(Mapper.to_stored_event(mapper, event))


IDLE_STEP = 20_000
"""Log positions a worker applies per transaction when it moves an idle partition's views on."""


def unapplied_events(app: Application[Any], projector: str = "views") -> int:
    """Events in the log that ``projector``'s view has not applied yet (PostgreSQL only).

    For the live views: the events after the views' tracking position, counted on the log's
    primary key from that position on, so the cost grows with the lag, not with the log. For a
    per-aggregate projector: the log against the versions it applied (a scan of the log, meant
    for tests and small deployments).
    """
    recorder = postgres_recorder(app)
    events = Composed(
        [Identifier(recorder.datastore.schema), SQL("."), Identifier(recorder.events_table_name)]
    )
    if projector == "views":
        tracking = Composed(
            [Identifier(recorder.datastore.schema), SQL("."), Identifier(TRACKING_TABLE)]
        )
        with recorder.datastore.get_connection() as conn:
            if not _exists(conn, tracking):
                row = conn.execute(SQL("SELECT count(*) AS n FROM {}").format(events)).fetchone()
            else:
                row = conn.execute(
                    SQL(
                        "SELECT count(*) AS n FROM {} WHERE notification_id > coalesce({}, 0)"
                    ).format(events, views_position(tracking)),
                ).fetchone()
        return int(row["n"]) if row else 0
    tables = _Tables(recorder.datastore.schema)
    with recorder.datastore.get_connection() as conn:
        if not _exists(conn, tables.versions):
            row = conn.execute(SQL("SELECT count(*) AS n FROM {}").format(events)).fetchone()
            return int(row["n"]) if row else 0
        row = conn.execute(
            SQL(
                "SELECT count(*) AS n FROM {events} e LEFT JOIN {versions} v "
                "ON v.projector = %s AND v.aggregate_id = e.originator_id "
                "WHERE v.version IS NULL OR e.originator_version > v.version"
            ).format(events=events, versions=tables.versions),
            (projector,),
        ).fetchone()
    return int(row["n"]) if row else 0


def last_batch_at(app: Application[Any], group: str, topic: str) -> datetime | None:
    """When the group last committed a batch (``None`` if no worker ever did)."""
    recorder = postgres_recorder(app)
    tables = _Tables(recorder.datastore.schema)
    with recorder.datastore.get_connection() as conn:
        if not _exists(conn, tables.offsets):
            return None
        row = tables.group_offsets(conn, "max(updated_at) AS at", group, topic).fetchone()
    return row["at"] if row else None


def workers_ran(app: Application[Any]) -> bool:
    """Whether any projection worker ever ran against this database."""
    recorder = postgres_recorder(app)
    with recorder.datastore.get_connection() as conn:
        return _exists(conn, _Tables(recorder.datastore.schema).offsets)


def _exists(conn: psycopg.Connection[Any], table: Composed) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL AS found", (table.as_string(conn),))
    found = row.fetchone()
    return bool(found and found["found"])


class _Listener(ConsumerRebalanceListener):
    def __init__(self, worker: ProjectionWorker) -> None:
        self.worker = worker

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.worker._revoked(revoked)

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.worker._assigned(assigned)


class ProjectionWorker(Looping):
    """One member of the projection group; ``run()`` blocks, ``start()`` runs it in a thread."""

    thread_name = "okr-worker"

    def __init__(
        self,
        app: Application[Any],
        config: KafkaConfig,
        projector: Projector,
        *,
        max_records: int = 500,
        poll_timeout_ms: int = 200,
        min_backoff_seconds: float = 0.2,
        max_backoff_seconds: float = 5.0,
    ) -> None:
        super().__init__()
        self.app = app
        self.config = config
        self.projector = projector
        self.recorder = postgres_recorder(app)
        self.tables = _Tables(self.recorder.datastore.schema)
        self._apply_through_position: Callable[[psycopg.Connection[Any], int, int], None] | None = (
            getattr(projector, "apply_through", None)
        )
        """Set for a projector that keeps a log position of its own (the live views): it is
        given the batch's highest position and needs no per-aggregate versions."""
        self.max_records = max_records
        self.poll_timeout_ms = poll_timeout_ms
        self.min_backoff_seconds = min_backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.name = f"okr-worker {socket.gethostname()}:{os.getpid()}"
        self.assignment: frozenset[int] = frozenset()
        """The partitions this worker owns right now."""
        self.applied = 0
        """Events applied to the view by this worker."""
        self.skipped = 0
        """Records dropped as already applied (resends, redeliveries)."""
        self.dead_lettered = 0
        self._failures = 0
        """Batches failed in a row (the retry waits longer each time)."""
        self.progress_seconds = 60.0
        self._progress: tuple[float, tuple[int, int, int]] = (time.monotonic(), (0, 0, 0))
        self.idle_seconds = 0.5
        """How often a partition without records moves its view to the log's head."""
        self._idle_at = 0.0
        self._conn: psycopg.Connection[Any] | None = None
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None

    # ------------------------------------------------------------ lifecycle

    def stop(self, timeout: float | None = 30.0) -> None:
        """Finish the batch in hand, leave the group (its partitions move at once) and return."""
        super().stop(timeout)

    def run(self) -> None:
        backoff = self.min_backoff_seconds
        while not self._stopping.is_set():
            try:
                self._session()
                backoff = self.min_backoff_seconds
            except DATABASE_DOWN as e:
                log.warning("database unavailable (%s); rejoining in %.1f s", e, backoff)
            except KafkaError as e:
                log.warning("broker unavailable (%s); rejoining in %.1f s", e, backoff)
            except Exception:
                log.exception("worker failed; rejoining in %.1f s", backoff)
            if not self._stopping.is_set():
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff_seconds)
        log.info(
            "worker stopped: %d applied, %d skipped as already applied, %d dead-lettered",
            self.applied,
            self.skipped,
            self.dead_lettered,
        )

    def _session(self) -> None:
        """One membership of the group, on one database connection, until stopped or broken."""
        with connect(self.recorder, self.name) as conn:
            self._conn = conn
            self.tables.create(conn)
            self.projector.setup(conn)
            ensure_topic(self.config)
            ensure_topic(self.config, self.config.dead_letter_topic, partitions=1)
            consumer = self.config.consumer(client_id=f"{self.config.client_id}-worker")
            self._consumer = consumer
            try:
                consumer.subscribe([self.config.topic], listener=_Listener(self))
                log.info(
                    "joining group %s on %s at %s",
                    self.config.group,
                    self.config.topic,
                    self.config.bootstrap,
                )
                while not self._stopping.is_set():
                    batches = consumer.poll(
                        timeout_ms=self.poll_timeout_ms, max_records=self.max_records
                    )
                    for tp, records in batches.items():
                        if tp.partition in self.assignment:
                            self._process(consumer, tp, records)
                    self._advance_idle({tp.partition for tp in batches})
                    self._report_progress()
            finally:
                self.assignment = frozenset()
                with contextlib.suppress(Exception):
                    consumer.close()  # leaves the group: its partitions move at once
                self._consumer = None
                if self._producer is not None:
                    with contextlib.suppress(Exception):
                        self._producer.close(timeout=5)
                    self._producer = None
                self._conn = None

    def _report_progress(self) -> None:
        """One line a minute while the worker applies events (silence while it is idle)."""
        now = time.monotonic()
        if now - self._progress[0] < self.progress_seconds:
            return
        counts = (self.applied, self.skipped, self.dead_lettered)
        if counts != self._progress[1]:
            applied, skipped, dead = (a - b for a, b in zip(counts, self._progress[1], strict=True))
            log.info(
                "partitions %s: %d applied, %d skipped as already applied, %d dead-lettered "
                "in the last %.0f s",
                sorted(self.assignment),
                applied,
                skipped,
                dead,
                now - self._progress[0],
            )
        self._progress = (now, counts)

    # ------------------------------------------------------------ rebalancing

    def _revoked(self, revoked: Any) -> None:
        if revoked:
            log.info("partitions revoked: %s", sorted(tp.partition for tp in revoked))
        self.assignment = frozenset()

    def _assigned(self, assigned: Any) -> None:
        """Resume each new partition from the offset stored beside the view rows."""
        assert self._conn is not None and self._consumer is not None
        stored = self.tables.stored_offsets(self._conn, self.config.group, self.config.topic)
        for tp in assigned:
            offset = stored.get(tp.partition)
            if offset is None:
                self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek(tp, offset)
        self.assignment = frozenset(tp.partition for tp in assigned)
        assign = getattr(self.projector, "assign", None)
        if callable(assign) and self.assignment:
            # The topic's partition count is the views' shard count: never guessed.
            topic = self.config.topic
            partitions = self._consumer.partitions_for_topic(topic)
            if not partitions:
                self._consumer.topics()  # a metadata round trip
                partitions = self._consumer.partitions_for_topic(topic)
            if not partitions:
                raise KafkaError(f"no partition count known for {topic}")
            assign(self.assignment, len(partitions))
        log.info(
            "partitions assigned: %s (resuming at offsets %s)",
            sorted(self.assignment),
            {p: stored.get(p, 0) for p in sorted(self.assignment)},
        )

    # ------------------------------------------------------------ applying

    def _process(
        self, consumer: KafkaConsumer, tp: TopicPartition, records: Sequence[ConsumerRecord]
    ) -> None:
        conn = self._conn
        assert conn is not None
        try:
            with conn.transaction():
                applied, skipped, dead = self._apply_batch(conn, tp, records)
        except DATABASE_DOWN:
            self._discard()
            raise
        except Exception:
            # Nothing was stored: read the batch again after a pause (longer each time).
            self._discard()
            wait = min(self.min_backoff_seconds * 2**self._failures, self.max_backoff_seconds)
            self._failures += 1
            log.exception(
                "partition %d: batch at offset %d failed; retrying it in %.1f s",
                tp.partition,
                records[0].offset,
                wait,
            )
            consumer.seek(tp, records[0].offset)
            self._stopping.wait(wait)
        else:
            self._failures = 0
            self.applied += applied
            self.skipped += skipped
            self.dead_lettered += dead

    def _advance_idle(self, busy: set[int]) -> None:
        """Move the views of owned partitions that had no records to the log's head.

        The live views read their events from the event store, so a shard can apply the log
        through any committed position; Kafka's records say there is work and how far. Without
        this, a shard whose aggregates are quiet would hold the views' position (the lowest
        shard's) behind the log, and read-your-writes would wait for it.
        """
        apply_through = self._apply_through_position
        conn = self._conn
        now = time.monotonic()
        if apply_through is None or conn is None or now - self._idle_at < self.idle_seconds:
            return
        self._idle_at = now
        idle = sorted(self.assignment - busy)
        if not idle:
            return
        head = self.recorder.max_notification_id() or 0
        position_of = getattr(self.projector, "position_of", None)
        for partition in idle:
            try:
                # One step per poll, committed: a worker that starts on empty views, or far
                # behind, makes progress a restart keeps and stays a live member of the group
                # (a rebalance waits for every member's next poll).
                before = position_of(partition) if callable(position_of) else 0
                if before >= head:
                    continue
                with conn.transaction():
                    apply_through(conn, min(head, before + IDLE_STEP), partition)
                after = position_of(partition) if callable(position_of) else head
                if after < head:
                    self._idle_at = 0.0  # more to do: the next poll steps on at once
            except DATABASE_DOWN:
                self._discard()
                raise
            except Exception:
                self._discard()
                log.exception(
                    "partition %d: moving its views to position %d failed", partition, head
                )

    def _discard(self) -> None:
        """The transaction rolled back: a projector that caches state must forget it."""
        discard = getattr(self.projector, "discard", None)
        if callable(discard):
            discard()

    def _apply_batch(
        self, conn: psycopg.Connection[Any], tp: TopicPartition, records: Sequence[ConsumerRecord]
    ) -> tuple[int, int, int]:
        """Apply one partition's batch; (applied, skipped as already applied, dead-lettered)."""
        group, topic = self.config.group, self.config.topic
        conn.execute(
            SQL(
                "INSERT INTO {} (consumer_group, topic, partition, next_offset) "
                "VALUES (%s, %s, %s, 0) ON CONFLICT DO NOTHING"
            ).format(self.tables.offsets),
            (group, topic, tp.partition),
        )
        row = conn.execute(
            SQL(
                "SELECT next_offset FROM {} WHERE consumer_group = %s AND topic = %s "
                "AND partition = %s FOR UPDATE"
            ).format(self.tables.offsets),
            (group, topic, tp.partition),
        ).fetchone()
        stored = int(row[0]) if row else 0
        fresh_records = [r for r in records if r.offset >= stored]
        skipped = len(records) - len(fresh_records)
        if not fresh_records:
            return 0, skipped, 0
        if fresh_records[0].offset > stored and stored > 0:
            log.warning(
                "partition %d: offsets %d..%d are gone from the broker",
                tp.partition,
                stored,
                fresh_records[0].offset - 1,
            )

        dead: list[tuple[ConsumerRecord, str]] = []
        versions: dict[str, int] = {}
        if self._apply_through_position is not None:
            applied = self._apply_through(conn, self._apply_through_position, fresh_records, dead)
        else:
            applied, already, versions = self._apply_events(conn, fresh_records, dead)
            skipped += already

        if versions:
            with conn.cursor() as cursor:
                cursor.executemany(
                    SQL(
                        "INSERT INTO {} (projector, aggregate_id, version) VALUES (%s, %s, %s) "
                        "ON CONFLICT (projector, aggregate_id) DO UPDATE "
                        "SET version = EXCLUDED.version"
                    ).format(self.tables.versions),
                    [(self.projector.name, UUID(k), v) for k, v in versions.items()],
                )
        conn.execute(
            SQL(
                "UPDATE {} SET next_offset = %s, updated_at = now() "
                "WHERE consumer_group = %s AND topic = %s AND partition = %s"
            ).format(self.tables.offsets),
            (fresh_records[-1].offset + 1, group, topic, tp.partition),
        )
        if dead:
            self._dead_letter(tp, dead)  # before the commit: at least once into the DLQ
        return applied, skipped, len(dead)

    def _apply_through(
        self,
        conn: psycopg.Connection[Any],
        apply_through: Callable[[psycopg.Connection[Any], int, int], None],
        records: Sequence[ConsumerRecord],
        dead: list[tuple[ConsumerRecord, str]],
    ) -> int:
        """The live views: apply the log through the batch's highest position.

        The views take the events from the event store (the system of record, in its total
        order), so a record is only checked for being an okrledger event this worker can read
        (:func:`envelope.position_of`) and gives its log position; decoding its data would be
        work thrown away.
        """
        positions = [p for _, p in _readable(records, envelope.position_of, dead)]
        if positions:
            with conn.transaction():
                apply_through(conn, max(positions), records[0].partition)
        return len(positions)

    def _apply_events(
        self,
        conn: psycopg.Connection[Any],
        records: Sequence[ConsumerRecord],
        dead: list[tuple[ConsumerRecord, str]],
    ) -> tuple[int, int, dict[str, int]]:
        """A per-aggregate projector: decode, drop what it applied, apply the rest; (applied,
        skipped as already applied, the aggregates' new versions)."""
        decoded: list[tuple[ConsumerRecord, envelope.Received]] = []
        for record, received in _readable(records, envelope.decode, dead):
            try:
                received = replace(
                    received, event=open_personal_data(self.app.mapper, received.event)
                )
            except MapperDeserialisationError as e:
                dead.append((record, f"cannot open personal data: {e}"))
                continue
            decoded.append((record, received))
        fresh, versions = self._unseen(conn, decoded)
        failed = self._project(conn, fresh)
        dead.extend(failed)
        return len(fresh) - len(failed), len(decoded) - len(fresh), versions

    def _unseen(
        self,
        conn: psycopg.Connection[Any],
        decoded: list[tuple[ConsumerRecord, envelope.Received]],
    ) -> tuple[list[tuple[ConsumerRecord, Logged]], dict[str, int]]:
        """The events whose aggregate version the projector has not applied yet, and the
        aggregates' new versions (for projectors that keep no position of their own)."""
        ids = sorted({str(r.event.originator_id) for _, r in decoded})
        versions: dict[str, int] = {
            str(aggregate_id): int(version)
            for aggregate_id, version in conn.execute(
                SQL(
                    "SELECT aggregate_id, version FROM {} "
                    "WHERE projector = %s AND aggregate_id = ANY(%s::uuid[])"
                ).format(self.tables.versions),
                (self.projector.name, ids),
            )
        }
        fresh: list[tuple[ConsumerRecord, Logged]] = []
        for record, received in decoded:
            event = received.event
            key = str(event.originator_id)
            seen = versions.get(key, 0)
            if event.originator_version <= seen:
                continue
            if event.originator_version > seen + 1 and seen > 0:
                log.warning(
                    "%s: versions %d..%d never arrived", key, seen + 1, event.originator_version - 1
                )
            versions[key] = event.originator_version
            fresh.append((record, _logged(received)))
        return fresh, versions

    def _project(
        self, conn: psycopg.Connection[Any], fresh: list[tuple[ConsumerRecord, Logged]]
    ) -> list[tuple[ConsumerRecord, str]]:
        """Apply the batch; if it fails, apply event by event and return the ones that fail."""
        if not fresh:
            return []
        try:
            with conn.transaction():
                self.projector.apply(conn, [logged for _, logged in fresh])
            return []
        except DATABASE_DOWN:
            raise
        except Exception as batch_error:
            log.warning("batch of %d failed (%s); applying one by one", len(fresh), batch_error)
        failed: list[tuple[ConsumerRecord, str]] = []
        for record, logged in fresh:
            try:
                with conn.transaction():
                    self.projector.apply(conn, [logged])
            except DATABASE_DOWN:
                raise
            except Exception as e:
                failed.append(
                    (record, f"cannot apply {logged.event_type}: {type(e).__name__}: {e}")
                )
        return failed

    def _dead_letter(self, tp: TopicPartition, dead: list[tuple[ConsumerRecord, str]]) -> None:
        if self._producer is None:
            self._producer = self.config.producer(client_id=f"{self.config.client_id}-dlq")
        futures = []
        for record, reason in dead:
            log.warning(
                "partition %d offset %d → %s: %s",
                tp.partition,
                record.offset,
                self.config.dead_letter_topic,
                reason,
            )
            headers = [
                *list(record.headers or []),
                (HEADER_REASON, reason.encode()),
                ("okr-dlq-topic", tp.topic.encode()),
                ("okr-dlq-partition", str(tp.partition).encode()),
                ("okr-dlq-offset", str(record.offset).encode()),
                ("okr-dlq-group", self.config.group.encode()),
            ]
            futures.append(
                self._producer.send(
                    self.config.dead_letter_topic,
                    key=record.key,
                    value=record.value,
                    headers=headers,
                )
            )
        self._producer.flush(timeout=self.config.delivery_timeout_ms / 1000 + 5)
        for future in futures:
            # raises if not acknowledged: the batch is rolled back (types-kafka-python leaves
            # FutureRecordMetadata.get unannotated)
            future.get(timeout=0)  # type: ignore[no-untyped-call]


def _readable(
    records: Sequence[ConsumerRecord],
    read: Callable[[bytes | None], T],
    dead: list[tuple[ConsumerRecord, str]],
) -> Iterator[tuple[ConsumerRecord, T]]:
    """Each record with what ``read`` makes of it; poison messages go to ``dead`` instead."""
    for record in records:
        try:
            value = read(record.value)
        except envelope.PoisonMessage as e:
            dead.append((record, e.reason))
            continue
        yield record, value


def _logged(received: envelope.Received) -> Logged:
    event = received.event
    return Logged(received.position, received.committed_at or event.timestamp, event)


def wait_for_assignment(
    workers: Sequence[ProjectionWorker], partitions: int, timeout: float
) -> bool:
    """Until the workers together own all ``partitions`` (tests and start-up checks)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        owned = [p for w in workers for p in w.assignment]
        if len(owned) == partitions and len(set(owned)) == partitions:
            return True
        time.sleep(0.05)
    return False

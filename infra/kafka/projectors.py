"""What a Kafka projection worker applies events to: the ``Projector`` protocol and two of them.

A worker owns some partitions of the topic, so it sees **some aggregates' events, each
aggregate's in order**, and never a global order across aggregates. The worker hands a projector
a batch inside the transaction that also stores the Kafka offsets (see ``worker.py``).

``LiveViews`` — what ``okr worker --from-kafka`` runs — is the product's live views, the tables
the API reads. They fold the log in its total order, so a worker gives them each batch's highest
log position and they apply the log through it, read from the event store; their own tracking
position makes re-application impossible. Workers take turns on them (fail-over, not more
throughput; docs/deploy.md).

A projector that splits the work for real must keep rows whose content depends on one
aggregate's events only (names and other aggregates joined at read time); the worker then drops
what was applied before by aggregate version. ``DirectoryProjector`` is such a view: people,
teams and cycles, one row per aggregate, built by the read side's own ``DirectoryFold``
handlers, plus the number of events applied to each row — which must equal the aggregate's
version if no event was skipped or applied twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import orjson
import psycopg
from psycopg.sql import SQL, Composed, Identifier
from psycopg.types.json import Jsonb

from domain.cycle import Cycle
from domain.person import Person
from domain.team import Team
from infra.views.model import Shard, shard_of
from infra.views.projector import CATCH_UP_PAGE, ViewsProjector, apply_events
from projections import codec
from projections.base import Logged
from projections.directory import (
    CycleEntry,
    DirectoryFold,
    DirectoryState,
    PersonEntry,
    TeamEntry,
)


class Projector(Protocol):
    """A PostgreSQL view that a worker keeps up to date from the topic.

    A projector that also has ``apply_through(conn, position)`` keeps a log position of its
    own (``LiveViews``): the worker then gives it only each batch's highest position and keeps
    no per-aggregate versions for it.
    """

    name: str
    """Names the view in the worker's bookkeeping (applied versions)."""

    def setup(self, conn: psycopg.Connection[Any]) -> None:
        """Create the view's tables if missing (idempotent, safe to race)."""

    def apply(self, conn: psycopg.Connection[Any], events: Sequence[Logged]) -> None:
        """Apply new events, each aggregate's in version order, inside the caller's transaction.

        Raising rolls the batch back; the worker then retries event by event and sends the
        event that still fails to the dead-letter topic.
        """


@dataclass(frozen=True)
class DirectoryRow:
    kind: str
    version: int
    applied: int
    document: dict[str, Any]


_KINDS: tuple[tuple[type[Any], str, str, type[Any]], ...] = (
    (Person.Event, "person", "people", PersonEntry),
    (Team.Event, "team", "teams", TeamEntry),
    (Cycle.Event, "cycle", "cycles", CycleEntry),
)


def _kind_of(event: object) -> tuple[str, str, type[Any]] | None:
    for event_type, kind, attribute, entry_type in _KINDS:
        if isinstance(event, event_type):
            return kind, attribute, entry_type
    return None


class DirectoryProjector:
    """People, teams and cycles as one JSON row per aggregate, by ``DirectoryFold``'s handlers."""

    name = "directory"
    fold = DirectoryFold()

    def __init__(self, schema: str = "public", table: str = "okr_kafka_directory") -> None:
        self.table = Composed([Identifier(schema), SQL("."), Identifier(table)])
        self._lock_name = f"okrledger:create:{schema}.{table}"

    def setup(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self._lock_name,))
            conn.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {} ("
                    "aggregate_id uuid PRIMARY KEY, kind text NOT NULL, "
                    "version integer NOT NULL, position bigint NOT NULL, "
                    "applied integer NOT NULL, document jsonb NOT NULL)"
                ).format(self.table)
            )

    def apply(self, conn: psycopg.Connection[Any], events: Sequence[Logged]) -> None:
        relevant = [logged for logged in events if _kind_of(logged.event) is not None]
        if not relevant:
            return
        ids = sorted({logged.event.originator_id for logged in relevant}, key=str)
        state = DirectoryState()
        applied: dict[UUID, int] = {}
        for aggregate_id, kind, count, document in conn.execute(
            SQL(
                "SELECT aggregate_id, kind, applied, document FROM {} WHERE aggregate_id = ANY(%s)"
            ).format(self.table),
            (ids,),
        ):
            for _, a_kind, attribute, entry_type in _KINDS:
                if a_kind == kind:
                    getattr(state, attribute)[aggregate_id] = codec.load(entry_type, document)
            applied[aggregate_id] = count
        latest: dict[UUID, Logged] = {}
        for logged in relevant:
            self.fold.step(state, logged)
            aggregate_id = logged.event.originator_id
            applied[aggregate_id] = applied.get(aggregate_id, 0) + 1
            latest[aggregate_id] = logged
        rows = []
        for aggregate_id, logged in latest.items():
            found = _kind_of(logged.event)
            assert found is not None
            kind, attribute, _ = found
            entry = getattr(state, attribute).get(aggregate_id)
            if entry is None:  # an event before the aggregate's creation: nothing to show yet
                continue
            rows.append(
                (
                    aggregate_id,
                    kind,
                    logged.event.originator_version,
                    logged.position,
                    applied[aggregate_id],
                    Jsonb(codec.dump(entry), dumps=_dumps),
                )
            )
        with conn.cursor() as cursor:
            cursor.executemany(
                SQL(
                    "INSERT INTO {} (aggregate_id, kind, version, position, applied, document) "
                    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (aggregate_id) DO UPDATE SET "
                    "kind = EXCLUDED.kind, version = EXCLUDED.version, "
                    "position = EXCLUDED.position, applied = EXCLUDED.applied, "
                    "document = EXCLUDED.document"
                ).format(self.table),
                rows,
            )

    def read(self, conn: psycopg.Connection[Any]) -> dict[UUID, DirectoryRow]:
        """Every row of the view."""
        return {
            aggregate_id: DirectoryRow(kind, version, applied, document)
            for aggregate_id, kind, version, applied, document in conn.execute(
                SQL("SELECT aggregate_id, kind, version, applied, document FROM {}").format(
                    self.table
                )
            )
        }


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def directory_documents(state: DirectoryState) -> dict[UUID, tuple[str, dict[str, Any]]]:
    """The rows a full rebuild gives: (kind, document) per aggregate, from a folded state."""
    out: dict[UUID, tuple[str, dict[str, Any]]] = {}
    for _, kind, attribute, _ in _KINDS:
        for aggregate_id, entry in getattr(state, attribute).items():
            out[aggregate_id] = (kind, codec.dump(entry))
    return out


class LiveViews:
    """The product's live views (what the API reads) as a worker's projector: one shard of
    them per partition the worker owns.

    The relay puts each aggregate in the partition numbered as its shard of the views
    (``AggregatePartitioner``), so the worker that owns partition *k* of *N* keeps shard *k* of
    *N*: its aggregates' rows, with a tracking position of its own, stored in the same
    transaction as the partition's offset. The events come from the event store (the system
    of record, in log order: the shard's own and those every shard folds), and a batch's
    highest position says how far to go. N workers thus split the views' work, which is
    mostly check-ins, each shard's own (see ``infra.views.projector``).

    With a one-partition topic the views stay whole: one worker applies everything, others
    stand by.
    """

    name = "views"

    def __init__(self, make: Callable[[Shard | None], ViewsProjector]) -> None:
        self.make = make
        self.shards = 1
        """How many partitions the topic has: the views' shards."""
        self.projectors: dict[int, ViewsProjector] = {}
        """By partition, for the partitions this worker owns."""
        self.caught_up = 0
        """Events folded in memory after another worker committed them (whole views)."""

    @classmethod
    def for_app(cls, app: Any, checkpoint_every: int) -> LiveViews:
        from infra.views.log import LogReader
        from infra.views.store import ViewStore

        store = ViewStore(app.recorder.datastore)
        log = LogReader(app.recorder, app.mapper)
        return cls(lambda shard: ViewsProjector(store, log, checkpoint_every, shard))

    def setup(self, conn: psycopg.Connection[Any]) -> None:
        self.make(None).setup(conn)

    def assign(self, partitions: Iterable[int], count: int) -> None:
        """The worker owns these partitions of a topic of `count` from now on."""
        if count != self.shards:
            self.projectors.clear()
            self.shards = count
        owned = set(partitions)
        for partition in list(self.projectors):
            if partition not in owned:
                del self.projectors[partition]  # another worker moves it on from here

    def projector(self, partition: int = 0) -> ViewsProjector:
        found = self.projectors.get(partition)
        if found is None:
            shard = Shard(partition, self.shards) if self.shards > 1 else None
            found = self.projectors[partition] = self.make(shard)
        return found

    def position_of(self, partition: int) -> int:
        """How far this worker's model of the partition's views has applied the log (0
        before it applied anything)."""
        return self.projector(partition).position

    def apply(self, conn: psycopg.Connection[Any], events: Sequence[Logged]) -> None:
        if self.shards > 1:
            tops: dict[int, int] = {}
            for logged in events:
                partition = shard_of(logged.event.originator_id, self.shards)
                tops[partition] = max(tops.get(partition, 0), logged.position)
            for partition, top in sorted(tops.items()):
                self.apply_through(conn, top, partition)
            return
        projector = self.projector()
        self._catch_up(conn, projector)
        apply_events(projector, conn, events)

    def apply_through(
        self, conn: psycopg.Connection[Any], position: int, partition: int = 0
    ) -> None:
        """Apply the log through ``position`` for ``partition``'s shard (or the whole views),
        read from the event store, in ``conn``'s transaction (nothing if it is there already).
        """
        projector = self.projector(partition)
        if projector.shard is not None:
            projector.apply_through(conn, position)
            return
        self._catch_up(conn, projector)
        log = projector.log
        tracked = projector.apply(conn, [])  # restores the model if it has none
        while tracked < position:
            rows = log.page_rows(conn, tracked, position, CATCH_UP_PAGE)
            if not rows:
                break
            tracked = projector.apply(conn, log.logged(rows), complete=True)

    def discard(self) -> None:
        """After a rolled-back transaction: the models are ahead of the tables."""
        for projector in self.projectors.values():
            projector.discard()

    def _catch_up(self, conn: psycopg.Connection[Any], projector: ViewsProjector) -> None:
        """Whole views alternate between workers: fold what another one committed (its rows
        are written) instead of restoring the whole model from the tables."""
        model = projector.model
        if model is None:
            return
        with conn.cursor() as curs:
            tracked = projector.store.lock_position(curs)
        log = projector.log
        try:
            while model.position < tracked:
                rows = log.page_rows(conn, model.position, tracked, CATCH_UP_PAGE)
                if not rows:
                    break
                model.apply_all(log.logged(rows))
                self.caught_up += len(rows)
        except BaseException:
            projector.discard()
            raise
        model.take_changes()  # another worker wrote these rows already

"""What the event store holds: events and aggregates by type, and where the hash chain ends.

On PostgreSQL one grouped query over the events table answers it; other recorders (the
in-memory one in tests) are paged through their notification log.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from domain.application import OkrLedger
from infra.chain import ChainedApplicationRecorder

PAGE_SIZE = 5000


@dataclass(frozen=True)
class AggregateCount:
    type: str
    """The aggregate's class name (Objective, Cycle ...)."""
    aggregates: int
    events: int


@dataclass(frozen=True)
class StoreStatus:
    events: int
    max_position: int | None
    by_type: tuple[AggregateCount, ...]
    """Largest first."""
    chain_head_position: int | None = None
    chain_head_committed_at: datetime | None = None

    @property
    def aggregates(self) -> int:
        return sum(c.aggregates for c in self.by_type)

    def count_of(self, aggregate_type: str) -> int:
        return next((c.aggregates for c in self.by_type if c.type == aggregate_type), 0)


def aggregate_type(topic: str) -> str:
    """'domain.objective:Objective.Drafted' → 'Objective' (events are nested in their aggregate)."""
    qualname = topic.rpartition(":")[2]
    return qualname.rpartition(".")[0] or qualname


def store_status(app: OkrLedger) -> StoreStatus:
    recorder = app.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        rows = _postgres_counts(recorder)
    else:
        rows = _log_counts(app)
    merged: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for topic, aggregates, events in rows:
        # Topics are per event class; an aggregate's ids are counted once, on its created event.
        entry = merged[aggregate_type(topic)]
        entry[0] = max(entry[0], aggregates)
        entry[1] += events
    by_type = tuple(
        sorted(
            (AggregateCount(name, a, e) for name, (a, e) in merged.items()),
            key=lambda c: (-c.events, c.type),
        )
    )
    head_position = head_at = None
    if isinstance(recorder, ChainedApplicationRecorder):
        head = recorder.chain.head()
        if head is not None:
            head_position, head_at = head.position, head.committed_at
    return StoreStatus(
        events=sum(c.events for c in by_type),
        max_position=recorder.max_notification_id(),
        by_type=by_type,
        chain_head_position=head_position,
        chain_head_committed_at=head_at,
    )


def _postgres_counts(recorder: PostgresApplicationRecorder) -> list[tuple[str, int, int]]:
    """(topic, distinct aggregates, events) per event topic, in one grouped query."""
    datastore = recorder.datastore
    query = SQL(
        "SELECT topic, count(DISTINCT originator_id), count(*) FROM {}.{} GROUP BY topic"
    ).format(Identifier(datastore.schema), Identifier(recorder.events_table_name))
    with datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
        return [(str(t), int(a), int(e)) for t, a, e in curs.execute(query).fetchall()]


def _log_counts(app: OkrLedger) -> list[tuple[str, int, int]]:
    ids: dict[str, set[UUID | str]] = defaultdict(set)
    events: dict[str, int] = defaultdict(int)
    start = 1
    while True:
        page = app.recorder.select_notifications(start=start, limit=PAGE_SIZE)
        for n in page:
            ids[n.topic].add(n.originator_id)
            events[n.topic] += 1
        if len(page) < PAGE_SIZE:
            break
        start = page[-1].id + 1
    return [(topic, len(ids[topic]), events[topic]) for topic in events]

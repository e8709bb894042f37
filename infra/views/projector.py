"""Applying events to the live views inside a caller's transaction: the runner's and Kafka's hook.

`ViewsProjector.apply(conn, events)` locks the views' tracking row, applies everything in the
log up to the highest position among `events` that the views have not applied yet, writes the
rows those events touched and moves the tracking position, all in the caller's open transaction.
The caller commits, together with whatever it tracks itself (a Kafka worker: its offsets).

Exactly once, whatever the caller hands over:

- events at or below the tracked position are skipped (redeliveries, overlaps);
- every position between the tracked one and the batch's highest is checked against the hash
  chain's links; if the batch lacks some (a worker that owns only some partitions sees only some
  aggregates), the whole range is read from the event store instead, so nothing is skipped and
  events that arrive later are recognised as applied;
- `recorded_at` is always the chain's commit time, so a view built from Kafka equals one built
  from the log.

The views fold the log in its total order (phrasing an event needs the other aggregates' state
at that moment), which is why missing events are read rather than waited for.

**Shards.** Given a `Shard`, the projector keeps one part of the views (`infra.views.model`):
its own aggregates' rows, with a tracking row of its own. It reads from the event store only
what that part needs, in log order: its aggregates' events and every event the shards share
(the organisation's, and the objectives' structure), so N shards, each in its own process,
split the per-event work of the check-ins and grades that make up most of a log. A shard's
model is restored by folding those events again (other shards' rows do not say where this one
stood), and when another process moved the shard on meanwhile (a Kafka rebalance), the model
folds forward to it.

If the caller's transaction rolls back, the in-memory model is ahead of the tables; the next
`apply` notices (the tracked position differs from the model's) and restores it from the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.utils import get_topic
from psycopg import Connection
from psycopg.rows import tuple_row
from psycopg.sql import SQL

from infra.views.log import LogReader, Row
from infra.views.model import OWN_OBJECTIVE_ONLY, Model, Shard
from infra.views.store import MissingTracking, ViewStore
from projections.base import Logged

CATCH_UP_PAGE = 5000


def shard_sql(column: str) -> str:
    """`infra.views.model.shard_of` in SQL, of a uuid column, for a shard count parameter."""
    return f"('x' || lpad(right({column}::text, 8), 16, '0'))::bit(64)::bigint %% %s"


SHARD_OF = shard_sql("e.originator_id")
"""The shard of an event `e`."""


class ShardLog:
    """Pages of the log a shard folds: its own aggregates' events, and every event but the
    objectives' check-ins and grades (`OWN_OBJECTIVE_ONLY`)."""

    def __init__(self, log: LogReader, shard: Shard) -> None:
        self.log = log
        self.shard = shard
        self._page = log.select + SQL(
            "WHERE e.notification_id > %s AND e.notification_id <= %s AND (e.topic <> ALL(%s) "
            "OR {shard} = %s) ORDER BY e.notification_id LIMIT %s"
        ).format(shard=SQL(SHARD_OF))
        self._private_topics = [get_topic(cls) for cls in OWN_OBJECTIVE_ONLY]

    def page_rows(self, conn: Connection[Any], after: int, up_to: int, limit: int) -> list[Row]:
        with conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(
                self._page,
                (after, up_to, self._private_topics, self.shard.count, self.shard.index, limit),
                prepare=True,
            )
            return curs.fetchall()


class ViewsProjector:
    """The live views as a projector: `setup(conn)` once, then `apply(conn, events)`."""

    name = "views"

    def __init__(
        self,
        store: ViewStore,
        log: LogReader,
        checkpoint_every: int = 1000,
        shard: Shard | None = None,
    ) -> None:
        self.store = store
        self.log = log
        self.checkpoint_every = checkpoint_every
        self.shard = shard if shard is not None and shard.count > 1 else None
        self.model: Model | None = None
        self._generation: int | None = None
        self._links = SQL(
            "SELECT position, committed_at FROM {} WHERE position > %s AND position <= %s "
            "ORDER BY position"
        ).format(log.chain_table)
        self._shard_log = ShardLog(log, self.shard) if self.shard is not None else None

    def setup(self, conn: Connection[Any] | None = None) -> None:
        """Create the views' tables if missing (idempotent, safe to race)."""
        self.store.create_table()

    @property
    def position(self) -> int:
        """The position of the in-memory model (the views' after a successful commit)."""
        return self.model.position if self.model is not None else 0

    def discard(self) -> None:
        """Forget the in-memory model (after a rollback): the next apply restores it."""
        self.model = None

    def apply(
        self, conn: Connection[Any], events: Sequence[Logged], *, complete: bool = False
    ) -> int:
        """Apply `events` (and anything before them not applied yet) in `conn`'s transaction.

        `complete`: the caller read `events` from the log itself (every position after the
        views', with commit times), so the check against the chain's links is skipped.
        Returns the views' new position. The caller commits; on rollback, call `discard()`.
        """
        top = max((e.position for e in events), default=0)
        return self._advance(conn, top, events, complete)

    def apply_through(self, conn: Connection[Any], position: int) -> int:
        """A shard: apply everything it needs of the log through `position`, read from the
        event store (what a Kafka worker calls with its partition's highest position, or the
        relay's when the partition is drained). The caller commits."""
        if self.shard is None:
            raise ValueError("apply_through reads a shard's events: give the projector a shard")
        return self._advance(conn, position, [], False)

    def _advance(
        self, conn: Connection[Any], top: int, events: Sequence[Logged], complete: bool
    ) -> int:
        curs = conn.cursor()
        tracked, generation = self._lock(conn, curs)
        model = self.model
        if self.shard is not None and model is not None and generation == self._generation:
            if model.position < tracked:  # another process moved this shard on: follow it
                self._fold_shard(conn, model, model.position, tracked, written=True)
            elif model.position > tracked:  # a rolled-back batch
                model = None
        if model is None or model.position != tracked or generation != self._generation:
            # Restoring decodes every entity row: at 1M events, longer than eventsourcing's
            # 5 s idle-in-transaction timeout between two statements.
            curs.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
            model = self.model = self._restore(conn, tracked)
            self._generation = generation
        if top <= tracked:
            return tracked
        try:
            if self.shard is not None:
                self._fold_shard(conn, model, tracked, top)
            elif complete and events[0].position > tracked:
                model.apply_all(events)
            else:
                self._apply_range(conn, model, events, tracked, top)
            with conn.pipeline():  # every write, and the position, in one round trip
                self.store.write(curs, model, model.take_changes())
                self.store.track(curs, model.position, self.shard)
        except BaseException:
            self.model = None
            raise
        return model.position

    def _lock(self, conn: Connection[Any], curs: Any) -> tuple[int, int]:
        try:
            return self.store.lock(curs, self.shard)
        except MissingTracking:
            if self.shard is None:
                raise
            # First use of this layout (or a rebuild ended the previous one).
            self.store.use_shards(conn, self.shard.count)
            return self.store.lock(curs, self.shard)

    def _restore(self, conn: Connection[Any], tracked: int) -> Model:
        if self.shard is None:
            return self.store.restore(conn, self.log, self.checkpoint_every, tracked)
        model = Model(checkpoint_every=self.checkpoint_every, shard=self.shard)
        self._fold_shard(conn, model, 0, tracked, written=True)
        return model

    def shard_rows(self, conn: Connection[Any], after: int, up_to: int, limit: int) -> list[Row]:
        """The raw rows of the log in (after, up_to] that this shard folds."""
        assert self._shard_log is not None
        return self._shard_log.page_rows(conn, after, up_to, limit)

    def _fold_shard(
        self, conn: Connection[Any], model: Model, after: int, top: int, written: bool = False
    ) -> None:
        """Fold the shard's events in (after, top]. `written`: their rows are in the tables
        already (a restore, or another process's work), so each page's changes are dropped
        as it goes instead of piling up in memory."""
        position = after
        while position < top:
            rows = self.shard_rows(conn, position, top, CATCH_UP_PAGE)
            if not rows:
                break
            model.apply_all(self.log.logged(rows))
            if written:
                model.take_changes()
            position = rows[-1][0]
        # Nothing this shard folds lies between its last event and `top`.
        model.position = max(model.position, top)

    def _apply_range(
        self, conn: Connection[Any], model: Model, events: Sequence[Logged], after: int, top: int
    ) -> None:
        given = {e.position: e for e in events if after < e.position <= top}
        with conn.cursor(row_factory=tuple_row) as curs:
            links = curs.execute(self._links, (after, top)).fetchall()
        if all(position in given for position, _ in links):
            for position, committed_at in links:
                logged = given[position]
                if logged.recorded_at != committed_at:
                    logged = Logged(position, committed_at, logged.event)
                model.apply(logged)
            return
        # Some positions are missing from the batch: read the range from the event store.
        position = after
        while position < top:
            rows = self.log.page_rows(conn, position, top, CATCH_UP_PAGE)
            if not rows:
                break
            model.apply_all(self.log.logged(rows))
            position = rows[-1][0]


def apply_events(projector: ViewsProjector, conn: Connection[Any], events: Sequence[Logged]) -> int:
    """`projector.apply(conn, events)`: the hook a Kafka projection worker calls."""
    return projector.apply(conn, events)

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

If the caller's transaction rolls back, the in-memory model is ahead of the tables; the next
`apply` notices (the tracked position differs from the model's) and restores it from the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import Connection
from psycopg.rows import tuple_row
from psycopg.sql import SQL

from infra.views.log import LogReader
from infra.views.model import Model
from infra.views.store import ViewStore
from projections.base import Logged

CATCH_UP_PAGE = 5000


class ViewsProjector:
    """The live views as a projector: `setup(conn)` once, then `apply(conn, events)`."""

    name = "views"

    def __init__(self, store: ViewStore, log: LogReader, checkpoint_every: int = 1000) -> None:
        self.store = store
        self.log = log
        self.checkpoint_every = checkpoint_every
        self.model: Model | None = None
        self._generation: int | None = None
        self._links = SQL(
            "SELECT position, committed_at FROM {} WHERE position > %s AND position <= %s "
            "ORDER BY position"
        ).format(log.chain_table)

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
        curs = conn.cursor()
        tracked, generation = self.store.lock(curs)
        model = self.model
        if model is None or model.position != tracked or generation != self._generation:
            # Restoring decodes every entity row: at 1M events, longer than eventsourcing's
            # 5 s idle-in-transaction timeout between two statements.
            curs.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
            model = self.model = self.store.restore(conn, self.log, self.checkpoint_every, tracked)
            self._generation = generation
        top = max((e.position for e in events), default=tracked)
        if top <= tracked:
            return tracked
        try:
            if complete and events[0].position > tracked:
                model.apply_all(events)
            else:
                self._apply_range(conn, model, events, tracked, top)
            with conn.pipeline():  # every write, and the position, in one round trip
                self.store.write(curs, model, model.take_changes())
                self.store.track(curs, model.position)
        except BaseException:
            self.model = None
            raise
        return model.position

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

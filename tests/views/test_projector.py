"""The hook for Kafka projection workers: `ViewsProjector.apply(conn, events)` in the caller's
transaction, fed the way a worker that owns some partitions would feed it."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from psycopg import Rollback

from infra.readmodels import ReadModels
from infra.views.projector import ViewsProjector, apply_events
from projections.base import Logged
from tests.views.conftest import (
    Databases,
    assert_views_match,
    fresh_views,
    generate,
    head,
    whole_log,
)
from tests.views.oracle import Oracle

pytestmark = pytest.mark.postgres


def audit_rows(readmodels: ReadModels) -> int:
    with readmodels.store.datastore.get_connection() as conn:
        row = conn.execute("SELECT count(*) AS n FROM view_audit").fetchone()
    assert row is not None
    return int(row["n"])


def in_transaction(
    readmodels: ReadModels, projector: ViewsProjector, events: Sequence[Logged]
) -> int:
    with readmodels.store.datastore.get_connection() as conn, conn.transaction():
        return apply_events(projector, conn, events)


def test_partitions_redeliveries_and_rollbacks_apply_every_event_exactly_once(
    databases: Databases,
) -> None:
    with fresh_views(databases) as (_url, app, readmodels):
        readmodels.setup()
        generate(app, 600, batch=20)
        log = whole_log(readmodels)
        # What a worker decodes from the topic: no commit time (the event's own instead).
        delivered = [Logged(e.position, e.event.timestamp, e.event) for e in log]
        partitions: list[list[Logged]] = [[], []]
        for logged in delivered:
            partitions[hash(logged.event.originator_id) % 2].append(logged)
        projector = ViewsProjector(readmodels.store, readmodels.log, 7)

        # Partition 0 first, in batches: the other partition's events are read from the
        # store as they are needed, so the views always follow the log's order.
        first = partitions[0]
        for start in range(0, len(first), 50):
            in_transaction(readmodels, projector, first[start : start + 50])
        assert readmodels.caught_up_position() == first[-1].position
        # Partition 1 arrives late: all of it was applied already.
        for start in range(0, len(partitions[1]), 50):
            in_transaction(readmodels, projector, partitions[1][start : start + 50])
        assert readmodels.caught_up_position() == log[-1].position
        assert audit_rows(readmodels) == len(log)

        # A redelivered batch changes nothing.
        assert in_transaction(readmodels, projector, delivered[:100]) == log[-1].position
        assert audit_rows(readmodels) == len(log)

        # A batch whose transaction rolls back leaves no trace; applied again, it counts once.
        generate(app, 100, batch=20, prefix="more")
        more = [e for e in whole_log(readmodels) if e.position > log[-1].position]
        with readmodels.store.datastore.get_connection() as conn, conn.transaction():
            apply_events(projector, conn, more)
            raise Rollback()
        projector.discard()
        assert readmodels.caught_up_position() == log[-1].position
        in_transaction(readmodels, projector, more)
        assert readmodels.caught_up_position() == head(app)

        everything = whole_log(readmodels)
        assert audit_rows(readmodels) == len(everything)
        assert_views_match(readmodels, Oracle(everything))

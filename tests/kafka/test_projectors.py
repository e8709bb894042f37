"""`LiveViews`, the workers' projector, fed as two workers owning different partitions feed it:
the views follow the log, each worker's model catches up in memory on the other's commits."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from domain.application import OkrLedger
from infra.kafka.projectors import LiveViews
from infra.readmodels import ReadModels
from infra.views.projector import ViewsProjector
from projections.base import Logged
from tests.views.conftest import assert_views_match, generate, head, settings, whole_log
from tests.views.oracle import Oracle

pytestmark = pytest.mark.postgres


def audit_rows(readmodels: ReadModels) -> tuple[int, int]:
    with readmodels.store.datastore.get_connection() as conn:
        row = conn.execute(
            "SELECT count(*) AS n, count(DISTINCT position) AS d FROM view_audit"
        ).fetchone()
    assert row is not None
    return int(row["n"]), int(row["d"])


def batch(readmodels: ReadModels, views: LiveViews, events: Sequence[Logged]) -> None:
    with readmodels.store.datastore.get_connection() as conn, conn.transaction():
        views.apply(conn, events)


def test_two_workers_alternating_keep_one_model_each_and_apply_every_event_once(
    ledger: OkrLedger,
) -> None:
    app = ledger
    readmodels = ReadModels(app, settings())
    readmodels.setup()
    generate(app, 500, batch=10)
    # What workers decode from the topic: no commit time (the event's own instead).
    delivered = [Logged(e.position, e.event.timestamp, e.event) for e in whole_log(readmodels)]
    partitions: list[list[Logged]] = [[], []]
    for logged in delivered:
        partitions[hash(logged.event.originator_id) % 2].append(logged)
    workers = [
        LiveViews(lambda shard: ViewsProjector(readmodels.store, readmodels.log, 7, shard))
        for _ in range(2)
    ]
    models: list[object] = [None, None]
    # Both workers poll at once: each gets its partition's part of the next 40 positions.
    for start in range(0, len(delivered), 40):
        window = delivered[start : start + 40]
        for w, (views, owned) in enumerate(zip(workers, partitions, strict=True)):
            mine = [e for e in window if e in owned]
            if not mine:
                continue
            batch(readmodels, views, mine)
            if models[w] is None:
                models[w] = views.projector().model
            # The model survives the other worker's commits: caught up, not restored.
            assert views.projector().model is models[w]
    assert sum(views.caught_up for views in workers) > 0
    assert readmodels.caught_up_position() == head(app)
    log = whole_log(readmodels)
    assert audit_rows(readmodels) == (len(log), len(log))

    # Redelivered batches (a relay's resends, a rebalanced partition) change nothing.
    batch(readmodels, workers[0], delivered[:120])
    batch(readmodels, workers[1], partitions[1])
    assert audit_rows(readmodels) == (len(log), len(log))
    assert_views_match(readmodels, Oracle(log))

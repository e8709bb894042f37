"""The views kept in shards: each shard applies its own aggregates' events (and the events every
shard shares), in its own transactions, at its own pace; together they answer as one view does."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg import Rollback

from domain.application import OkrLedger
from infra.readmodels import ReadModels
from infra.views.model import OWN_OBJECTIVE_ONLY, Shard, shard_of
from infra.views.projector import SHARD_OF, ViewsProjector
from infra.views.rebuild import Rebuild
from infra.views.store import ShardedViews
from projections.base import Logged
from tests.views.conftest import (
    Databases,
    assert_views_match,
    fresh_views,
    generate,
    ledger_on,
    whole_log,
)
from tests.views.conftest import settings as view_settings
from tests.views.oracle import Oracle

pytestmark = pytest.mark.postgres


@contextmanager
def a_history(
    databases: Databases, events: int, *, seed: int
) -> Iterator[tuple[OkrLedger, ReadModels, list[Logged]]]:
    """A fresh database with a generated history, its read models (tables set up, nothing
    applied) and its log."""
    with fresh_views(databases) as (_url, app, readmodels):
        readmodels.setup()
        generate(app, events, batch=10, seed=seed)
        yield app, readmodels, whole_log(readmodels)


@given(st.uuids(), st.integers(min_value=1, max_value=64))
def test_a_shard_is_the_low_32_bits_of_the_id_modulo_the_count(
    aggregate_id: UUID, count: int
) -> None:
    assert shard_of(aggregate_id, count) == int(str(aggregate_id)[-8:], 16) % count
    owners = [k for k in range(count) if Shard(k, count).owns(aggregate_id)]
    assert owners == [shard_of(aggregate_id, count)]


def test_sql_computes_the_same_shard_as_python(databases: Databases) -> None:
    ids = [uuid4() for _ in range(200)]
    with databases.fresh() as url:
        app = ledger_on(url)
        try:
            with app.recorder.datastore.get_connection() as conn:
                rows = conn.execute(
                    f"SELECT e.originator_id, {SHARD_OF} AS shard "
                    "FROM unnest(%s::uuid[]) AS e(originator_id)",
                    (3, ids),
                ).fetchall()
        finally:
            app.close()
    assert {row["originator_id"]: row["shard"] for row in rows} == {i: shard_of(i, 3) for i in ids}


@pytest.mark.parametrize("count", [2, 3])
def test_shards_applying_at_their_own_pace_answer_as_the_whole_log(
    databases: Databases, count: int
) -> None:
    with a_history(databases, 500, seed=count) as (app, readmodels, log):
        shards = [
            ViewsProjector(readmodels.store, readmodels.log, 7, Shard(k, count))
            for k in range(count)
        ]
        rng = random.Random(count)
        positions = [e.position for e in log]
        done = [0] * count
        # Each shard moves to positions of its own choosing, in random steps, with
        # rolled-back batches and redelivered (older) positions along the way.
        while min(done) < positions[-1]:
            k = rng.randrange(count)
            target = min(positions[-1], done[k] + rng.randint(1, 120))
            with app.recorder.datastore.get_connection() as conn:
                if rng.random() < 0.1:
                    with conn.transaction():
                        shards[k].apply_through(conn, target)
                        raise Rollback()
                    shards[k].discard()
                    continue
                with conn.transaction():
                    done[k] = shards[k].apply_through(conn, max(1, target - 200 * (k % 2)))
                    done[k] = max(done[k], shards[k].apply_through(conn, target))
            lowest = readmodels.caught_up_position()
            assert lowest == min(done)
        with readmodels.store.datastore.get_connection() as conn:
            audit = conn.execute(
                "SELECT count(*) AS n, count(DISTINCT position) AS d FROM view_audit"
            ).fetchone()
            assert readmodels.store.shard_positions(conn) == {
                Shard(k, count).name: positions[-1] for k in range(count)
            }
        assert audit == {"n": len(log), "d": len(log)}
        assert_views_match(readmodels, Oracle(log))
        # Time travel works from the shards' checkpoints too.
        oracle = Oracle(log)
        for at in (positions[len(positions) // 3], positions[-1] - 5):
            for cycle_id in oracle.cycles():
                assert readmodels.tree(cycle_id, position=at) == oracle.tree(cycle_id, position=at)


def test_a_shard_skips_other_shards_check_ins_and_a_new_process_takes_over_a_shard(
    databases: Databases,
) -> None:
    with a_history(databases, 300, seed=9) as (app, readmodels, log):
        mine = Shard(0, 2)
        first = ViewsProjector(readmodels.store, readmodels.log, 7, mine)
        with app.recorder.datastore.get_connection() as conn, conn.transaction():
            rows = first.shard_rows(conn, 0, log[-1].position, 100_000)
        read = {row[0] for row in rows}
        for logged in log:
            skipped = isinstance(logged.event, OWN_OBJECTIVE_ONLY) and not mine.owns(
                logged.event.originator_id
            )
            assert (logged.position in read) is not skipped
        half = log[len(log) // 2].position
        with app.recorder.datastore.get_connection() as conn, conn.transaction():
            first.apply_through(conn, half)
        # Another process (a Kafka rebalance) moves the shard on, then the first follows.
        second = ViewsProjector(readmodels.store, readmodels.log, 7, mine)
        with app.recorder.datastore.get_connection() as conn, conn.transaction():
            second.apply_through(conn, log[-1].position - 10)
        with app.recorder.datastore.get_connection() as conn, conn.transaction():
            first.apply_through(conn, log[-1].position)
        other = ViewsProjector(readmodels.store, readmodels.log, 7, Shard(1, 2))
        with app.recorder.datastore.get_connection() as conn, conn.transaction():
            other.apply_through(conn, log[-1].position)
        assert_views_match(readmodels, Oracle(log))


def test_whole_views_refuse_to_move_while_shards_keep_them_and_a_rebuild_ends_the_shards(
    databases: Databases,
) -> None:
    with a_history(databases, 200, seed=11) as (app, readmodels, log):
        whole = ViewsProjector(readmodels.store, readmodels.log, 7)
        with app.recorder.datastore.get_connection() as conn, conn.transaction():
            whole.apply(conn, log[:50])
        shard = ViewsProjector(readmodels.store, readmodels.log, 7, Shard(1, 2))
        with app.recorder.datastore.get_connection() as conn, conn.transaction():
            shard.apply_through(conn, log[-1].position)
        with app.recorder.datastore.get_connection() as conn:
            # Shard 0 starts where the whole views stood.
            assert readmodels.store.shard_positions(conn) == {
                "0-of-2": log[49].position,
                "1-of-2": log[-1].position,
            }
            with pytest.raises(ShardedViews), conn.transaction():
                whole.apply(conn, log[50:60])
            with pytest.raises(ShardedViews), conn.transaction():
                readmodels.store.use_shards(conn, 3)
        assert readmodels.caught_up_position() == log[49].position
        Rebuild(app, view_settings()).run(None)
        with app.recorder.datastore.get_connection() as conn:
            assert readmodels.store.shard_positions(conn) == {}
        assert readmodels.caught_up_position() == log[-1].position
        assert_views_match(readmodels, Oracle(log))

"""Group commit on the write path: saves that arrive while a commit is in flight share the next
transaction, and each keeps its own outcome.

The batch is made deterministic by holding the events table's lock from another connection:
the first save then leads and waits on the lock, the next ones queue behind it, and when the
lock is released they all go out together in the second transaction.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError

from infra.chain import ChainedApplicationRecorder, ChainReader, verify_chain
from tests.integration.test_chain import Counter, Ledger, stale_counter

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

pytestmark = pytest.mark.postgres

EVENTS = "ledger_events"


@pytest.fixture
def app(es_env: dict[str, str]) -> Iterator[Ledger]:
    ledger = Ledger(env={**es_env, "POSTGRES_POOL_SIZE": "10"})
    yield ledger
    ledger.close()


def _recorder(app: Ledger) -> ChainedApplicationRecorder:
    recorder = app.recorder
    assert isinstance(recorder, ChainedApplicationRecorder)
    return recorder


class HeldLock:
    """Another connection holding the events table's lock until released."""

    def __init__(self, database_url: str) -> None:
        self.conn = psycopg.connect(database_url)
        self.conn.execute(f"LOCK TABLE {EVENTS} IN EXCLUSIVE MODE")

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()


def _queued(app: Ledger, count: int) -> None:
    """Wait until ``count`` saves are queued behind the leader."""
    group = _recorder(app).group_commit
    deadline = time.monotonic() + 10
    while len(group._queue) < count:
        assert time.monotonic() < deadline, "the saves did not queue"
        time.sleep(0.01)


def _leader_in_flight(app: Ledger) -> None:
    """Wait until a leader has taken its batch (the queue is empty again) and commits it."""
    group = _recorder(app).group_commit
    deadline = time.monotonic() + 10
    while not (group._leading and not group._queue):
        assert time.monotonic() < deadline, "no leader took the save"
        time.sleep(0.005)
    time.sleep(0.1)  # and now waits on the table lock


def _batched(
    app: Ledger, database_url: str, first: Callable[[], object], rest: list[Callable[[], object]]
) -> tuple[Future[object], list[Future[object]]]:
    """Run ``first`` as the leader of a commit held on the lock and ``rest`` queued behind it,
    one after another in that order; release the lock; wait for every outcome."""
    lock = HeldLock(database_url)
    pool = ThreadPoolExecutor(len(rest) + 1)
    try:
        led = pool.submit(first)
        _leader_in_flight(app)
        futures = []
        for number, call in enumerate(rest, start=1):
            futures.append(pool.submit(call))
            _queued(app, number)
        lock.release()
        for future in [led, *futures]:
            future.exception(timeout=30)
        return led, futures
    finally:
        pool.shutdown(wait=True)


def _log(database_url: str) -> list[tuple[int, UUID, int]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            f"SELECT notification_id, originator_id, originator_version FROM {EVENTS} "
            "ORDER BY notification_id"
        ).fetchall()
    return [(int(n), UUID(str(o)), int(v)) for n, o, v in rows]


def test_one_of_two_conflicting_saves_wins_and_the_rest_of_the_batch_commits(
    app: Ledger, database_url: str
) -> None:
    contested = Counter("contested")
    app.save(contested)
    copies = [app.repository.get(contested.id) for _ in range(2)]
    for copy_ in copies:
        copy_.increment()  # both decide on version 1 -> 2
    others = [Counter(f"other {n}") for n in range(3)]
    leader = Counter("leader")
    group = _recorder(app).group_commit
    batches_before, writes_before = group.batches, group.writes

    led, futures = _batched(
        app,
        database_url,
        lambda: app.save(leader),
        [
            lambda: app.save(others[0]),
            lambda: app.save(copies[0]),
            lambda: app.save(others[1]),
            lambda: app.save(copies[1]),
            lambda: app.save(others[2]),
        ],
    )

    assert led.exception() is None
    outcomes = [f.exception() for f in futures]
    assert outcomes[0] is None and outcomes[2] is None and outcomes[4] is None
    assert outcomes[1] is None, "the first of the conflicting saves in the batch wins"
    assert isinstance(outcomes[3], IntegrityError), outcomes[3]
    # Two transactions: the leader's alone (it was in flight), then the five queued behind it.
    assert (group.batches - batches_before, group.writes - writes_before) == (2, 6)

    stored = app.repository.get(contested.id)
    assert (stored.version, stored.count) == (2, 1)
    # Notification order is the order the saves were committed in, the refused one left out.
    log = _log(database_url)
    written = [o for _, o, _ in log]
    assert written == [
        contested.id,
        leader.id,
        others[0].id,
        contested.id,
        others[1].id,
        others[2].id,
    ]
    assert [n for n, _, _ in log] == sorted(n for n, _, _ in log)
    report = verify_chain(ChainReader.for_recorder(app.recorder))
    assert report.ok and report.count == len(log), report


def test_a_refused_save_in_a_batch_rolls_back_only_its_own_events(
    app: Ledger, database_url: str
) -> None:
    stale = stale_counter(app, "contested")  # stored at version 2, this copy from 1
    bystander = Counter("bystander")
    stale_with_bystander = [stale, bystander]  # one save of two aggregates: all or nothing
    after = Counter("after")

    _, futures = _batched(
        app,
        database_url,
        lambda: app.save(Counter("leader")),
        [lambda: app.save(*stale_with_bystander), lambda: app.save(after)],
    )
    assert isinstance(futures[0].exception(), IntegrityError)
    assert futures[1].exception() is None
    ids = {o for _, o, _ in _log(database_url)}
    assert bystander.id not in ids, "the refused save's other aggregate is not written"
    assert after.id in ids
    assert verify_chain(ChainReader.for_recorder(app.recorder)).ok


def test_many_concurrent_writers_all_commit_in_fewer_transactions(
    app: Ledger, database_url: str
) -> None:
    writers, each = 8, 25
    group = _recorder(app).group_commit
    batches_before = group.batches
    start = threading.Barrier(writers)

    def write(n: int) -> list[UUID]:
        start.wait()
        made = []
        for _ in range(each):
            counter = Counter(f"{n}")
            app.save(counter)
            made.append(counter.id)
        return made

    with ThreadPoolExecutor(writers) as pool:
        made = [id_ for ids in pool.map(write, range(writers)) for id_ in ids]

    log = _log(database_url)
    assert sorted(o for _, o, _ in log) == sorted(made)
    assert group.batches - batches_before < writers * each, "no save shared a commit"
    report = verify_chain(ChainReader.for_recorder(app.recorder))
    assert report.ok and report.count == writers * each


def test_a_lone_save_commits_at_once(app: Ledger) -> None:
    """At low load nothing waits: a save with no commit in flight leads its own."""
    group = _recorder(app).group_commit
    before = group.batches
    started = time.perf_counter()
    for n in range(20):
        app.save(Counter(str(n)))
    assert group.batches - before == 20
    assert time.perf_counter() - started < 20 * 0.5


def test_a_large_save_takes_the_bulk_insert_and_the_chain_verifies(
    app: Ledger, database_url: str
) -> None:
    from infra.chain import BULK_EVENTS

    small = Counter("small")
    app.save(small)
    big = [Counter(f"c{n}") for n in range(BULK_EVENTS * 3)]
    for counter in big[:10]:
        counter.increment()
    recordings = app.save(*big)
    ids = [r.notification.id for r in recordings]
    assert ids == sorted(ids) and len(ids) == BULK_EVENTS * 3 + 10
    app.save(Counter("after"))
    log = _log(database_url)
    assert [n for n, _, _ in log][1:-1] == ids
    report = verify_chain(ChainReader.for_recorder(app.recorder))
    assert report.ok and report.count == len(log), report
    with psycopg.connect(database_url) as conn:
        times = conn.execute(
            f"SELECT count(DISTINCT committed_at), bool_or(imported) FROM {EVENTS}_chain "
            "WHERE position = ANY(%s)",
            (ids,),
        ).fetchone()
    assert times == (1, False), "one save, one commit time, not imported"


def test_a_bulk_save_under_the_import_clock_is_flagged_and_floored(
    app: Ledger, database_url: str
) -> None:
    from datetime import UTC, datetime

    from infra.chain import BULK_EVENTS, importing_history

    app.save(Counter("now"))  # the head's time is now: an import in the past is floored to it
    past = datetime(2020, 1, 1, tzinfo=UTC)
    with importing_history(past):
        recordings = app.save(*[Counter(f"c{n}") for n in range(BULK_EVENTS)])
    ids = [r.notification.id for r in recordings]
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            f"SELECT min(committed_at), bool_and(imported), (SELECT committed_at FROM "
            f"{EVENTS}_chain ORDER BY position LIMIT 1) FROM {EVENTS}_chain "
            "WHERE position = ANY(%s)",
            (ids,),
        ).fetchone()
    assert rows is not None
    assert rows[1] is True and rows[0] >= rows[2] > past
    assert verify_chain(ChainReader.for_recorder(app.recorder)).ok


def test_a_bulk_save_with_a_stale_version_is_refused_whole(app: Ledger, database_url: str) -> None:
    from infra.chain import BULK_EVENTS

    stale = stale_counter(app, "contested")
    others = [Counter(f"c{n}") for n in range(BULK_EVENTS)]
    with pytest.raises(IntegrityError):
        app.save(*others, stale)
    assert len(_log(database_url)) == 2
    app.save(*others)
    assert verify_chain(ChainReader.for_recorder(app.recorder)).ok

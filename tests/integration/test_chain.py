"""The hash chain, end to end: an application writes, the chain verifies, SQL tampering is caught."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from infra.chain import ChainReader, ChainReport, importing_history, verify_chain
from infra.chainhash import GENESIS_HASH, link_hash

if TYPE_CHECKING:
    from collections.abc import Iterator
    from multiprocessing.synchronize import Barrier

pytestmark = pytest.mark.postgres

EVENTS = "ledger_events"
CHAIN = "ledger_events_chain"


class Counter(Aggregate):
    """A tiny aggregate: the product's domain is written elsewhere."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    @event("Incremented")
    def increment(self, by: int = 1) -> None:
        self.count += by


class Ledger(Application[UUID]):
    pass


@pytest.fixture
def app(es_env: dict[str, str]) -> Iterator[Ledger]:
    ledger = Ledger(env=es_env)
    yield ledger
    ledger.close()


@pytest.fixture
def chain(app: Ledger) -> ChainReader:
    return ChainReader.for_recorder(app.recorder)


def write(app: Ledger, *, aggregates: int, increments: int) -> None:
    """Save each aggregate once with ``1 + increments`` events."""
    for i in range(aggregates):
        counter = Counter(f"counter-{i}")
        for _ in range(increments):
            counter.increment()
        app.save(counter)


def stale_counter(app: Ledger, name: str) -> Counter:
    """A counter saved at version 1 and again at version 2; the copy returned was loaded at
    version 1 and incremented since, so saving it is refused (`IntegrityError`)."""
    counter = Counter(name)
    app.save(counter)
    stale: Counter = app.repository.get(counter.id)
    counter.increment()
    app.save(counter)
    stale.increment()
    return stale


def save_conflicting_change(app: Ledger) -> None:
    """Write positions 1-2, then fail a stale save: its notification id is used up."""
    stale = stale_counter(app, "contended")
    with pytest.raises(IntegrityError):
        app.save(stale)


def expected_head(database_url: str) -> tuple[int, bytes, int]:
    """Recompute the chain from the events table alone: (head position, head hash, count)."""
    prev_hash, position, count = GENESIS_HASH, 0, 0
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            f"SELECT notification_id, originator_id, originator_version, topic, state "
            f"FROM {EVENTS} ORDER BY notification_id"
        )
        for position, originator_id, version, topic, state in rows:
            prev_hash = link_hash(prev_hash, position, str(originator_id), version, topic, state)
            count += 1
    return position, prev_hash, count


def sql(database_url: str, statement: str, params: tuple[Any, ...] = ()) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(statement.encode(), params)


def assert_problem(report: ChainReport, problem: str, position: int) -> None:
    assert not report.ok, report
    assert (report.problem, report.position) == (problem, position), report


# -- a valid chain -------------------------------------------------------------------------------


def test_application_events_form_a_verifiable_chain(
    app: Ledger, chain: ChainReader, database_url: str
) -> None:
    assert verify_chain(chain) == ChainReport(ok=True, count=0, head_position=None, head_hash=None)

    write(app, aggregates=10, increments=2)

    report = verify_chain(chain)
    head_position, head_hash, count = expected_head(database_url)
    assert report == ChainReport(ok=True, count=30, head_position=30, head_hash=head_hash)
    assert (head_position, count) == (30, 30)
    head = chain.head()
    assert head is not None
    assert (head.position, head.hash) == (30, head_hash)


def test_rolled_back_inserts_leave_gaps_that_still_verify(app: Ledger, chain: ChainReader) -> None:
    save_conflicting_change(app)  # position 3 is consumed, then rolled back
    write(app, aggregates=1, increments=0)

    positions = [n.id for n in app.recorder.select_notifications(start=None, limit=10)]
    assert positions == [1, 2, 4]
    head = chain.head()
    assert head is not None
    assert verify_chain(chain) == ChainReport(
        ok=True, count=3, head_position=4, head_hash=head.hash
    )


def test_verification_streams_in_pages_and_over_ranges(app: Ledger, chain: ChainReader) -> None:
    write(app, aggregates=25, increments=1)  # 50 events

    full = verify_chain(chain)
    assert verify_chain(chain, page_size=7) == full
    ranged = verify_chain(chain, from_position=11, to_position=20, page_size=3)
    assert (ranged.ok, ranged.count, ranged.head_position) == (True, 10, 20)
    tail = verify_chain(chain, from_position=41)
    assert (tail.ok, tail.count, tail.head_hash) == (True, 10, full.head_hash)


# -- concurrency ---------------------------------------------------------------------------------


def test_concurrent_threads_build_one_chain(
    app: Ledger, chain: ChainReader, database_url: str
) -> None:
    def work(worker: int) -> None:
        for i in range(20):
            counter = Counter(f"w{worker}-{i}")
            for _ in range(i % 3):
                counter.increment()
            app.save(counter)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(8)))

    report = verify_chain(chain)
    _, head_hash, count = expected_head(database_url)
    assert report.ok, report
    assert report.count == count == 8 * sum(1 + i % 3 for i in range(20))
    assert report.head_hash == head_hash


def _write_from_process(
    env: dict[str, str], worker: int, saves: int, start: Barrier | None = None
) -> None:
    ledger = Ledger(env=env)
    try:
        if start is not None:
            start.wait()
        for i in range(saves):
            counter = Counter(f"{worker}-{i}")
            counter.increment()
            ledger.save(counter)
    finally:
        ledger.close()


def test_concurrent_processes_and_threads_build_one_chain(
    app: Ledger, chain: ChainReader, es_env: dict[str, str], database_url: str
) -> None:
    write(app, aggregates=1, increments=0)  # tables exist before the race starts
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(6, timeout=60)
    processes = [
        context.Process(target=_write_from_process, args=(es_env, worker, 60, start))
        for worker in range(3)
    ]
    for process in processes:
        process.start()
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(lambda w: _write_from_process(es_env, 3 + w, 60, start), range(3)))
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.exitcode is None:
                process.kill()
                process.join()
    assert [process.exitcode for process in processes] == [0, 0, 0]

    report = verify_chain(chain)
    _, head_hash, count = expected_head(database_url)
    assert report.ok, report
    assert report.count == count == 1 + 6 * 60 * 2
    assert report.head_hash == head_hash
    # The writers really raced: in log order, the six workers' saves interleave.
    workers = [
        json.loads(n.state)["name"].split("-")[0]
        for n in app.recorder.select_notifications(start=2, limit=1000)
        if n.originator_version == 1
    ]
    switches = sum(a != b for a, b in itertools.pairwise(workers))
    assert len(set(workers)) == 6
    assert switches > 5, workers


# -- tampering -----------------------------------------------------------------------------------


@pytest.fixture
def written(app: Ledger, chain: ChainReader) -> ChainReport:
    """Twenty events at positions 1..20, verified."""
    write(app, aggregates=5, increments=3)
    report = verify_chain(chain)
    assert (report.ok, report.count) == (True, 20)
    return report


def test_an_edited_state_byte_is_located(
    written: ChainReport, chain: ChainReader, database_url: str
) -> None:
    sql(
        database_url,
        f"UPDATE {EVENTS} SET state = set_byte(state, 3, get_byte(state, 3) # 1) "
        "WHERE notification_id = 7",
    )
    report = verify_chain(chain)
    assert_problem(report, "edited", 7)
    assert (report.count, report.head_position) == (6, 6)
    assert verify_chain(chain, to_position=6).ok
    assert verify_chain(chain, from_position=8).ok


def test_an_edited_topic_or_chain_hash_is_located(
    written: ChainReport, chain: ChainReader, database_url: str
) -> None:
    sql(database_url, f"UPDATE {CHAIN} SET hash = sha256(hash) WHERE position = 12")
    assert_problem(verify_chain(chain), "edited", 12)
    sql(database_url, f"UPDATE {EVENTS} SET topic = topic || ' ' WHERE notification_id = 3")
    assert_problem(verify_chain(chain), "edited", 3)


def test_a_deleted_event_row_is_located(
    written: ChainReport, chain: ChainReader, database_url: str
) -> None:
    sql(database_url, f"DELETE FROM {EVENTS} WHERE notification_id = 9")
    report = verify_chain(chain)
    assert_problem(report, "deleted", 9)
    assert report.count == 8


@pytest.mark.parametrize(
    ("tampering", "problem", "position"),
    [
        (
            [
                f"UPDATE {CHAIN} SET committed_at = committed_at - interval '1 day'"
                " WHERE position = 15"
            ],
            "edited",
            15,
        ),
        (
            [
                f"DELETE FROM {EVENTS} WHERE notification_id = 9",
                f"DELETE FROM {CHAIN} WHERE position = 9",
            ],
            "deleted",
            9,
        ),
    ],
    ids=["a_moved_back_commit_time", "an_event_deleted_with_its_link"],
)
def test_tampering_is_located(
    written: ChainReport,
    chain: ChainReader,
    database_url: str,
    tampering: list[str],
    problem: str,
    position: int,
) -> None:
    for statement in tampering:
        sql(database_url, statement)
    assert_problem(verify_chain(chain), problem, position)


def test_a_forged_event_row_is_located(
    written: ChainReport, chain: ChainReader, database_url: str
) -> None:
    sql(
        database_url,
        f"INSERT INTO {EVENTS} (originator_id, originator_version, topic, state) "
        f"SELECT %s, 1, topic, state FROM {EVENTS} WHERE notification_id = 2",
        (uuid4(),),
    )
    assert_problem(verify_chain(chain), "inserted", 21)


def test_a_forged_event_and_link_in_a_gap_are_located(
    app: Ledger, chain: ChainReader, database_url: str
) -> None:
    """A forger who also writes a correct-looking link into a rolled-back gap is still caught."""
    save_conflicting_change(app)  # leaves position 3 unused
    write(app, aggregates=1, increments=0)  # position 4
    assert verify_chain(chain).ok

    forged_id, topic, state = uuid4(), "tests:Forged", b'{"amount": 1000000}'
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(f"SELECT hash FROM {CHAIN} WHERE position = 2").fetchone()
        assert row is not None
        prev_hash = row[0]
        conn.execute(
            f"INSERT INTO {EVENTS} (originator_id, originator_version, topic, state, "
            "notification_id) VALUES (%s, 1, %s, %s, 3)",
            (forged_id, topic, state),
        )
        conn.execute(
            f"INSERT INTO {CHAIN} (position, prev_position, committed_at, hash) "
            f"SELECT 3, 2, committed_at, %s FROM {CHAIN} WHERE position = 2",
            (link_hash(prev_hash, 3, str(forged_id), 1, topic, state),),
        )
    assert_problem(verify_chain(chain), "inserted", 3)


def test_swapped_notification_ids_are_located(
    written: ChainReport, chain: ChainReader, database_url: str
) -> None:
    with psycopg.connect(database_url) as conn:
        swap = f"UPDATE {EVENTS} SET notification_id = %s WHERE notification_id = %s"
        conn.execute(swap.encode(), (-1, 5))
        conn.execute(swap.encode(), (5, 14))
        conn.execute(swap.encode(), (14, -1))
    report = verify_chain(chain)
    assert_problem(report, "reordered", 5)
    assert "14" in report.detail


# -- time ----------------------------------------------------------------------------------------


def test_position_at_and_committed_at_round_trip(app: Ledger, chain: ChainReader) -> None:
    before = datetime.now(UTC)
    assert chain.position_at(before) is None
    instants: list[tuple[datetime, int]] = []
    for i in range(5):
        time.sleep(0.01)
        counter = Counter(f"c{i}")
        counter.increment()
        app.save(counter)  # two events per transaction
        time.sleep(0.01)
        instants.append((datetime.now(UTC), 2 * (i + 1)))

    for instant, last_position in instants:
        assert chain.position_at(instant) == last_position

    times = [chain.committed_at(position) for position in range(1, 11)]
    assert all(t is not None for t in times)
    assert times == sorted(times)  # type: ignore[type-var]
    assert before < times[0]  # type: ignore[operator]
    for position, committed in enumerate(times, start=1):
        assert committed is not None
        # The position at a link's own commit time is the last one of its transaction.
        assert chain.position_at(committed) == position + position % 2
        assert chain.position_at(committed - timedelta(microseconds=1)) == (
            None if position <= 2 else position - 1 - (position + 1) % 2
        )
    assert times[0] == times[1]  # one transaction, one commit time
    assert chain.committed_at(11) is None
    with pytest.raises(ValueError, match="timezone-aware"):
        chain.position_at(datetime.now())


def test_imported_history_keeps_its_declared_times_and_is_flagged(
    app: Ledger, chain: ChainReader, database_url: str
) -> None:
    long_ago = datetime(2026, 4, 1, 9, tzinfo=UTC)
    counter = Counter("imported")
    with importing_history(long_ago):
        app.save(counter)
    with importing_history(long_ago + timedelta(days=30)):
        counter.increment()
        app.save(counter)
    with importing_history(long_ago + timedelta(days=10)):  # earlier than the head: floored
        counter.increment()
        app.save(counter)
    counter.increment()
    app.save(counter)  # a live write after the import

    assert chain.committed_at(1) == long_ago
    assert chain.committed_at(2) == long_ago + timedelta(days=30)
    assert chain.committed_at(3) == long_ago + timedelta(days=30)
    live = chain.committed_at(4)
    assert live is not None and live > datetime.now(UTC) - timedelta(minutes=5)
    assert chain.position_at(long_ago + timedelta(days=15)) == 1
    with psycopg.connect(database_url) as conn:
        flags = conn.execute(f"SELECT position, imported FROM {CHAIN} ORDER BY position").fetchall()
    assert flags == [(1, True), (2, True), (3, True), (4, False)]
    assert verify_chain(chain).ok

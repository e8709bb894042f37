"""A lone save commits as one statement: a function that takes the table lock, queues the
`NOTIFY` and runs the chained insert, called in autocommit (`infra/chain.py`,
`_commit_one_statement`). It keeps what the client's `BEGIN … COMMIT` kept: the lock (so ids
stay in commit order), the notification, the chain, a stale version refused; and a recorder
that did not create the function (no `create_table` in its process) still commits, the old way.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from infra.chain import (
    SCALAR_PARAMETERS,
    ChainedApplicationRecorder,
    ChainReader,
    insert_function_name,
    verify_chain,
)
from tests.integration.test_chain import Counter, Ledger, stale_counter
from tests.integration.test_group_commit import EVENTS, _recorder

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(database_url: str, es_env: dict[str, str]) -> Iterator[Ledger]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        dbname = conn.info.dbname
        # Count calls of PL/pgSQL functions in this database (the pool's new connections).
        conn.execute(f"ALTER DATABASE \"{dbname}\" SET track_functions = 'pl'")
    ledger = Ledger(env=es_env)
    yield ledger
    ledger.close()


def _function_calls(app: Ledger, database_url: str, expected: int) -> int:
    """The function's calls as the statistics show them once the application's connections
    have closed (a backend flushes its statistics as it exits): waits up to 10 s for
    ``expected``."""
    app.close()
    deadline = time.monotonic() + 10
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions WHERE funcname = %s",
                (insert_function_name(EVENTS),),
            ).fetchone()
            calls = int(row[0]) if row else 0
            if calls >= expected or time.monotonic() > deadline:
                return calls
            time.sleep(0.1)
            conn.execute("SELECT pg_stat_clear_snapshot()")


def test_lone_saves_are_one_call_of_the_function_each(app: Ledger, database_url: str) -> None:
    for n in range(5):
        app.save(Counter(str(n)))
    report = verify_chain(ChainReader.for_recorder(app.recorder))
    assert report.ok and report.count == 5
    assert _function_calls(app, database_url, 5) == 5


def test_a_lone_save_notifies_the_channel(app: Ledger, database_url: str) -> None:
    channel = _recorder(app).channel_name
    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute(f'LISTEN "{channel}"')
        app.save(Counter("heard"))
        heard = list(listener.notifies(timeout=5, stop_after=1))
    assert [n.channel for n in heard] == [channel]


def test_a_lone_save_waits_for_the_table_lock(app: Ledger, database_url: str) -> None:
    """Another transaction holding the lock holds the save: ids stay in commit order."""
    holder = psycopg.connect(database_url)
    holder.execute(f"LOCK TABLE {EVENTS} IN EXCLUSIVE MODE")
    done = threading.Event()
    thread = threading.Thread(target=lambda: (app.save(Counter("held")), done.set()))
    thread.start()
    try:
        assert not done.wait(0.5), "the save committed while the table was locked"
    finally:
        holder.rollback()
        holder.close()
    thread.join(10)
    assert done.is_set()


def test_a_stale_version_is_refused_and_writes_nothing(app: Ledger, database_url: str) -> None:
    stale = stale_counter(app, "stale")
    with pytest.raises(IntegrityError):
        app.save(stale)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(f"SELECT count(*) FROM {EVENTS}").fetchone()
    assert rows is not None and rows[0] == 2
    assert verify_chain(ChainReader.for_recorder(app.recorder)).ok


def test_a_recorder_that_did_not_create_the_function_commits_the_old_way(
    app: Ledger, database_url: str
) -> None:
    """A process that does not create tables has no promise the function exists: its lone
    saves send the statements themselves; both kinds of commit extend one chain."""
    app.save(Counter("by the function"))
    mine = _recorder(app)
    other = ChainedApplicationRecorder(mine.datastore, events_table_name=EVENTS)
    other.datastore.register_type_adapters()
    counter = Counter("by statements")
    events = [app.mapper.to_stored_event(e) for e in counter.collect_events()]
    ids = other.insert_events(events)
    assert ids is not None and len(ids) == 1
    app.save(Counter("by the function again"))
    report = verify_chain(ChainReader.for_recorder(app.recorder))
    assert report.ok and report.count == 3
    assert isinstance(events[0], StoredEvent)
    assert _function_calls(app, database_url, 2) == 2


@pytest.mark.parametrize("count", [1, SCALAR_PARAMETERS, SCALAR_PARAMETERS + 1, 20])
def test_saves_and_reads_of_any_size_take_their_parameters_either_way(
    app: Ledger, count: int
) -> None:
    """Up to `SCALAR_PARAMETERS` events (aggregates) go as scalar parameters, more as lists:
    both write the same chain and read the same events."""
    counters = [Counter(str(n)) for n in range(count)]
    app.save(*counters)  # one lone save of `count` events
    for counter in counters[::2]:
        counter.increment()
    app.save(*counters[::2])
    found = _recorder(app).select_events_after([(c.id, 1) for c in counters])
    assert {k: [e.originator_version for e in v] for k, v in found.items()} == {
        c.id: [2] for c in counters[::2]
    }
    report = verify_chain(ChainReader.for_recorder(app.recorder))
    assert report.ok and report.count == count + len(counters[::2])

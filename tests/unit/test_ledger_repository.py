"""The ledger's repository (`domain.ledger.base.LedgerRepository`): a fast-forward lock is
shared by every thread using the aggregate at the same time and dropped when the last is done
(eventsourcing recycles them through an LRU cache of its own, which cost a fifth of a
command's bookkeeping)."""

from __future__ import annotations

import threading
from typing import Any, cast
from uuid import uuid4

from domain.ledger.base import LedgerRepository


def test_a_fast_forward_lock_is_shared_while_used_and_dropped_after() -> None:
    repository = LedgerRepository(event_store=cast("Any", None), cache_maxsize=10)
    one, other = uuid4(), uuid4()

    first = repository._use_fastforward_lock(one)
    second = repository._use_fastforward_lock(one)
    assert first is second  # the same aggregate: one lock for every user meanwhile
    assert repository._use_fastforward_lock(other) is not first
    repository._disuse_fastforward_lock(other)

    repository._disuse_fastforward_lock(one)
    assert one in repository._fastforward_locks_inuse  # still used once
    repository._disuse_fastforward_lock(one)
    assert repository._fastforward_locks_inuse == {}


def test_threads_using_one_aggregate_exclude_each_other() -> None:
    repository = LedgerRepository(event_store=cast("Any", None), cache_maxsize=10)
    aggregate_id = uuid4()
    inside, most = [0], [0]

    def use() -> None:
        for _ in range(2000):
            lock = repository._use_fastforward_lock(aggregate_id)
            try:
                with lock:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                    inside[0] -= 1
            finally:
                repository._disuse_fastforward_lock(aggregate_id)

    threads = [threading.Thread(target=use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 1
    assert repository._fastforward_locks_inuse == {}

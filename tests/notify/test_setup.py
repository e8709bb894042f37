"""The notifier's and the views' tables are created once however many processes start at the
same time on a fresh database: a creator that waited for another must not mark the tracking
table again."""

from __future__ import annotations

import threading
from collections.abc import Callable

from eventsourcing.postgres import PostgresDatastore

from domain.application import OkrLedger
from infra.notify.store import NoticeStore
from infra.views.store import ViewStore
from tests.threads import run_together


def _at_once(calls: list[Callable[[], object]]) -> list[BaseException]:
    """Run `calls` on threads released together; answer what they raised."""
    start = threading.Barrier(len(calls))
    failures: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        start.wait()
        try:
            call()
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    run_together(threads, 60)
    return failures


def test_stores_set_up_at_once_on_a_fresh_database_all_succeed(ledger: OkrLedger) -> None:
    datastore = ledger.recorder.datastore  # type: ignore[attr-defined]
    assert isinstance(datastore, PostgresDatastore)
    stores = [NoticeStore(datastore) for _ in range(6)]
    assert _at_once([s.setup for s in stores]) == []
    assert all(store.position() == 0 for store in stores)


def test_view_stores_set_up_at_once_on_a_fresh_database_all_succeed(ledger: OkrLedger) -> None:
    datastore = ledger.recorder.datastore  # type: ignore[attr-defined]
    stores = [ViewStore(datastore) for _ in range(6)]
    assert _at_once([s.create_table for s in stores]) == []

"""The notifier's and the views' tables are created once however many processes start at the
same time on a fresh database: a creator that waited for another must not mark the tracking
table again."""

from __future__ import annotations

import threading

from eventsourcing.postgres import PostgresDatastore

from domain.application import OkrLedger
from infra.notify.store import NoticeStore
from infra.views.store import ViewStore


def test_stores_set_up_at_once_on_a_fresh_database_all_succeed(ledger: OkrLedger) -> None:
    datastore = ledger.recorder.datastore  # type: ignore[attr-defined]
    assert isinstance(datastore, PostgresDatastore)
    stores = [NoticeStore(datastore) for _ in range(6)]
    start = threading.Barrier(len(stores))
    failures: list[BaseException] = []

    def set_up(store: NoticeStore) -> None:
        start.wait()
        try:
            store.setup()
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=set_up, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert all(store.position() == 0 for store in stores)


def test_view_stores_set_up_at_once_on_a_fresh_database_all_succeed(ledger: OkrLedger) -> None:
    datastore = ledger.recorder.datastore  # type: ignore[attr-defined]
    stores = [ViewStore(datastore) for _ in range(6)]
    start = threading.Barrier(len(stores))
    failures: list[BaseException] = []

    def set_up(store: ViewStore) -> None:
        start.wait()
        try:
            store.create_table()
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=set_up, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []

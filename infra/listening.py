"""Waiting for PostgreSQL NOTIFYs, as the log's followers (the views' runner, the notifier) and
the notifier's sender do: a connection that LISTENs, and the loop that reads the log beyond a
position, waiting for the next NOTIFY whenever it has caught up."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from psycopg import Connection
from psycopg.sql import SQL, Identifier

from infra.views.log import LogReader
from projections.base import Logged


@contextlib.contextmanager
def listening(datastore: PostgresDatastore, channel: str) -> Iterator[Connection[Any]]:
    """A connection of the pool that LISTENs on `channel` (and UNLISTENs when done)."""
    with datastore.get_connection() as listener:
        listener.execute(SQL("LISTEN {}").format(Identifier(channel)))
        try:
            yield listener
        finally:
            with contextlib.suppress(Exception):
                listener.execute("UNLISTEN *")


def wait_for_notify(listener: Connection[Any], timeout: float) -> None:
    """Return at the next NOTIFY on `listener`, or after `timeout` seconds."""
    for _ in listener.notifies(timeout=timeout, stop_after=1):
        pass


def follow_log(
    log: LogReader,
    conn: Connection[Any],
    listener: Connection[Any],
    stop: threading.Event,
    position: Callable[[], int],
    apply: Callable[[list[Logged]], None],
    max_batch: int,
) -> None:
    """Until `stop` is set: `apply` each page of the log beyond `position()` (at most
    `max_batch` events), and when there is none, wait for the next NOTIFY (a quarter second at
    most, to notice `stop`)."""
    while not stop.is_set():
        rows = log.page_rows(conn, position(), 2**62, max_batch)
        if rows:
            apply(log.logged(rows))
            continue
        wait_for_notify(listener, 0.25)

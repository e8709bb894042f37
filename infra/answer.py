"""Which moment an answer shows: the log position a read was computed from, and its chain hash.

Every read records the position it reflects while it reads, in the same snapshot as its rows:

- a live view read: the views' tracked position, read in the snapshot's first statement
  (infra.views.queries.ViewQueries.snapshot), together with the chain hash at that position;
- a time-travel read (`position=`, `as_of=`): the position it was folded to (`pin`);
- a read of one aggregate from the event store: the notification id of the aggregate's event
  at the version it returned (`aggregate_position`);
- a read of the API's directory: the position of the last directory event it applied.

The HTTP layer (api/positions.py) opens an `Answer` per request with `answering()` and states it
in the `OKR-Position` and `OKR-Chain-Hash` headers. A request may read several times (an
authorization check, a privacy filter, the answer itself): the first plain read and any pinned
read decide, a pinned one over a plain one, so the stated position is the one the answer's own
rows came from. Outside a request nothing is recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from uuid import UUID

from cachetools import LRUCache
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from infra.chain import ChainReader


class Answer:
    """The position (and, once known, the chain hash) one answer reflects."""

    __slots__ = ("hash", "pinned", "position")

    def __init__(self) -> None:
        self.position: int | None = None
        self.hash: bytes | None = None
        self.pinned = False

    def saw(self, position: int, hash_: bytes | None = None) -> None:
        """A plain read at `position`: the first one counts, unless a pinned read decided."""
        if self.position is None:
            self.position, self.hash = position, hash_

    def pin(self, position: int, hash_: bytes | None = None) -> None:
        """The answer was computed at exactly `position` (time travel): it decides."""
        if hash_ is not None or position != self.position:
            self.hash = hash_
        self.position, self.pinned = position, True


_answer: ContextVar[Answer | None] = ContextVar("okrledger_answer", default=None)


@contextmanager
def answering() -> Iterator[Answer]:
    """Record the reads made in this block (and the threads it hands work to)."""
    answer = Answer()
    token = _answer.set(answer)
    try:
        yield answer
    finally:
        _answer.reset(token)


def read_again() -> None:
    """The reads so far do not make the answer (it is read again): forget their position."""
    answer = _answer.get()
    if answer is not None:
        answer.position, answer.hash, answer.pinned = None, None, False


def current() -> Answer | None:
    """The answer being recorded, if any."""
    return _answer.get()


def saw(position: int, hash_: bytes | None = None) -> None:
    """Record a plain read at `position` (see `Answer.saw`)."""
    answer = _answer.get()
    if answer is not None:
        answer.saw(position, hash_)


def pin(position: int, hash_: bytes | None = None) -> None:
    """Record that the answer was computed at exactly `position` (see `Answer.pin`)."""
    answer = _answer.get()
    if answer is not None:
        answer.pin(position, hash_)


class ChainHashes:
    """The chain hash at a position, remembered: a position at or below the log's head never
    changes its hash (ids follow commit order), so one indexed lookup per position at most."""

    def __init__(self, chain: ChainReader, size: int = 4096) -> None:
        self.chain = chain
        self._known: LRUCache[int, bytes] = LRUCache(size)
        self._lock = threading.Lock()

    def known(self, position: int) -> bytes | None:
        """The hash at `position` if remembered (no database round trip)."""
        with self._lock:
            return self._known.get(position)

    def at(self, position: int) -> bytes:
        found = self.known(position)
        if found is None:
            found = self.chain.hash_at(position)
            with self._lock:
                self._known[position] = found
        return found

    def remember(self, position: int, hash_: bytes) -> None:
        with self._lock:
            self._known[position] = hash_


def aggregate_position(recorder: Any, aggregate_id: UUID, version: int) -> int:
    """The notification id of `aggregate_id`'s event at `version`: the position a read of the
    aggregate at that version reflects (0 when it is not stored, e.g. never saved).

    One lookup on the events table's unique (originator_id, originator_version) index.
    """
    datastore = recorder.datastore
    query = SQL(
        "SELECT notification_id FROM {}.{} WHERE originator_id = %s AND originator_version = %s"
    ).format(Identifier(datastore.schema), Identifier(recorder.events_table_name))
    with datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
        row = curs.execute(query, (aggregate_id, version), prepare=True).fetchone()
    return 0 if row is None else int(row[0])


def reflect_aggregate(recorder: Any, aggregate_id: UUID, version: int) -> None:
    """Record a read of one aggregate at `version` (a plain read: see `saw`)."""
    answer = _answer.get()
    if answer is not None and answer.position is None:
        answer.saw(aggregate_position(recorder, aggregate_id, version))


__all__ = [
    "Answer",
    "ChainHashes",
    "aggregate_position",
    "answering",
    "current",
    "pin",
    "read_again",
    "reflect_aggregate",
    "saw",
]

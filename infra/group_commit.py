"""Group commit: the saves that arrive while a commit is in flight share the next transaction.

:class:`GroupCommit` queues the saves (:class:`PendingWrite`) and hands them, in arrival order,
to the recorder's batch commit (``infra.chain.ChainedApplicationRecorder._commit_batch``), one
batch in flight at a time; each save keeps its own outcome (:func:`refusal` for one refused in
its savepoint).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
from eventsourcing.persistence import DataError, IntegrityError

from infra.idempotency import KeyAlreadyWritten, already_written

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    from eventsourcing.persistence import StoredEvent

    from infra.idempotency import Claim


@dataclass(eq=False)
class PendingWrite:
    """One save waiting in :class:`GroupCommit`: what it writes, and then its outcome."""

    stored_events: Sequence[StoredEvent]
    kwargs: dict[str, Any]
    claim: Claim | None
    imported_at: datetime | None
    ids: Sequence[int] | None = None
    error: BaseException | None = None
    finished: bool = False
    lead: bool = False
    """Set when this save's thread is to commit the next batch (its own included)."""
    wake: threading.Event = field(default_factory=threading.Event)


MAX_BATCH_WRITES = 64
"""At most this many saves share one transaction."""


class GroupCommit:
    """Group commit: the saves that arrive while a commit is in flight go out together next.

    No thread of its own: the first save to arrive while no commit is in flight leads, i.e.
    takes every save waiting (its own included, at most ``max_writes``), commits them with
    ``commit_batch``, wakes their threads, and hands the lead to the oldest save that arrived
    meanwhile. A save that finds a leader waits to be woken with its outcome, or to lead the
    next batch. So one transaction is in flight per recorder at a time, a lone save commits at
    once, and under load each commit carries every save that queued behind the last one.
    """

    def __init__(
        self,
        commit_batch: Callable[[Sequence[PendingWrite]], None],
        max_writes: int = MAX_BATCH_WRITES,
    ) -> None:
        self._commit_batch = commit_batch
        self._max_writes = max_writes
        self._lock = threading.Lock()
        self._queue: deque[PendingWrite] = deque()
        self._leading = False
        self.batches = 0
        """Transactions committed (or tried) so far, for the benchmarks and tests."""
        self.writes = 0
        """Saves they carried."""

    def submit(self, write: PendingWrite) -> Sequence[int] | None:
        """Queue ``write``, wait until it is committed or refused, and answer its ids."""
        with self._lock:
            self._queue.append(write)
            if not self._leading:
                self._leading = True
                write.lead = True
        while not write.finished:
            if write.lead:
                self._lead()  # the oldest save waiting leads: its own is in the batch
            else:
                write.wake.wait()
                write.wake.clear()
        if write.error is not None:
            raise write.error
        return write.ids

    def _lead(self) -> None:
        with self._lock:
            size = min(len(self._queue), self._max_writes)
            batch = [self._queue.popleft() for _ in range(size)]
        try:
            self._commit_batch(batch)
        except BaseException as error:  # pragma: no cover - commit_batch reports per write
            for write in batch:
                write.error = error
        finally:
            with self._lock:
                self.batches += 1
                self.writes += len(batch)
                for write in batch:
                    write.finished = True
                    write.wake.set()
                if self._queue:
                    successor = self._queue[0]
                    successor.lead = True
                    successor.wake.set()
                else:
                    self._leading = False


def refusal(error: psycopg.Error, write: PendingWrite) -> BaseException:
    """A refused save's error, as eventsourcing's datastore would raise it."""
    refused: BaseException
    if isinstance(error, psycopg.IntegrityError):
        refused = IntegrityError(str(error))
        refused.__cause__ = error
        return refused
    refused = DataError(str(error))
    refused.__cause__ = error
    if write.claim is not None and isinstance(refused, DataError) and already_written(refused):
        keyed = KeyAlreadyWritten(str(error))
        keyed.__cause__ = refused
        return keyed
    return refused

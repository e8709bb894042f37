"""The live runner: follows the log over LISTEN/NOTIFY and applies it to the views in batches.

Woken by the recorder's NOTIFY, the runner thread reads everything the log holds beyond the
views' position (up to `max_batch` events, with commit times), decodes it and hands it to the
`ViewsProjector` in one transaction: rows and tracking position commit together, so the views
are exactly-once however the process dies. eventsourcing's `ProjectionRunner` commits once per
event; batching is what keeps the views within milliseconds of the log under load.

Only one runner per database works at a time (a session advisory lock); a second process's
runner waits as a standby and takes over if the first goes away. Readers in any process wait
for a position by polling the tracking row (`ViewStore.position`).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import Connection

from infra.leadership import leadership
from infra.listening import follow_log, listening
from infra.repeating import Looping
from infra.views.log import LogReader
from infra.views.projector import ViewsProjector
from infra.views.store import ShardedViews
from projections.base import Logged

log = logging.getLogger("okrledger.views")

LOCK_KEY = "okrledger:views:runner"


class LiveRunner(Looping):
    """Keeps the live views current in a background thread."""

    thread_name = "okr-views-runner"

    def __init__(
        self,
        projector: ViewsProjector,
        recorder: PostgresApplicationRecorder,
        log_reader: LogReader,
        *,
        max_batch: int = 2000,
        prepare: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.projector = projector
        self.recorder = recorder
        self.log = log_reader
        self.max_batch = max_batch
        self.prepare = prepare
        """Runs once the runner holds the lock, before following (e.g. a first rebuild)."""
        self.position = 0
        """The position committed by this runner (or found when it started)."""
        self.error: BaseException | None = None
        self.active = threading.Event()
        """Set while this process's runner is the one applying the log."""
        self._applied = threading.Condition()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if not self.running:
            super().start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop following and return once the thread has ended: its connections are back in
        the pool, so the caller may close the pool next. A first rebuild in progress stops at
        its next page and saves its progress (a later start resumes it)."""
        super().stop(timeout)

    @property
    def stopping(self) -> threading.Event:
        """Set once `stop()` was called (work started by the runner, such as its first
        rebuild, watches it)."""
        return self._stopping

    def wait(self, position: int, timeout: float) -> bool:
        """Until this runner has committed `position` (False on timeout or if it is not active)."""
        deadline = time.monotonic() + timeout
        with self._applied:
            while self.position < position:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.active.is_set():
                    return self.position >= position
                self._applied.wait(min(remaining, 0.05))
        return True

    # ---------------------------------------------------------------- main

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                with self._leadership() as leading:
                    if not leading:
                        self._stopping.wait(1.0)
                        continue
                    self.active.set()
                    if self.prepare is not None:
                        self.prepare()
                    if not self._stopping.is_set():
                        self._follow()
            except ShardedViews as error:  # Kafka workers keep the views: stand by
                if not isinstance(self.error, ShardedViews):
                    log.warning("views runner standing by: %s", error)
                self.error = error
                self.projector.discard()
                self._stopping.wait(30.0)
            except Exception as error:  # the runner must outlive a database hiccup
                self.error = error
                log.exception("views runner failed; retrying")
                self.projector.discard()
                self._stopping.wait(1.0)
            finally:
                self.active.clear()

    def _leadership(self) -> contextlib.AbstractContextManager[bool]:
        """Hold the runners' advisory lock on a dedicated connection while leading."""
        return leadership(self.recorder.datastore, LOCK_KEY)

    def _follow(self) -> None:
        """Apply what the log holds beyond the views, then wait for the next NOTIFY.

        The recorder NOTIFYs in every insert transaction, so a commit wakes the runner at once;
        the table lock makes notification ids follow commit order, so reading everything after
        the views' position never skips a late commit. (eventsourcing's subscription does the
        same with a puller thread and two queues; reading here keeps one thread and one query
        between a commit and the batch that applies it.)
        """
        datastore = self.recorder.datastore
        with (
            listening(datastore, self.log.channel_name) as listener,
            datastore.get_connection() as conn,
        ):
            with conn.transaction():
                self.projector.apply(conn, [])  # restore the model at the tracked position
            # The restored model is large and long-lived: keep it out of the cyclic
            # garbage collector's scans (a full collection at 1M events takes ~1 s).
            gc.collect()
            gc.freeze()
            self._committed(self.projector.position)
            follow_log(
                self.log,
                conn,
                listener,
                self._stopping,
                lambda: self.projector.position,
                lambda events: self._apply(conn, events),
                self.max_batch,
            )

    def _apply(self, conn: Connection[Any], events: list[Logged]) -> None:
        try:
            with conn.transaction():
                position = self.projector.apply(conn, events, complete=True)
        except BaseException:
            self.projector.discard()
            raise
        self._committed(position)

    def _committed(self, position: int) -> None:
        with self._applied:
            self.position = max(self.position, position)
            self._applied.notify_all()

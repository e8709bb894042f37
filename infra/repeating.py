"""A background chore that `okr serve` repeats every few seconds while it runs."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class Repeating:
    """A daemon thread that runs `round()` now and then every `interval` seconds (or first
    after one interval: `at_once=False`) until stopped. A round that fails (a dropped
    connection) is logged and the next one runs: the chore outlives a brief outage."""

    def __init__(self, name: str, interval: float, *, at_once: bool = True) -> None:
        self.name = name
        self.interval = interval
        self.at_once = at_once
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def round(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        if not self.at_once and self._stop.wait(self.interval):
            return
        while not self._stop.is_set():
            try:
                self.round()
            except Exception:
                log.exception("%s: this round failed; retrying", self.name)
            self._stop.wait(self.interval)


class Looping:
    """A `run()` loop on a daemon thread of its own (the Kafka relay, a projection worker):
    `run` returns once `_stopping` is set; `stop()` sets it and waits for the thread (the views'
    runner and the reminder scheduler too, which may be started again after a stop)."""

    thread_name = "okr-loop"

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        """Whether `start()` was called and `stop()` not since."""
        return self._thread is not None

    def start(self) -> None:
        """Run `run()` in a background thread."""
        if self._thread is not None:
            msg = f"{self.thread_name} is already running"
            raise RuntimeError(msg)
        self._stopping.clear()
        self._thread = threading.Thread(target=self.run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask `run()` to return and wait for it (at most `timeout` seconds)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("%s did not stop within %.0f s", self.thread_name, timeout or 0)
            self._thread = None

"""What this process last learnt about the hash chain: the outcome of its last verification.

Every verification that runs here records itself: ``GET /api/v1/audit/verify`` and
``okr audit verify`` (the whole chain, or a range), and the checkpoint follower of ``okr serve``,
which verifies each new stretch of the chain before it signs a checkpoint. ``GET /metrics``
reports the last one (``okr_chain_verification_*``). Nothing is stored: a restart forgets it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Verification:
    ok: bool
    at: float
    """Unix time the verification finished."""
    head_position: int | None
    """The last position verified (before the first problem, if any)."""
    problem: str | None
    """edited, deleted, inserted, reordered, rewritten or forged-checkpoint."""


class Verifications:
    """The last verification, and how many passed and failed, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: Verification | None = None
        self._counts = {"ok": 0, "failed": 0}

    def record(self, ok: bool, head_position: int | None, problem: str | None = None) -> None:
        with self._lock:
            self._last = Verification(ok, time.time(), head_position, problem)
            self._counts["ok" if ok else "failed"] += 1

    @property
    def last(self) -> Verification | None:
        with self._lock:
            return self._last

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


VERIFICATIONS = Verifications()
"""This process's record."""

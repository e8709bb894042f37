"""A clock a test moves by hand, for workers that take one (`clock=`: a callable of the time now)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class Clock:
    now: datetime
    """The time the clock says, until the test advances it."""

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Moves the time on by `timedelta(**delta)`, e.g. `advance(seconds=11)`."""
        self.now += timedelta(**delta)

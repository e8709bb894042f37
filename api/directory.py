"""The directory the API authorizes against, kept current with the event store.

Authorization must see the organisation as the commands will see it: a member added to a team
a moment ago may draft that team's objectives now. So the API keeps its own small directory fold
(people, teams, cycles) and, on every request, first applies whatever person, team and cycle
events the log gained since (one indexed query that usually returns nothing). It therefore never
lags behind the event store, and keeps working while the live views rebuild.

A request needs the events committed before it began, no more: a catch-up whose query started
after that already covers them, so one catch-up per request at most (often none, when
concurrent requests just made one). It also follows token revocations, so the API's principal
cache (api/deps.py) refuses a revoked token at once, whichever process revoked it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.access import AccessToken
from domain.application import OkrLedger
from domain.base import OkrAggregate
from domain.cycle import Cycle
from domain.person import Person
from domain.team import Team
from projections.base import Logged
from projections.directory import DirectoryFold, DirectoryState

T = TypeVar("T")
PAGE = 500

request_began: ContextVar[float | None] = ContextVar("request_began", default=None)
"""When the current request began (time.monotonic()); set by the app's middleware."""
_REVOKED = get_topic(AccessToken.Revoked)


def _directory_topics() -> list[str]:
    topics = []
    for aggregate in (Person, Team, Cycle):
        for attribute in vars(aggregate).values():
            if (
                isinstance(attribute, type)
                and issubclass(attribute, OkrAggregate.Event)
                and attribute in DirectoryFold.handlers
            ):
                topics.append(get_topic(attribute))
    return topics


class LogDirectory:
    """A directory fold over the ledger's notification log, caught up on demand."""

    def __init__(self, ledger: OkrLedger) -> None:
        self._ledger = ledger
        self._fold = DirectoryFold()
        self._state: DirectoryState = self._fold.initial()
        self._versions: dict[UUID, int] = {}
        self._topics = [*_directory_topics(), _REVOKED]
        self._revoked: set[UUID] = set()
        self._fresh_since = float("-inf")
        """When the query of the latest complete catch-up started (time.monotonic())."""
        self._lock = threading.Lock()

    def _catch_up(self) -> None:
        """Apply what the log gained since the cursor. The query runs without the lock (so
        requests do not queue behind each other's round trips); applying takes it, and skips
        what a concurrent catch-up applied first. Notification ids follow commit order, so a
        query started after the request began has seen everything the request must see."""
        began = request_began.get()
        if began is not None and self._fresh_since >= began:
            return
        started = time.monotonic()
        while True:
            notifications = self._ledger.recorder.select_notifications(
                start=self._state.cursor.position,
                limit=PAGE,
                topics=self._topics,
                inclusive_of_start=False,
            )
            with self._lock:
                for notification in notifications:
                    if notification.id <= self._state.cursor.position:
                        continue
                    event = self._ledger.mapper.to_domain_event(notification)
                    assert isinstance(event, OkrAggregate.Event)
                    if isinstance(event, AccessToken.Revoked):
                        self._revoked.add(event.originator_id)  # the fold only moves on
                    self._state = self._fold.apply(self._state, Logged.of(notification.id, event))
                    self._versions[event.originator_id] = event.originator_version
            if len(notifications) < PAGE:
                with self._lock:
                    self._fresh_since = max(self._fresh_since, started)
                return

    def at(self, position: int) -> DirectoryState:
        """The directory as it stood at log `position`: folded afresh from the directory's own
        events (people, teams, cycles: few), not the live state."""
        state = self._fold.initial()
        topics = _directory_topics()
        while state.cursor.position < position:
            notifications = self._ledger.recorder.select_notifications(
                start=state.cursor.position,
                limit=PAGE,
                stop=position,
                topics=topics,
                inclusive_of_start=False,
            )
            for notification in notifications:
                event = self._ledger.mapper.to_domain_event(notification)
                assert isinstance(event, OkrAggregate.Event)
                state = self._fold.apply(state, Logged.of(notification.id, event))
            if len(notifications) < PAGE:
                break
        return state

    @contextmanager
    def current(self) -> Iterator[DirectoryState]:
        """The directory as of now, held still (locked) while the caller looks at it."""
        self._catch_up()
        with self._lock:
            yield self._state

    def version(self, aggregate_id: UUID) -> int:
        """The version of a person, team or cycle as the directory last saw it (call while
        holding `current()`)."""
        return self._versions.get(aggregate_id, 0)

    def position(self) -> int:
        """The last log position applied (call while holding `current()`)."""
        return self._state.cursor.position

    def revoked(self, token_id: UUID) -> bool:
        """Whether the token was revoked (call while holding `current()`)."""
        return token_id in self._revoked

    def ask(self, question: Callable[[DirectoryState], T]) -> T:
        """Answer `question` against the current directory."""
        with self.current() as state:
            return question(state)

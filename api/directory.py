"""The directory the API authorizes against, kept current with the event store.

Authorization must see the organisation as the commands will see it: a member added to a team
a moment ago may draft that team's objectives now. So the API keeps its own small directory fold
(people, teams, cycles) and, on every request, first applies whatever person, team and cycle
events the log gained since (one indexed query that usually returns nothing). It therefore never
lags behind the event store, and keeps working while the live views rebuild.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.application import OkrLedger
from domain.base import OkrAggregate
from domain.cycle import Cycle
from domain.person import Person
from domain.team import Team
from projections.base import Logged
from projections.directory import DirectoryFold, DirectoryState

T = TypeVar("T")
PAGE = 500


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
        self._topics = _directory_topics()
        self._lock = threading.Lock()

    def _catch_up(self) -> None:
        """Apply what the log gained since the cursor. The query runs without the lock (so
        requests do not queue behind each other's round trips); applying takes it, and skips
        what a concurrent catch-up applied first."""
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
                    self._state = self._fold.apply(self._state, Logged.of(notification.id, event))
                    self._versions[event.originator_id] = event.originator_version
            if len(notifications) < PAGE:
                return

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

    def ask(self, question: Callable[[DirectoryState], T]) -> T:
        """Answer `question` against the current directory."""
        with self.current() as state:
            return question(state)

"""Tracking tables that any number of processes may create at the same moment."""

from __future__ import annotations

from eventsourcing.persistence import IntegrityError
from eventsourcing.postgres import PostgresTrackingRecorder


class ConcurrentlyCreated(PostgresTrackingRecorder):
    """eventsourcing's tracking recorder reads whether its table exists (and its migration mark)
    before it creates it; a process that read "missing" while another was creating it then
    marks the table a second time and is refused. That refusal means another creator finished
    first, and its mark is committed: a second pass only checks. (Subclasses serialise
    `_create_table` with an advisory lock: CREATE ... IF NOT EXISTS is not safe either.)"""

    def create_table(self) -> None:
        try:
            super().create_table()
        except IntegrityError:
            super().create_table()

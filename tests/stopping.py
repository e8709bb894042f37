"""Stopping the views' runner at once at the end of a test.

Between two pages of the log the runner waits for the next NOTIFY, a quarter second at most
before it looks at its stop flag again (`infra/listening.py`): `ReadModels.stop()` alone takes
that long, on average half of it, after every test that started the views. Here the runner is
told to stop, then woken by a NOTIFY on the log's channel, as the next commit would wake it.
"""

from __future__ import annotations

import contextlib

from psycopg.sql import SQL, Identifier

from infra.readmodels import ReadModels


def stop_views(readmodels: ReadModels) -> None:
    """`readmodels.stop()`, without waiting out the runner's wait for a NOTIFY."""
    runner = readmodels.runner
    if runner.running:
        runner.stopping.set()
        # A failed wake-up only costs the wait: the stop below still ends the runner.
        with (
            contextlib.suppress(Exception),
            readmodels.recorder.datastore.get_connection() as conn,
            conn.transaction(),
        ):
            conn.execute(SQL("NOTIFY {}").format(Identifier(readmodels.log.channel_name)))
    readmodels.stop()

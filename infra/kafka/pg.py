"""PostgreSQL plumbing the relay and the workers share: dedicated connections."""

from __future__ import annotations

from typing import Any

import psycopg
from eventsourcing.application import Application
from eventsourcing.postgres import PostgresApplicationRecorder


def postgres_recorder(app: Application[Any]) -> PostgresApplicationRecorder:
    recorder = app.recorder
    if not isinstance(recorder, PostgresApplicationRecorder):
        msg = f"Kafka needs the PostgreSQL event store, not {type(recorder).__name__}"
        raise TypeError(msg)
    return recorder


def connect(
    recorder: PostgresApplicationRecorder, application_name: str
) -> psycopg.Connection[Any]:
    """A connection of its own (not from the pool) to the recorder's database, in autocommit.

    TCP keepalives make a connection to a vanished server fail in about 20 s instead of hanging.
    """
    pool_kwargs = recorder.datastore.pool.kwargs
    if callable(pool_kwargs):
        pool_kwargs = pool_kwargs()
    kwargs = {
        k: v
        for k, v in (pool_kwargs or {}).items()
        if k in ("dbname", "host", "port", "user", "password") and v not in (None, "")
    }
    return psycopg.connect(
        **kwargs,
        autocommit=True,
        application_name=application_name,
        connect_timeout=10,
        keepalives=1,
        keepalives_idle=10,
        keepalives_interval=5,
        keepalives_count=2,
    )

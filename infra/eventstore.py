"""Event-store configuration: from a libpq URL to eventsourcing's environment."""

from __future__ import annotations

import contextlib

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import get_topic
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.sql import SQL, Identifier

from infra.audit.factory import audit_env
from infra.chain import ChainedApplicationRecorder, ChainedProcessRecorder
from infra.settings import Settings

# URL parameters eventsourcing's datastore can carry; anything else (sslmode, ...) would be
# silently dropped, so it is refused instead. libpq still reads PGSSLMODE & co. itself.
_SUPPORTED_PARAMS = frozenset({"dbname", "host", "port", "user", "password", "connect_timeout"})

AGGREGATE_CACHE_SIZE = 1000
"""Aggregates each application keeps in memory (least recently used first out).

A cached aggregate is fast-forwarded on every load (one query for the events after its version,
usually none or one) instead of replaying its whole history, and commands get a copy, so a
refused command leaves the cache as it was. The copy shares the immutable records (key results,
check-ins, measurements: replaced, never changed in place) and so costs the aggregate's mutable
state, not its history (`domain.base.OkrAggregate.__deepcopy__`). Writers in other processes still conflict: a save is
checked against the stored versions, never against the cache."""


def eventsourcing_env(database_url: str, settings: Settings) -> dict[str, str]:
    """Return the eventsourcing environment for an application stored at ``database_url``.

    ``database_url`` is a libpq URL or key=value string; its host may be a Unix-socket directory
    (``postgresql://postgres@/okrledger?host=/path/to/socketdir``). The application recorder is
    the hash-chained one; database functions stay off because they skip the table lock that the
    chain relies on.
    """
    params = conninfo_to_dict(database_url)
    unsupported = sorted(set(params) - _SUPPORTED_PARAMS)
    if unsupported:
        msg = (
            f"unsupported parameter(s) in the database URL: {', '.join(unsupported)}; "
            "set them through libpq's environment variables (e.g. PGSSLMODE) instead"
        )
        raise ValueError(msg)
    dbname = params.get("dbname")
    if not dbname:
        msg = "the database URL must name a database"
        raise ValueError(msg)
    env = {
        InfrastructureFactory.PERSISTENCE_MODULE: "eventsourcing.postgres",
        PostgresFactory.POSTGRES_DBNAME: str(dbname),
        # An empty host or user lets libpq apply its own defaults (default socket, OS user).
        PostgresFactory.POSTGRES_HOST: str(params.get("host") or ""),
        PostgresFactory.POSTGRES_PORT: str(params.get("port") or "5432"),
        PostgresFactory.POSTGRES_USER: str(params.get("user") or ""),
        PostgresFactory.POSTGRES_PASSWORD: str(params.get("password") or ""),
        PostgresFactory.POSTGRES_LOCK_TIMEOUT: str(settings.lock_timeout_seconds),
        PostgresFactory.POSTGRES_POOL_SIZE: str(settings.pool_size),
        PostgresFactory.POSTGRES_ENABLE_DB_FUNCTIONS: "n",
        PostgresFactory.CREATE_TABLE: "y",
        Application.AGGREGATE_CACHE_MAXSIZE: str(AGGREGATE_CACHE_SIZE),
        Application.AGGREGATE_CACHE_FASTFORWARD: "y",
        InfrastructureFactory.APPLICATION_RECORDER_TOPIC: get_topic(ChainedApplicationRecorder),
        InfrastructureFactory.PROCESS_RECORDER_TOPIC: get_topic(ChainedProcessRecorder),
    }
    if params.get("connect_timeout"):
        env[PostgresFactory.POSTGRES_CONNECT_TIMEOUT] = str(params["connect_timeout"])
    env.update(audit_env(settings))  # encrypted personal data, keyed person ids
    return env


def ensure_database(database_url: str) -> None:
    """Create the database named in ``database_url`` unless it exists (safe to race)."""
    dbname = conninfo_to_dict(database_url).get("dbname")
    if not dbname:
        msg = "the database URL must name a database"
        raise ValueError(msg)
    maintenance = make_conninfo(database_url, dbname="postgres")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if found is None:
            # A concurrent creator wins the race with one of these two errors.
            with contextlib.suppress(errors.DuplicateDatabase, errors.UniqueViolation):
                conn.execute(SQL("CREATE DATABASE {}").format(Identifier(str(dbname))))

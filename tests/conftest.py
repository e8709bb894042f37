"""Shared fixtures: a real PostgreSQL for the tests that need one.

- ``postgres_server_url`` (session): a throwaway embedded server in a temporary folder, deleted
  at the end, or the server of ``OKR_TEST_DATABASE_URL`` when that is set. Started only if a
  test asks for it.
- ``database_url`` (function): a fresh, empty database on that server, dropped afterwards.
- ``es_env`` (function): the eventsourcing environment for that database (chained recorder).
- ``ledger`` (function): the application on that database, closed afterwards.
- ``demo_in_memory`` (session): the demo organisation (seed 7) loaded once into the in-memory
  application, for the tests that only read it (loading it takes seconds).

Tests that use them are marked ``postgres`` automatically; integration modules also say so.

Every test also fails if, while it ran, anything logged a closed pool in use (``PoolClosed``):
a runner, relay or worker left running after the pool it uses was closed, i.e. something a
test started and did not stop before closing its ledger.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import uuid4

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.sql import SQL, Identifier
from psycopg_pool import PoolClosed

from demo import DemoSummary, load_demo
from domain.application import OkrLedger
from infra.embedded import start_embedded_postgres, stop_embedded_postgres
from infra.eventstore import eventsourcing_env
from infra.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Iterator

    from eventsourcing.persistence import Notification

# Integration secrets are sealed at rest (infra/secretbox.py): every test process, and the
# `okr` processes tests start, share this throwaway key unless a test sets its own.
TEST_SECRETS_KEY = "dGVzdC1vbmx5LXNlY3JldHMta2V5LTMyLWJ5dGVzISE="
os.environ.setdefault("OKR_SECRETS_KEY", TEST_SECRETS_KEY)


# Timing is no property of the code under test: on two busy cores an example may take seconds.
settings.register_profile("okrledger", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("okrledger")


class _ClosedPoolUse(logging.Handler):
    """Remembers log records that carry a `PoolClosed` (from any logger, any thread)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        while error is not None:  # eventsourcing re-raises it as its own OperationalError
            if isinstance(error, PoolClosed) or any(m in str(error) for m in _POOL_CLOSED):
                self.records.append(record)
                return
            error = error.__cause__ or error.__context__


_POOL_CLOSED = ("pool has already been opened/closed", "is already closed", "PoolClosed")


_CLOSED_POOL_USE = _ClosedPoolUse()
logging.getLogger().addHandler(_CLOSED_POOL_USE)


@pytest.fixture(autouse=True)
def _no_closed_pool_in_use() -> Iterator[None]:
    seen = len(_CLOSED_POOL_USE.records)
    yield
    found = _CLOSED_POOL_USE.records[seen:]
    assert not found, (
        "a closed pool was used while this test ran (something started earlier was not "
        f"stopped before its ledger closed): {[f'{r.name}: {r.getMessage()}' for r in found]}"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "postgres_server_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


class _Server:
    def __init__(self, url: str, *, throwaway: bool) -> None:
        self.url = url
        # Throwaway clusters copy template files instead of WAL-logging them (PostgreSQL 15+).
        self.create_options = SQL(" STRATEGY FILE_COPY") if throwaway else SQL("")

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(make_conninfo(self.url, dbname="postgres"), autocommit=True)

    def new_database(self, prefix: str = "okr_test", *, template: str | None = None) -> str:
        """A fresh, empty database on this server, or a copy of the database at the URL
        `template` (nobody may be connected to it); its libpq URL."""
        name = f"{prefix}_{uuid4().hex[:16]}"
        create = SQL("CREATE DATABASE {}").format(Identifier(name))
        if template is not None:
            source = str(conninfo_to_dict(template)["dbname"])
            create += SQL(" TEMPLATE {}").format(Identifier(source))
        with self.admin() as conn:
            conn.execute(create + self.create_options)
        return make_conninfo(self.url, dbname=name)

    def drop_database(self, url: str) -> None:
        name = str(conninfo_to_dict(url)["dbname"])
        with self.admin() as conn:
            conn.execute(SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(Identifier(name)))

    @contextmanager
    def fresh_database(
        self, prefix: str = "okr_test", *, template: str | None = None
    ) -> Iterator[str]:
        """A fresh database (or a copy of `template`) for the `with` block, dropped after it."""
        url = self.new_database(prefix, template=template)
        try:
            yield url
        finally:
            self.drop_database(url)


@pytest.fixture(scope="session")
def _postgres_server() -> Iterator[_Server]:
    if os.environ.get("OKR_TEST_NO_POSTGRES"):  # `make unit`: a test needing it is unmarked
        pytest.fail("this test needs PostgreSQL: mark it `postgres` (make unit runs without)")
    external = os.environ.get("OKR_TEST_DATABASE_URL")
    if external:
        yield _Server(external, throwaway=False)
        return
    data_dir = Path(tempfile.mkdtemp(prefix="okr-test-pg-"))
    try:
        url = start_embedded_postgres(data_dir)
        with psycopg.connect(url, autocommit=True) as conn:
            # Durability is worthless for a cluster deleted at the end of the session.
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                conn.execute(SQL("ALTER SYSTEM SET {} = off").format(Identifier(setting)))
            conn.execute("SELECT pg_reload_conf()")
        _wait_for_setting(url, "fsync", "off")
        yield _Server(url, throwaway=True)
    finally:
        stop_embedded_postgres(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


def _wait_for_setting(url: str, name: str, value: str, timeout: float = 5.0) -> None:
    """Wait until new sessions see a reloaded setting (the reload signal is asynchronous)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(url) as conn:
            row = conn.execute(SQL("SHOW {}").format(Identifier(name))).fetchone()
        if row is not None and row[0] == value:
            return
        time.sleep(0.01)


@pytest.fixture(scope="session")
def postgres_server_url(_postgres_server: _Server) -> str:
    """libpq URL of the test server (its ``okrledger`` database, or the external one)."""
    return _postgres_server.url


@pytest.fixture
def database_url(_postgres_server: _Server, postgres_server_url: str) -> Iterator[str]:
    """A libpq connection string for a fresh, empty database, dropped after the test."""
    with _postgres_server.fresh_database() as url:
        yield url


@pytest.fixture
def es_env(database_url: str) -> dict[str, str]:
    """eventsourcing's environment for ``database_url``: hash-chained PostgreSQL recorders."""
    return eventsourcing_env(database_url, Settings(lock_timeout_seconds=5, pool_size=4))


@pytest.fixture
def ledger(es_env: dict[str, str]) -> Iterator[OkrLedger]:
    """The application on a fresh database, closed after the test."""
    app = OkrLedger(env=es_env)
    try:
        yield app
    finally:
        app.close()


@dataclass(frozen=True)
class DemoInMemory:
    """The demo organisation as `load_demo(app, seed=7)` left the in-memory application."""

    app: OkrLedger
    summary: DemoSummary
    notifications: tuple[Notification, ...]
    """The log as the load left it (a test that writes to `app` does not change it)."""


@pytest.fixture(scope="session")
def demo_in_memory() -> DemoInMemory:
    """The demo loaded once for every test that only reads it (the demo's own tests, the
    aggregate copies, the strategy layer, the Kafka envelopes): a test must not write to it."""
    app = OkrLedger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    summary = load_demo(app, seed=7)
    notifications = app.recorder.select_notifications(start=1, limit=1_000_000)
    return DemoInMemory(app, summary, tuple(notifications))

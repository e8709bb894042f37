"""From a database URL to eventsourcing's environment, and creating the database."""

from __future__ import annotations

from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.application import Application
from psycopg.conninfo import make_conninfo

from infra.chain import ChainedApplicationRecorder, ChainedProcessRecorder
from infra.eventstore import ensure_database, eventsourcing_env
from infra.settings import Settings

SETTINGS = Settings(lock_timeout_seconds=7, pool_size=3)


def test_env_from_a_socket_url() -> None:
    env = eventsourcing_env("postgresql://postgres@/okrledger?host=/run/okr%20pg", SETTINGS)
    assert env == {
        "PERSISTENCE_MODULE": "infra.audit.factory:AuditedPostgresFactory",
        "POSTGRES_DBNAME": "okrledger",
        "POSTGRES_HOST": "/run/okr pg",
        "POSTGRES_PORT": "5432",
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "",
        "POSTGRES_LOCK_TIMEOUT": "7",
        "POSTGRES_POOL_SIZE": "3",
        "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        "CREATE_TABLE": "y",
        "AGGREGATE_CACHE_MAXSIZE": "1000",
        "AGGREGATE_CACHE_FASTFORWARD": "y",
        "APPLICATION_RECORDER_TOPIC": "infra.chain:ChainedApplicationRecorder",
        "PROCESS_RECORDER_TOPIC": "infra.chain:ChainedProcessRecorder",
    }


def test_env_from_a_tcp_url_with_password_and_timeout() -> None:
    env = eventsourcing_env(
        "postgresql://okr:p%40ss@db.internal:6543/ledger?connect_timeout=3", SETTINGS
    )
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("db.internal", "6543")
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("okr", "p@ss")
    assert (env["POSTGRES_DBNAME"], env["POSTGRES_CONNECT_TIMEOUT"]) == ("ledger", "3")


def test_env_refuses_what_it_cannot_pass_on() -> None:
    with pytest.raises(ValueError, match="sslmode"):
        eventsourcing_env("postgresql://okr@db/ledger?sslmode=require", SETTINGS)
    with pytest.raises(ValueError, match="name a database"):
        eventsourcing_env("postgresql://okr@db", SETTINGS)


@pytest.mark.postgres
def test_the_env_gives_applications_the_chained_recorders(es_env: dict[str, str]) -> None:
    app: Application[UUID] = Application(env=es_env)
    try:
        assert type(app.recorder) is ChainedApplicationRecorder
        assert app.factory.process_recorder().__class__ is ChainedProcessRecorder
    finally:
        app.close()


@pytest.mark.postgres
def test_ensure_database_creates_it_once(postgres_server_url: str) -> None:
    name = f"okr_ensure_{uuid4().hex[:12]}"
    url = make_conninfo(postgres_server_url, dbname=name)
    try:
        ensure_database(url)
        ensure_database(url)
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (name,)
    finally:
        with psycopg.connect(
            make_conninfo(postgres_server_url, dbname="postgres"), autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

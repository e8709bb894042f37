"""Fixtures for the audit tests: a ledger on a fresh PostgreSQL database, an audit key, helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from pydantic import SecretStr

from domain.application import OkrLedger
from domain.base import CommandContext
from domain.objective import Kind
from domain.team import MemberRole
from infra.audit.keys import write_new_signing_key
from infra.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from uuid import UUID

EVENTS = "okrledger_events"
CHAIN = "okrledger_events_chain"
CHECKPOINTS = "okrledger_events_chain_checkpoints"
ADMIN = CommandContext.system()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings with an audit key in ``tmp_path`` and a checkpoint every 10 positions."""
    key_file = tmp_path / "keys" / "audit-signing-key.pem"
    write_new_signing_key(key_file)
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        audit_signing_key_file=key_file,
        audit_checkpoint_interval=10,
        lock_timeout_seconds=5,
        pool_size=4,
    )


@pytest.fixture
def ledger(es_env: dict[str, str]) -> Iterator[OkrLedger]:
    app = OkrLedger(env=es_env)
    yield app
    app.close()


def sql(database_url: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        curs = conn.execute(statement.encode(), params)
        return curs.fetchall() if curs.description else []


def okr_env(settings: Settings) -> dict[str, str]:
    """The environment an ``okr`` process needs to see these settings."""
    assert settings.database_url is not None and settings.audit_signing_key_file is not None
    env = {
        "OKR_DATABASE_URL": settings.database_url,
        "OKR_DATA_DIR": str(settings.data_dir),
        "OKR_AUDIT_SIGNING_KEY_FILE": str(settings.audit_signing_key_file),
        "OKR_AUDIT_CHECKPOINT_INTERVAL": str(settings.audit_checkpoint_interval),
        "OKR_POOL_SIZE": str(settings.pool_size),
        "COLUMNS": "200",
        "NO_COLOR": "1",
    }
    if settings.person_id_secret is not None:
        env["OKR_PERSON_ID_SECRET"] = settings.person_id_secret.get_secret_value()
    return env


def with_secret(settings: Settings, secret: str) -> Settings:
    return settings.model_copy(update={"person_id_secret": SecretStr(secret)})


@dataclass
class Org:
    """A few people, a team and a cycle taken all the way to closed."""

    people: dict[str, UUID]
    team_id: UUID
    cycle_id: UUID
    closed_at: int
    """The position of the cycle's ``Closed`` event."""


def an_org(ledger: OkrLedger, people: int = 3, renames: int = 4) -> Org:
    ids = {
        f"person{i}@acme.example": ledger.register_person(
            f"Person Number{i}", f"person{i}@acme.example", ADMIN
        ).id
        for i in range(people)
    }
    owner = next(iter(ids.values()))
    team_id = ledger.form_team("Platform", ADMIN).id
    for person_id in ids.values():
        ledger.add_team_member(team_id, person_id, MemberRole.MEMBER, ADMIN)
    cycle_id = ledger.plan_cycle("2026-Q1", date(2026, 1, 1), date(2026, 3, 31), ADMIN).id
    ledger.start_cycle(cycle_id, ADMIN)
    ledger.draft_objective(
        cycle_id=cycle_id,
        title="Ship the ledger",
        kind=Kind.COMMITTED,
        owner_team_id=team_id,
        ctx=CommandContext(actor=str(owner)),
    )
    for i in range(renames):
        ledger.rename_team(team_id, f"Platform {i}", ADMIN)
    ledger.open_grading(cycle_id, ADMIN)
    closed = ledger.close_cycle(cycle_id, ADMIN).position
    assert closed is not None
    return Org(ids, team_id, cycle_id, closed)


@dataclass
class Ran:
    exit_code: int
    output: str


def okr(settings: Settings, *args: str, monkeypatch: pytest.MonkeyPatch) -> Ran:
    """Run an ``okr`` command in this process against ``settings`` (through the environment)."""
    from typer.testing import CliRunner

    from api.cli import app
    from infra.settings import get_settings

    for name, value in okr_env(settings).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    finally:
        get_settings.cache_clear()
    return Ran(result.exit_code, result.output)

"""Key results that follow a data source, over HTTP: attach (owner or admin only, definitions
checked against the settings with 422s naming field and rule), sync now, health on the key
result and in /stale, detach; and a key result that moves by itself inside `okr serve`'s
scheduler."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from domain.application import OkrLedger
from domain.base import CommandContext
from domain.team import MemberRole
from infra.readmodels import ReadModels
from infra.settings import Settings
from infra.sources.sync import SourceScheduler, source_sync_of
from tests.api.answers import ok as _ok
from tests.api.answers import problem as _problem
from tests.api.conftest import API, Built, SettledClient, World, make_app, objective_in
from tests.api.test_strategy import _kpi

SIGNUPS = "SELECT sum(n) FROM signups"


@pytest.fixture
def source_settings(database_url: str) -> Settings:
    return Settings(
        source_connections=SecretStr(f"warehouse={database_url}"),
        source_secrets=SecretStr("metrics_token=Bearer s3cret"),
        source_timeout_seconds=1.0,
        source_allow_private=True,
        source_interval_seconds=0,
    )


@pytest.fixture
def client(
    ledger: OkrLedger, readmodels: ReadModels, source_settings: Settings
) -> Iterator[SettledClient]:
    app = make_app(ledger, readmodels, source_settings)
    with SettledClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def signups(database_url: str) -> Iterator[Any]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE signups (n integer)")
        conn.execute("INSERT INTO signups VALUES (4)")
        yield conn


def _path(built: Built, tail: str) -> str:
    return f"{API}/objectives/{built.objective_id}/key-results/{built.key_result_id}/{tail}"


def _sql(**kw: Any) -> dict[str, Any]:
    return {
        "kind": "sql",
        "connection": "warehouse",
        "query": SIGNUPS,
        "reason": "sign-ups live in the warehouse",
        **kw,
    }


def _history_actors(client: Any, world: World, built: Built) -> list[str]:
    found = _ok(
        client.get(f"{API}/objectives/{built.objective_id}/history", headers=world["max"].headers)
    )
    return [entry["actor"] for entry in found["timeline"]]


def test_a_key_result_follows_a_sql_query_and_moves_on_sync_now(
    client: Any, world: World, signups: Any
) -> None:
    built = objective_in(world, "platform", "approved")
    max_ = world["max"].headers
    attached = _ok(client.put(_path(built, "source"), json=_sql(confidence=6), headers=max_))
    source_id = attached["source_id"]
    assert _ok(client.get(_path(built, "source"), headers=world["sue"].headers))["health"] == {
        **_ok(client.get(_path(built, "source"), headers=max_))["health"],
        "health": "never",
    }

    synced = _ok(client.post(_path(built, "sync"), headers=max_))
    assert (synced["health"], synced["value"], synced["written"]) == ("ok", 4.0, True)
    again = _ok(client.post(_path(built, "sync"), headers=max_))
    assert (again["written"], again["written_id"]) == (False, None)

    signups.execute("INSERT INTO signups VALUES (3)")
    moved = _ok(client.post(_path(built, "sync"), headers=max_))
    assert (moved["value"], moved["written"]) == (7.0, True)

    objective = _ok(client.get(f"{API}/objectives/{built.objective_id}", headers=max_))
    (kr,) = objective["key_results"]
    assert kr["current_value"] == 7.0
    source = _ok(client.get(_path(built, "source"), headers=max_))
    assert source["actor"] == f"source:{source_id}"
    assert source["description"] == "SQL on 'warehouse'"
    assert source["definition"]["connection"] == "warehouse"
    assert "postgresql" not in str(source)
    assert (source["health"]["health"], source["health"]["last_value"]) == ("ok", 7.0)
    assert _history_actors(client, world, built).count(f"source:{source_id}") == 2


def test_only_the_owner_or_an_admin_attaches_or_syncs_a_source(
    client: Any, world: World, signups: Any
) -> None:
    built = objective_in(world, "platform", "approved")
    # The manager above the owning team, another team's member, an auditor:
    for who in ("ceo", "sue", "auditor"):
        _problem(client.put(_path(built, "source"), json=_sql(), headers=world[who].headers), 403)
    # The owning team's members (its manager included) and an admin:
    for who in ("max", "mia", "admin"):
        _ok(client.put(_path(built, "source"), json=_sql(), headers=world[who].headers))
    for who in ("ceo", "sue"):
        _problem(client.post(_path(built, "sync"), headers=world[who].headers), 403)
    _ok(client.post(_path(built, "sync"), headers=world["admin"].headers))


@pytest.mark.parametrize(
    ("body", "rule", "field"),
    [
        (_sql(connection="nowhere"), "connection_unknown", "connection"),
        (_sql(connection="postgresql://x"), "name_invalid", "connection"),
        (
            {
                "kind": "http_json",
                "url": "https://metrics.example/n",
                "expression": "data[?",
                "reason": "r",
            },
            "expression_invalid",
            "expression",
        ),
        (
            {
                "kind": "http_json",
                "url": "https://metrics.example/n",
                "headers": {"Authorization": "no_such_secret"},
                "expression": "n",
                "reason": "r",
            },
            "secret_unknown",
            "headers.Authorization",
        ),
        (
            {"kind": "csv", "url": "ftp://files.example/n.csv", "column": "n", "reason": "r"},
            "url_invalid",
            "url",
        ),
        (
            {"kind": "csv", "url": "https://files.example/n.csv", "reason": "r"},
            "text_required",
            "column",
        ),
        (
            _sql(schedule={"every": "day", "at": "7am", "time_zone": "UTC"}),
            "schedule_at_invalid",
            "schedule.at",
        ),
        (
            _sql(schedule={"every": "day", "at": "07:00", "time_zone": "Atlantis/Capital"}),
            "time_zone_unknown",
            "schedule.time_zone",
        ),
    ],
)
def test_a_bad_definition_is_a_422_naming_field_and_rule(
    client: Any, world: World, body: dict[str, Any], rule: str, field: str
) -> None:
    built = objective_in(world, "platform", "approved")
    _problem(
        client.put(_path(built, "source"), json=body, headers=world["max"].headers),
        422,
        rule,
        field,
    )


def test_a_failing_source_is_a_502_its_health_shows_on_the_key_result_and_in_stale(
    client: Any, world: World, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/n").respond_with_data("down", status=500)
    built = objective_in(world, "platform", "approved")
    max_ = world["max"].headers
    body = {"kind": "http_json", "url": httpserver.url_for("/n"), "expression": "n", "reason": "r"}
    _ok(client.put(_path(built, "source"), json=body, headers=max_))
    problem = _problem(client.post(_path(built, "sync"), headers=max_), 502, "source_http_status")
    assert "HTTP 500" in problem["detail"]
    health = _ok(client.get(_path(built, "source"), headers=max_))["health"]
    assert (health["health"], health["last_rule"], health["failures"]) == (
        "failing",
        "source_http_status",
        1,
    )
    stale = _ok(client.get(f"{API}/stale", headers=max_))
    (failing,) = stale["failing_sources"]
    assert (failing["key_result_id"], failing["rule"]) == (
        str(built.key_result_id),
        "source_http_status",
    )
    _ok(client.post(_path(built, "source/detach"), json={"reason": "fixed"}, headers=max_))
    assert _ok(client.get(f"{API}/stale", headers=max_))["failing_sources"] == []


def test_detaching_stops_following(client: Any, world: World, signups: Any) -> None:
    built = objective_in(world, "platform", "approved")
    max_ = world["max"].headers
    _ok(client.put(_path(built, "source"), json=_sql(), headers=max_))
    _problem(
        client.post(_path(built, "source/detach"), json={}, headers=max_), 422, "missing", "reason"
    )
    _ok(client.post(_path(built, "source/detach"), json={"reason": "moved"}, headers=max_))
    _problem(client.get(_path(built, "source"), headers=max_), 404, "no_source")
    _problem(client.post(_path(built, "sync"), headers=max_), 409, "no_source")
    _problem(
        client.post(_path(built, "source/detach"), json={"reason": "again"}, headers=max_),
        409,
        "no_source",
    )


def test_a_draft_takes_no_fetched_value_a_409_names_the_rule(
    client: Any, world: World, signups: Any
) -> None:
    built = objective_in(world, "platform", "draft")
    max_ = world["max"].headers
    _ok(client.put(_path(built, "source"), json=_sql(), headers=max_))
    _problem(client.post(_path(built, "sync"), headers=max_), 409)
    assert _ok(client.get(_path(built, "source"), headers=max_))["health"]["health"] == "waiting"


def test_the_scheduler_moves_a_key_result_by_itself(
    ledger: OkrLedger, client: Any, world: World, signups: Any, source_settings: Settings
) -> None:
    built = objective_in(world, "platform", "approved")
    max_ = world["max"].headers
    _ok(client.put(_path(built, "source"), json=_sql(), headers=max_))
    scheduler = SourceScheduler(source_sync_of(ledger, source_settings), interval=0.2)
    scheduler.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            current = ledger.get_objective(built.objective_id).key_results[built.key_result_id]
            if current.current is not None:
                break
            time.sleep(0.1)
    finally:
        scheduler.stop()
    assert current.current is not None, "the scheduler wrote no check-in"
    assert (current.current.value, current.current.actor.startswith("source:")) == (4.0, True)
    assert not scheduler._thread.is_alive()


# ------------------------------------------------------------- the authorization matrix

SOURCE_CASES = [
    ("PUT", "source", _sql()),
    ("POST", "source/detach", {"reason": "moved"}),
    ("POST", "sync", None),
]
"""The data-source writes (counted by tests/api/test_authorization_matrix.py)."""
CALLERS = {"admin": "admin", "auditor": "auditor", "manager": "mia", "member": "max"}


@pytest.mark.parametrize(("method", "tail", "body"), SOURCE_CASES)
def test_every_role_on_its_own_and_another_team(
    client: Any, world: World, signups: Any, method: str, tail: str, body: Any
) -> None:
    """The owning team's members (its manager too) and admins anywhere; nobody else."""
    for name in ("admin", "auditor"):
        world.ledger.add_team_member(
            world.teams["platform"],
            world[name].person_id,
            MemberRole.MEMBER,
            CommandContext.system(),
        )
    for team in ("platform", "sales"):
        for role, name in CALLERS.items():
            built = objective_in(world, team, "approved")
            if tail != "source":
                _ok(client.put(_path(built, "source"), json=_sql(), headers=world["admin"].headers))
            response = client.request(
                method, _path(built, tail), json=body, headers=world[name].headers
            )
            allowed = role == "admin" or (role in ("manager", "member") and team == "platform")
            if allowed:
                assert 200 <= response.status_code < 300, (role, team, response.text)
            else:
                _problem(response, 403, "not_allowed")


# ---------------------------------------------------------------------------- KPIs

KPI_SOURCE_CASES = [
    ("PUT", "source", _sql()),
    ("POST", "source/detach", {"reason": "moved"}),
    ("POST", "sync", None),
]
SOURCE_WRITES = SOURCE_CASES + KPI_SOURCE_CASES
"""Every data-source write (tests/api/test_authorization_matrix.py counts them)."""


def test_a_kpi_is_measured_from_a_source_each_day(client: Any, world: World, signups: Any) -> None:
    kpi = _kpi(client, world)
    max_ = world["max"].headers
    source_id = _ok(client.put(f"{API}/kpis/{kpi}/source", json=_sql(), headers=max_))["source_id"]
    first = _ok(client.post(f"{API}/kpis/{kpi}/sync", headers=max_))
    assert (first["value"], first["written"]) == (4.0, True)
    assert _ok(client.post(f"{API}/kpis/{kpi}/sync", headers=max_))["written"] is False
    signups.execute("INSERT INTO signups VALUES (5)")
    corrected = _ok(client.post(f"{API}/kpis/{kpi}/sync", headers=max_))
    assert (corrected["value"], corrected["written"]) == (9.0, True)
    kpi_aggregate = world.ledger.get_kpi(UUID(kpi))
    (latest,) = kpi_aggregate.live_measurements
    assert (latest.value, latest.actor, latest.reason) == (
        9.0,
        f"source:{source_id}",
        "fetched again from its data source",
    )
    source = _ok(client.get(f"{API}/kpis/{kpi}/source", headers=world["sue"].headers))
    assert (source["health"]["health"], source["health"]["last_value"]) == ("ok", 9.0)


@pytest.mark.parametrize(("method", "tail", "body"), KPI_SOURCE_CASES)
def test_only_the_kpis_owner_or_an_admin_acts_on_its_source(
    client: Any, world: World, signups: Any, method: str, tail: str, body: Any
) -> None:
    for role, name in CALLERS.items():
        kpi = _kpi(client, world)
        if tail != "source":
            _ok(client.put(f"{API}/kpis/{kpi}/source", json=_sql(), headers=world["admin"].headers))
        response = client.request(
            method, f"{API}/kpis/{kpi}/{tail}", json=body, headers=world[name].headers
        )
        if role in ("admin", "member"):  # max owns the KPI
            assert 200 <= response.status_code < 300, (role, response.text)
        else:
            _problem(response, 403, "not_allowed")

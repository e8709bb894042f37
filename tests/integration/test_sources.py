"""Key results that update themselves, against real parts: the test session's PostgreSQL as the
SQL source (a table the test fills and changes), pytest-httpserver as the HTTP JSON and CSV
source, and a controllable clock for the schedule."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from domain.application import OkrLedger
from domain.base import CommandContext
from domain.objective import Objective
from domain.team import MemberRole
from infra.settings import Settings
from infra.sources.sync import Health, SourceSync
from tests.clock import Clock
from tests.steps import draft, kpi, metric
from tests.threads import run_together

pytestmark = pytest.mark.postgres

START = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)


@dataclass
class Following:
    ledger: OkrLedger
    objective_id: UUID
    key_result_id: UUID
    database_url: str
    owner: CommandContext

    def attach(self, **definition: Any) -> UUID:
        result = self.ledger.attach_source(
            self.objective_id, self.key_result_id, definition, "the number lives there", self.owner
        )
        assert result.extra_id is not None
        return result.extra_id

    def check_ins(self) -> list[Objective.ProgressReported]:
        return [
            e
            for e in self.ledger.repository.event_store.get(self.objective_id)
            if isinstance(e, Objective.ProgressReported)
        ]

    def value(self) -> float | None:
        current = (
            self.ledger.get_objective(self.objective_id).key_results[self.key_result_id].current
        )
        return current.value if current else None

    def sql(self, statement: str) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute(statement.encode())


@pytest.fixture
def following(es_env: dict[str, str], database_url: str) -> Iterator[Following]:
    """An approved objective of Alice's team with one metric key result (100 → 200), in a
    cycle that runs from a month ago to two months from now, started."""
    ledger = OkrLedger(env=es_env)
    try:
        admin = CommandContext.system()
        alice = ledger.register_person("Alice", "alice@acme.example", admin).id
        bob = ledger.register_person("Bob", "bob@acme.example", admin).id
        team = ledger.form_team("Platform", admin).id
        ledger.add_team_member(team, alice, MemberRole.MEMBER, admin)
        ledger.add_team_member(team, bob, MemberRole.MANAGER, admin)
        today = date.today()
        cycle = ledger.plan_cycle(
            "This quarter", today - timedelta(days=30), today + timedelta(days=60), admin
        ).id
        as_alice = CommandContext(actor=str(alice))
        objective_id = draft(ledger, as_alice, cycle, "Delight new customers", owner_team_id=team)
        key_result_id = metric(ledger, as_alice, objective_id, "Weekly sign-ups", 100, 200)
        ledger.submit_objective(objective_id, bob, as_alice)
        ledger.approve_objective(objective_id, CommandContext(actor=str(bob)))
        ledger.start_cycle(cycle, admin)
        yield Following(ledger, objective_id, key_result_id, database_url, as_alice)
    finally:
        ledger.close()


def settings_for(following: Following, **kw: Any) -> Settings:
    return Settings(
        source_connections=SecretStr(f"warehouse={following.database_url}"),
        source_secrets=SecretStr("metrics_token=Bearer s3cret;other=x"),
        source_timeout_seconds=kw.pop("timeout", 2.0),
        source_allow_private=kw.pop("allow_private", True),
        **kw,
    )


def test_a_key_result_follows_a_sql_query_and_moves_by_itself(following: Following) -> None:
    following.sql("CREATE TABLE signups (n integer); INSERT INTO signups VALUES (120)")
    source_id = following.attach(
        kind="sql", connection="warehouse", query="SELECT sum(n) FROM signups", confidence=7
    )
    clock = Clock(START)
    sync = SourceSync(following.ledger, settings_for(following), clock)

    assert [o.health for o in sync.sync_due()] == [Health.OK]
    (first,) = following.check_ins()
    assert (first.value, first.confidence, first.actor) == (120.0, 7, f"source:{source_id}")
    assert first.provenance is not None
    assert first.provenance["source_id"] == str(source_id)
    assert first.provenance["source"] == "SQL on 'warehouse'"
    assert first.provenance["fetched_at"] == START.isoformat()
    assert len(first.provenance["sha256"]) == 64

    following.sql("INSERT INTO signups VALUES (30)")
    assert sync.sync_due() == []  # not due again within the hour
    clock.advance(hours=1)
    assert [o.value for o in sync.sync_due()] == [150.0]
    assert following.value() == 150.0

    clock.advance(hours=1)
    (unchanged,) = sync.sync_due()
    assert (unchanged.health, unchanged.result) == (Health.OK, None)
    assert len(following.check_ins()) == 2, "an unchanged value writes nothing"
    state = sync.states([source_id])[source_id]
    assert (state.health, state.last_value, state.last_attempt_at) == (
        Health.OK,
        150.0,
        clock.now,
    )


def test_a_daily_source_syncs_once_a_day_after_its_local_time(following: Following) -> None:
    following.sql("CREATE TABLE revenue (eur numeric); INSERT INTO revenue VALUES (101.5)")
    following.attach(
        kind="sql",
        connection="warehouse",
        query="SELECT eur FROM revenue",
        schedule={"every": "day", "at": "06:00", "time_zone": "America/New_York"},
    )
    clock = Clock(START)  # 09:15 UTC is 04:15 in New York
    sync = SourceSync(following.ledger, settings_for(following), clock)
    assert len(sync.sync_due()) == 1  # never fetched: at once
    following.sql("UPDATE revenue SET eur = 140")
    clock.advance(hours=5)  # 09:15 in New York, but 06:00 passed at 11:00 UTC only
    clock.now = datetime(2026, 3, 2, 10, 59, tzinfo=UTC)
    assert sync.sync_due() == []
    clock.now = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    assert [o.value for o in sync.sync_due()] == [140.0]
    clock.advance(hours=20)
    assert sync.sync_due() == []


@pytest.mark.parametrize(
    ("query", "rule"),
    [
        ("SELECT pg_sleep(3)", "source_timeout"),
        ("SELECT n FROM no_such_table", "source_sql_error"),
        ("SELECT 'many'", "source_not_a_number"),
        ("SELECT NULL", "source_not_a_number"),
        ("SELECT 1, 2", "source_not_one_number"),
        ("SELECT * FROM generate_series(1, 3)", "source_not_one_number"),
        ("CREATE TABLE sneaky (n int)", "source_sql_error"),  # read-only transaction
    ],
)
def test_a_failing_query_shows_its_health_and_writes_nothing(
    following: Following, query: str, rule: str
) -> None:
    source_id = following.attach(kind="sql", connection="warehouse", query=query)
    sync = SourceSync(following.ledger, settings_for(following, timeout=0.5), Clock(START))
    (outcome,) = sync.sync_due()
    assert (outcome.health, outcome.rule) == (Health.FAILING, rule), outcome
    assert following.check_ins() == []
    state = sync.states([source_id])[source_id]
    assert (state.health, state.last_rule, state.failures) == (Health.FAILING, rule, 1)
    assert state.failing_since == START
    assert [s.source_id for s in sync.failing()] == [source_id]
    assert "postgresql://" not in (state.last_error or "")


def test_an_http_json_source_sends_its_named_secret_and_picks_with_jmespath(
    following: Following, httpserver: HTTPServer
) -> None:
    httpserver.expect_request(
        "/metrics", headers={"Authorization": "Bearer s3cret"}
    ).respond_with_json({"data": {"signups": [{"week": 1, "n": 40}, {"week": 2, "n": "175"}]}})
    following.attach(
        kind="http_json",
        url=httpserver.url_for("/metrics"),
        headers={"Authorization": "metrics_token"},
        expression="data.signups[-1].n",
    )
    sync = SourceSync(following.ledger, settings_for(following), Clock(START))
    (outcome,) = sync.sync_due()
    assert (outcome.health, outcome.value) == (Health.OK, 175.0), outcome
    assert following.value() == 175.0


def test_a_csv_source_takes_the_last_row_matching_its_filter(
    following: Following, httpserver: HTTPServer
) -> None:
    body = "\ufeffteam;week;nps\nplatform;1;31\nsales;1;12\nplatform;2;38,5\nplatform;3;44\nsales;3;9\n"
    httpserver.expect_request("/nps.csv").respond_with_data(body, content_type="text/csv")
    following.attach(
        kind="csv", url=httpserver.url_for("/nps.csv"), column="nps", filter={"team": "platform"}
    )
    sync = SourceSync(following.ledger, settings_for(following), Clock(START))
    (outcome,) = sync.sync_due()
    assert (outcome.health, outcome.value) == (Health.OK, 44.0), outcome


@pytest.mark.parametrize(
    ("respond", "expression", "rule"),
    [
        (lambda r: r.respond_with_data("boom", status=500), "n", "source_http_status"),
        (lambda r: r.respond_with_data("<html>", status=200), "n", "source_not_json"),
        (lambda r: r.respond_with_json({"n": "lots"}), "n", "source_not_a_number"),
        (lambda r: r.respond_with_json({"n": True}), "n", "source_not_a_number"),
        (lambda r: r.respond_with_json({"m": 1}), "n", "source_not_a_number"),
        (
            lambda r: r.respond_with_handler(lambda _: (time.sleep(2), Response("{}"))[1]),
            "n",
            "source_timeout",
        ),
    ],
)
def test_a_failing_endpoint_shows_its_health_and_writes_nothing(
    following: Following, httpserver: HTTPServer, respond: Any, expression: str, rule: str
) -> None:
    respond(httpserver.expect_request("/n"))
    source_id = following.attach(
        kind="http_json", url=httpserver.url_for("/n"), expression=expression
    )
    sync = SourceSync(following.ledger, settings_for(following, timeout=0.5), Clock(START))
    (outcome,) = sync.sync_due()
    assert (outcome.health, outcome.rule) == (Health.FAILING, rule), outcome
    assert following.check_ins() == []
    assert sync.states([source_id])[source_id].health == Health.FAILING


def test_a_source_reaches_no_private_address_unless_allowed(
    following: Following, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/n").respond_with_json({"n": 1})
    following.attach(kind="http_json", url=httpserver.url_for("/n"), expression="n")
    sync = SourceSync(following.ledger, settings_for(following, allow_private=False), Clock(START))
    (outcome,) = sync.sync_due()
    assert (outcome.health, outcome.rule) == (Health.FAILING, "source_private_address")
    assert httpserver.log == []


def test_a_source_that_recovers_is_healthy_again(
    following: Following, httpserver: HTTPServer
) -> None:
    answers = iter([Response("down", status=503), Response('{"n": 160}')])
    httpserver.expect_request("/n").respond_with_handler(lambda _: next(answers))
    source_id = following.attach(kind="http_json", url=httpserver.url_for("/n"), expression="n")
    clock = Clock(START)
    sync = SourceSync(following.ledger, settings_for(following), clock)
    assert [o.health for o in sync.sync_due()] == [Health.FAILING]
    clock.advance(hours=1)
    assert [o.health for o in sync.sync_due()] == [Health.OK]
    state = sync.states([source_id])[source_id]
    assert (state.health, state.failures, state.failing_since, state.last_rule) == (
        Health.OK,
        0,
        None,
        None,
    )


def test_a_draft_objective_waits_and_the_scheduler_skips_it(
    following: Following, httpserver: HTTPServer
) -> None:
    org_objective = following.ledger.get_objective(following.objective_id)
    drafted = draft(
        following.ledger,
        following.owner,
        org_objective.cycle_id,
        "Grow the community",
        org_objective.kind,
        owner_team_id=org_objective.owner_team_id,
    )
    kr = metric(following.ledger, following.owner, drafted, "Members", 0, 10)
    httpserver.expect_request("/n").respond_with_json({"n": 4})
    following.ledger.attach_source(
        drafted,
        kr,
        {"kind": "http_json", "url": httpserver.url_for("/n"), "expression": "n"},
        "counted there",
        following.owner,
    )
    sync = SourceSync(following.ledger, settings_for(following), Clock(START))
    assert sync.sync_due() == []
    now = sync.sync_now(drafted, kr)
    assert (now.health, now.rule) == (Health.WAITING, "not_approved")


def test_two_processes_never_write_the_same_value_twice(
    following: Following, httpserver: HTTPServer, es_env: dict[str, str]
) -> None:
    def slow(_: Request) -> Response:
        time.sleep(0.4)  # both processes are inside a sync at the same time
        return Response('{"n": 130}', content_type="application/json")

    httpserver.expect_request("/n").respond_with_handler(slow)
    following.attach(kind="http_json", url=httpserver.url_for("/n"), expression="n")
    other = OkrLedger(env=es_env)
    try:
        syncs = [
            SourceSync(following.ledger, settings_for(following), Clock(START)),
            SourceSync(other, settings_for(following), Clock(START)),
        ]
        results: list[Any] = []
        start = threading.Barrier(4)

        def scheduled(sync: SourceSync) -> None:
            start.wait()
            results.append(sync.sync_due())

        def on_demand(sync: SourceSync) -> None:
            start.wait()
            results.append([sync.sync_now(following.objective_id, following.key_result_id)])

        threads = [threading.Thread(target=scheduled, args=(s,)) for s in syncs] + [
            threading.Thread(target=on_demand, args=(s,)) for s in syncs
        ]
        run_together(threads, 30)
    finally:
        other.close()
    assert len(following.check_ins()) == 1, "one check-in, whoever fetched"
    written = [o for batch in results for o in batch if o.result is not None]
    assert len(written) == 1
    assert len(httpserver.log) <= 3, "a scheduled sync skips a source another one holds"


def test_the_scheduler_measures_a_kpi_and_skips_a_retired_one(following: Following) -> None:
    following.sql("CREATE TABLE nps (score numeric); INSERT INTO nps VALUES (41)")
    ledger = following.ledger
    owner = UUID(following.owner.actor)
    kpi_id = kpi(ledger, following.owner, "Net Promoter Score", "pts", "increase", owner, (40, 30))
    ledger.attach_kpi_source(
        kpi_id,
        {"kind": "sql", "connection": "warehouse", "query": "SELECT score FROM nps"},
        "the survey lands there",
        following.owner,
    )
    clock = Clock(START)
    sync = SourceSync(ledger, settings_for(following), clock)
    assert [(o.health, o.value) for o in sync.sync_due()] == [(Health.OK, 41.0)]
    (measured,) = ledger.get_kpi(kpi_id).live_measurements
    assert (measured.value, measured.actor) == (41.0, f"source:{ledger.get_kpi(kpi_id).source_id}")
    ledger.retire_kpi(kpi_id, "replaced", following.owner)
    clock.advance(hours=1)
    assert sync.sync_due() == []


def test_the_scheduler_finds_a_source_attached_after_its_first_round(
    following: Following,
) -> None:
    following.sql("CREATE TABLE signups (n integer); INSERT INTO signups VALUES (133)")
    sync = SourceSync(following.ledger, settings_for(following), Clock(START))
    assert sync.sync_due() == []  # idle: no source yet
    source_id = following.attach(kind="sql", connection="warehouse", query="SELECT n FROM signups")
    assert [(o.source_id, o.value) for o in sync.sync_due()] == [(source_id, 133.0)]
    following.ledger.detach_source(
        following.objective_id, following.key_result_id, "moved", following.owner
    )
    assert sync.followed() == []

"""`GET /metrics` on a real server: the request counters move by exactly the requests made, the
store's gauges say what /ready says, the last chain verification is reported, the metrics token
is required when set, and a database that is away does not fail the scrape."""

from __future__ import annotations

import time
import warnings
from typing import Any
from uuid import uuid4

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from psycopg.sql import SQL, Identifier

from domain.application import OkrLedger
from infra.audit.verify import start_periodic_verification
from infra.readmodels import ReadModels
from infra.settings import Settings
from tests.api.conftest import API, World, make_app

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(base: str, **headers: str) -> Samples:
    answer = httpx.get(f"{base}/metrics", headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def moved(before: Samples, after: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """How much each series of `name` grew between two scrapes (series that did not move left
    out)."""
    grown = {
        labels: value - before.get((metric, labels), 0.0)
        for (metric, labels), value in after.items()
        if metric == name
    }
    return {labels: delta for labels, delta in grown.items() if delta}


@pytest.fixture
def app(request: pytest.FixtureRequest, ledger: OkrLedger, readmodels: ReadModels) -> Any:
    """The app `live_server` serves, built with the settings a test passes (indirect)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_app(ledger, readmodels, getattr(request, "param", None))


def with_settings(**values: Any) -> Any:
    return pytest.mark.parametrize("app", [Settings(**values)], indirect=True, ids=["settings"])


def labels(**given: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(given.items()))


def test_the_request_counters_move_by_exactly_the_requests_made(
    live_server: str, world: World
) -> None:
    admin = world["admin"].headers
    before = scrape(live_server)
    person = f"{API}/people/{{person_id}}"
    with httpx.Client(base_url=live_server, headers=admin) as client:
        assert client.get(f"{API}/people").status_code == 200
        assert client.get(f"{API}/people").status_code == 200
        assert client.get(f"{API}/people/{world['max'].person_id}").status_code == 200
        assert client.get(f"{API}/people/{uuid4()}").status_code == 404
        assert client.get(f"{API}/no-such-thing/{uuid4()}").status_code == 404
        assert client.post(f"{API}/people", json={"name": "a\x00b"}).status_code == 422
        assert client.delete(f"{API}/people").status_code == 405
        assert client.request("PROPFIND", f"{API}/people").status_code == 405
    after = scrape(live_server)

    assert moved(before, after, "okr_http_requests_total") == {
        labels(method="GET", route=f"{API}/people", status_class="2xx"): 2,
        labels(method="GET", route=person, status_class="2xx"): 1,
        labels(method="GET", route=person, status_class="4xx"): 1,
        labels(method="GET", route="unmatched", status_class="4xx"): 1,
        labels(method="POST", route=f"{API}/people", status_class="4xx"): 1,
        labels(method="DELETE", route=f"{API}/people", status_class="4xx"): 1,
        labels(method="other", route=f"{API}/people", status_class="4xx"): 1,
        labels(method="GET", route="/metrics", status_class="2xx"): 1,  # the first scrape
    }
    assert moved(before, after, "okr_http_error_responses_total") == {
        labels(status="404"): 2,
        labels(status="405"): 2,
        labels(status="422"): 1,
    }
    assert moved(before, after, "okr_http_request_duration_seconds_count") == {
        labels(method="GET", route=f"{API}/people"): 2,
        labels(method="GET", route=person): 2,
        labels(method="GET", route="unmatched"): 1,
        labels(method="POST", route=f"{API}/people"): 1,
        labels(method="DELETE", route=f"{API}/people"): 1,
        labels(method="other", route=f"{API}/people"): 1,
        labels(method="GET", route="/metrics"): 1,
    }
    durations = moved(before, after, "okr_http_request_duration_seconds_sum")
    assert all(0 < seconds < 10 for seconds in durations.values())
    # process metrics come along
    assert after[("process_resident_memory_bytes", ())] > 0


def test_the_store_gauges_say_what_ready_says(live_server: str, world: World) -> None:
    ready = httpx.get(f"{live_server}{API}/ready").json()
    deadline = time.monotonic() + 10
    while ready["lag"] != 0:  # the views catch up with the world just built
        assert time.monotonic() < deadline, ready
        time.sleep(0.05)
        ready = httpx.get(f"{live_server}{API}/ready").json()
    samples = scrape(live_server)
    head = world.ledger.recorder.max_notification_id()
    assert samples[("okr_database_up", ())] == 1
    assert samples[("okr_log_head_position", ())] == ready["log_position"] == head
    assert samples[("okr_projections_position", ())] == ready["projections_position"] == head
    assert samples[("okr_projections_lag_events", ())] == ready["lag"] == 0
    assert samples[("okr_chain_head_position", ())] == head
    assert abs(samples[("okr_chain_head_committed_timestamp_seconds", ())] - time.time()) < 600
    assert ("okr_relay_lag_events", ()) not in samples  # no Kafka configured


def test_the_last_chain_verification_is_reported(live_server: str, world: World) -> None:
    before = scrape(live_server)
    began = time.time()
    answer = httpx.get(f"{live_server}{API}/audit/verify", headers=world["auditor"].headers)
    assert answer.status_code == 200 and answer.json()["ok"] is True, answer.text
    after = scrape(live_server)
    assert moved(before, after, "okr_chain_verifications_total") == {labels(result="ok"): 1}
    assert after[("okr_chain_verification_last_ok", ())] == 1
    assert began <= after[("okr_chain_verification_last_timestamp_seconds", ())] <= time.time()
    assert (
        after[("okr_chain_verification_last_head_position", ())]
        == world.ledger.recorder.max_notification_id()
    )


@with_settings(metrics_token="s3cret-metrics-token")
def test_the_metrics_token_is_required_when_set(live_server: str) -> None:
    refused = httpx.get(f"{live_server}/metrics")
    assert refused.status_code == 401
    assert refused.json()["rule"] == "token_invalid"
    wrong = httpx.get(f"{live_server}/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    samples = scrape(live_server, Authorization="Bearer s3cret-metrics-token")
    assert samples[("okr_database_up", ())] == 1


@with_settings(metrics_scrape_timeout_seconds=1.0)
def test_a_database_that_is_away_does_not_fail_the_scrape(
    live_server: str, _postgres_server: Any, es_env: dict[str, str]
) -> None:
    database = es_env["POSTGRES_DBNAME"]
    assert scrape(live_server)[("okr_database_up", ())] == 1
    with _postgres_server.admin() as conn:
        conn.execute(SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(Identifier(database)))
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (database,),
        )
    try:
        began = time.monotonic()
        samples = scrape(live_server)
        assert time.monotonic() - began < 5
        assert samples[("okr_database_up", ())] == 0
        assert ("okr_log_head_position", ()) not in samples
        assert any(name == "okr_http_requests_total" for name, _ in samples)
    finally:
        with _postgres_server.admin() as conn:
            conn.execute(
                SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(Identifier(database))
            )
    deadline = time.monotonic() + 60
    while scrape(live_server)[("okr_database_up", ())] != 1:
        assert time.monotonic() < deadline, "the figures did not come back"
        time.sleep(0.5)


def test_okr_serve_can_verify_the_chain_on_its_own(live_server: str, world: World) -> None:
    assert start_periodic_verification(world.ledger, Settings()) is None  # off by default
    before = scrape(live_server)
    began = time.time()
    verifier = start_periodic_verification(
        world.ledger, Settings(audit_verify_interval_seconds=0.2)
    )
    assert verifier is not None
    try:
        deadline = time.monotonic() + 20
        while (
            moved(before, scrape(live_server), "okr_chain_verifications_total").get(
                labels(result="ok"), 0
            )
            < 2
        ):
            assert time.monotonic() < deadline, "no periodic verification ran"
            time.sleep(0.1)
    finally:
        verifier.stop()
    after = scrape(live_server)
    assert after[("okr_chain_verification_last_ok", ())] == 1
    assert after[("okr_chain_verification_last_timestamp_seconds", ())] >= began


@with_settings(kafka_bootstrap="127.0.0.1:9")
def test_the_relay_lag_is_what_ready_reports(live_server: str, world: World) -> None:
    """With Kafka configured, the lags are read from PostgreSQL only (no broker is asked), as
    /ready reads them: no relay ran here, so every event is unpublished."""
    kafka = httpx.get(f"{live_server}{API}/ready").json()["kafka"]
    samples = scrape(live_server)
    events = world.ledger.recorder.max_notification_id()
    assert kafka["relay"]["lag"] == samples[("okr_relay_lag_events", ())] == events
    assert kafka["relay"]["position"] == samples[("okr_relay_position", ())] == 0
    assert samples[("okr_relay_active", ())] == int(kafka["relay"]["active"]) == 0
    assert kafka["workers"]["unapplied"] is None
    assert ("okr_workers_unapplied_events", ()) not in samples  # no worker ever ran

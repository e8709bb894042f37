"""A key whose command committed but whose answer was never stored (the server died in between)
gets the answer rebuilt from what the command wrote: byte for byte the one the handler sent."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from api import schemas
from api.idempotency import LOCATIONS, IdempotentRoute
from tests.api.conftest import API, World, kpi_body, objective_in

Request = tuple[str, str, dict[str, Any]]
"""(actor, path, body)"""


def _last_week() -> str:
    year, week, _ = (date.today() - timedelta(days=7)).isocalendar()
    return f"{year}-W{week:02d}"


def _kpi(client: Any, world: World, north_star: bool = False) -> str:
    body = kpi_body(
        f"Weekly active users {north_star}",
        owner_person_id=str(world["max"].person_id),
        north_star=north_star,
    )
    created = client.post(f"{API}/kpis", json=body, headers=world["mia"].headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _team(client: Any, world: World) -> Request:
    return "admin", "/teams", {"name": "Data"}


def _person(client: Any, world: World) -> Request:
    return "admin", "/people", {"name": "Ann", "email": "ann@acme.example"}


def _cycle(client: Any, world: World) -> Request:
    today = date.today()
    return (
        "admin",
        "/cycles",
        {
            "name": "Later",
            "starts_on": str(today + timedelta(days=200)),
            "ends_on": str(today + timedelta(days=290)),
            "cadence": "weekly",
            "scoring": "scale",
        },
    )


def _objective(client: Any, world: World) -> Request:
    body = {
        "cycle_id": str(world.cycle_id),
        "owner_person_id": str(world["max"].person_id),
        "title": "Faster builds",
        "kind": "committed",
    }
    return "max", "/objectives", body


def _key_result(client: Any, world: World) -> Request:
    built = objective_in(world, "platform", "draft")
    body = {"title": "Build minutes", "measure": "metric", "baseline": 5, "target": 10}
    return "max", f"/objectives/{built.objective_id}/key-results", body


def _check_in(client: Any, world: World) -> Request:
    built = objective_in(world, "platform", "approved")
    path = f"/objectives/{built.objective_id}/key-results/{built.key_result_id}/check-ins"
    return "max", path, {"value": 3, "confidence": 6}


def _carry_over(client: Any, world: World) -> Request:
    """Two aggregates in one write: the successor (answered) and the original."""
    built = objective_in(world, "platform", "approved")
    path = f"/objectives/{built.objective_id}/carry-over"
    return "max", path, {"to_cycle_id": str(world.next_cycle_id)}


def _north_star_kpi(client: Any, world: World) -> Request:
    """Two aggregates in one write: the KPI (answered) and the strategy."""
    return "mia", "/kpis", kpi_body("Revenue", "EUR", north_star=True)


def _measurement(client: Any, world: World) -> Request:
    kpi = _kpi(client, world)
    return "max", f"/kpis/{kpi}/measurements", {"value": 4, "period": _last_week()}


def _initiative(client: Any, world: World) -> Request:
    built = objective_in(world, "platform", "approved")
    return "max", "/initiatives", {"title": "Drills", "key_result_ids": [str(built.key_result_id)]}


def _start_cycle(client: Any, world: World) -> Request:
    return "admin", f"/cycles/{world.cycle_id}/start", {}


@pytest.mark.parametrize(
    "arrange",
    [
        _team,
        _person,
        _cycle,
        _objective,
        _key_result,
        _check_in,
        _carry_over,
        _north_star_kpi,
        _measurement,
        _initiative,
        _start_cycle,
    ],
)
def test_a_written_key_answers_exactly_what_the_handler_answered(
    client: Any, world: World, arrange: Callable[[Any, World], Request]
) -> None:
    actor, path, body = arrange(client, world)
    headers = {**world[actor].headers, "Idempotency-Key": f"rebuild-{path}"}
    first = client.post(f"{API}{path}", json=body, headers=headers)
    assert 200 <= first.status_code < 300, first.text
    written = int(world.ledger.recorder.max_notification_id() or 0)
    # What a server that died between the commit and storing the answer leaves behind.
    datastore = world.ledger.recorder.datastore  # type: ignore[attr-defined]
    with datastore.get_connection() as conn:
        forgotten = conn.execute(
            "UPDATE okr_idempotency_keys SET state = 'written', status = NULL, body = NULL, "
            "content_type = NULL, headers = NULL WHERE key = %s AND state = 'done' "
            "AND result_id IS NOT NULL",
            (headers["Idempotency-Key"],),
        ).rowcount
    assert forgotten == 1

    rebuilt = client.post(f"{API}{path}", json=body, headers=headers)
    again = client.post(f"{API}{path}", json=body, headers=headers)
    for replay in (rebuilt, again):
        _same_answer(first, replay)
    assert int(world.ledger.recorder.max_notification_id() or 0) == written


def _same_answer(first: httpx.Response, replay: httpx.Response) -> None:
    assert replay.status_code == first.status_code
    assert replay.content == first.content
    assert replay.headers["content-type"] == first.headers["content-type"]
    for name in ("ETag", "Location"):
        assert replay.headers.get(name) == first.headers.get(name), name
    assert replay.headers["Idempotent-Replayed"] == "true"


def test_a_request_that_loses_its_key_to_another_commit_answers_with_that_write(
    live_server: str, world: World
) -> None:
    """The request took its key over and runs; before it commits, another request with the
    key commits (here: the key is marked written while the events table is locked). Its own
    write is rolled back and it answers with the other one's result."""
    admin = world["admin"].headers
    other = httpx.post(
        f"{live_server}{API}/teams", json={"name": "Other"}, headers=admin, timeout=30
    ).json()
    datastore = world.ledger.recorder.datastore  # type: ignore[attr-defined]
    before = int(world.ledger.recorder.max_notification_id() or 0)
    answers: list[httpx.Response] = []
    with datastore.get_connection() as blocker, blocker.transaction():
        blocker.execute("LOCK TABLE okrledger_events IN EXCLUSIVE MODE")
        sender = threading.Thread(
            target=lambda: answers.append(
                httpx.post(
                    f"{live_server}{API}/teams",
                    json={"name": "Raced"},
                    headers={**admin, "Idempotency-Key": "lost"},
                    timeout=30,
                )
            )
        )
        sender.start()
        with datastore.get_connection() as conn:
            deadline = time.monotonic() + 4
            while not conn.execute(
                "SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = 'okrledger_events' AND NOT l.granted"
            ).fetchone():
                assert time.monotonic() < deadline, "the write did not reach the table lock"
                time.sleep(0.02)
            marked = conn.execute(
                "UPDATE okr_idempotency_keys SET state = 'written', result_id = %s, "
                "result_version = %s, result_position = %s WHERE key = 'lost' "
                "AND state = 'pending'",
                (other["id"], other["version"], other["position"]),
            ).rowcount
            assert marked == 1
    sender.join(timeout=30)
    (answer,) = answers
    assert answer.status_code == 201, answer.text
    assert answer.json() == other
    assert answer.headers["Idempotent-Replayed"] == "true"
    assert answer.headers["Location"] == f"/api/v1/teams/{other['id']}"
    assert int(world.ledger.recorder.max_notification_id() or 0) == before


def test_every_keyed_post_that_writes_can_rebuild_its_answer(app: Any) -> None:
    """A POST route's answer is rebuilt from a CommandResult (plus at most one extra id);
    routes that answer anything else must write nothing."""
    writes_nothing = {"/lint/draft"}
    keyed = [
        route
        for route in _routes(app.router.routes)
        if isinstance(route, IdempotentRoute) and "POST" in route.methods
    ]
    assert len(keyed) > 30
    for route in keyed:
        path = route.path.removeprefix("/api/v1")
        model = route.response_model
        if path in writes_nothing:
            assert not issubclass(model, schemas.CommandResultOut), path
            continue
        assert issubclass(model, schemas.CommandResultOut), path
        extra = set(model.model_fields) - {"id", "version", "position"}
        assert len(extra) <= 1, path
        if path in LOCATIONS:
            assert route.status_code == 201, path


def _routes(routes: list[Any]) -> list[Any]:
    """The app's routes, through included routers (FastAPI keeps them as the router itself)."""
    found = []
    for route in routes:
        included = getattr(route, "original_router", None)
        found += [route] if included is None else _routes(included.routes)
    return found

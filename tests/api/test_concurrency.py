"""Concurrent writers over real HTTP: no update is lost, losers get 409 (or 412), never 500."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import httpx

from tests.api.conftest import API, World, objective_in
from tests.threads import run_together

WRITERS = 12


def _race(
    base_url: str, requests: list[tuple[str, dict[str, Any], dict[str, str]]]
) -> list[httpx.Response]:
    """Fire the requests at once from one thread each."""
    barrier = threading.Barrier(len(requests))
    responses: list[httpx.Response | None] = [None] * len(requests)

    def send(index: int) -> None:
        path, body, headers = requests[index]
        with httpx.Client(base_url=base_url, timeout=30) as http:
            barrier.wait()
            responses[index] = http.post(path, json=body, headers=headers)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    run_together(threads)
    assert all(r is not None for r in responses)
    return [r for r in responses if r is not None]


def test_parallel_check_ins_lose_nothing(live_server: str, world: World) -> None:
    built = objective_in(world, "platform", "approved")
    path = f"{API}/objectives/{built.objective_id}/key-results/{built.key_result_id}/check-ins"
    max_ = world["max"].headers
    responses = _race(
        live_server,
        [
            (path, {"value": i, "confidence": 5, "note": f"writer {i}"}, max_)
            for i in range(WRITERS)
        ],
    )
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    assert statuses[201] >= 1
    for rejected in (r for r in responses if r.status_code == 409):
        problem = rejected.json()
        assert problem["rule"] == "concurrent_write"
        assert isinstance(problem["current_version"], int)

    objective = httpx.get(
        f"{live_server}{API}/objectives/{built.objective_id}", headers=max_
    ).json()
    recorded = {c["check_in_id"]: c for c in objective["key_results"][0]["check_ins"]}
    accepted = [r.json() for r in responses if r.status_code == 201]
    assert len(recorded) == len(accepted)  # every winner, and nothing else
    for answer in accepted:
        assert answer["check_in_id"] in recorded
    versions = sorted(a["version"] for a in accepted)
    assert len(set(versions)) == len(versions), "two writes claimed the same version"


def test_parallel_writes_with_the_same_if_match_let_exactly_one_through(
    live_server: str, world: World
) -> None:
    built = objective_in(world, "platform", "approved")
    max_ = world["max"].headers
    version = httpx.get(
        f"{live_server}{API}/objectives/{built.objective_id}", headers=max_
    ).headers["ETag"]
    path = f"{API}/objectives/{built.objective_id}/key-results/{built.key_result_id}/check-ins"
    responses = _race(
        live_server,
        [
            (path, {"value": i, "confidence": 5}, {**max_, "If-Match": version})
            for i in range(WRITERS)
        ],
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses[201] == 1, statuses
    assert set(statuses) <= {201, 409, 412}, [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == 201).json()
    for loser in (r for r in responses if r.status_code != 201):
        assert loser.json()["current_version"] == winner["version"]


def test_parallel_admin_commands_on_one_team(live_server: str, world: World) -> None:
    """Renames race on a team; each accepted one is a distinct version."""
    team = world.teams["sales"]
    admin = world["admin"].headers
    barrier = threading.Barrier(WRITERS)
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def rename(i: int) -> None:
        with httpx.Client(base_url=live_server, timeout=30) as http:
            barrier.wait()
            response = http.patch(f"{API}/teams/{team}", json={"name": f"Sales {i}"}, headers=admin)
        with lock:
            results.append(response)

    threads = [threading.Thread(target=rename, args=(i,)) for i in range(WRITERS)]
    run_together(threads)
    statuses = Counter(r.status_code for r in results)
    assert set(statuses) <= {200, 409}, [r.text for r in results]
    versions = [r.json()["version"] for r in results if r.status_code == 200]
    assert len(set(versions)) == len(versions)
    current = httpx.get(f"{live_server}{API}/teams/{team}", headers=admin).json()
    assert current["version"] == max(versions)

"""`Idempotency-Key` on POST: the first answer again, and no second write."""

from __future__ import annotations

import threading
from typing import Any

import httpx

from tests.api.conftest import API, World, objective_in
from tests.threads import run_together


def _events(ledger: Any) -> int:
    return int(ledger.recorder.max_notification_id() or 0)


def test_a_repeated_key_replays_the_first_answer_and_writes_nothing(
    client: Any, world: World
) -> None:
    built = objective_in(world, "platform", "approved")
    path = f"{API}/objectives/{built.objective_id}/key-results/{built.key_result_id}/check-ins"
    headers = {**world["max"].headers, "Idempotency-Key": "check-in-monday"}
    first = client.post(path, json={"value": 3, "confidence": 6}, headers=headers)
    assert first.status_code == 201
    written = _events(world.ledger)

    again = client.post(path, json={"value": 3, "confidence": 6}, headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["ETag"] == first.headers["ETag"]
    assert _events(world.ledger) == written
    assert "Idempotent-Replayed" not in first.headers


def test_a_key_reused_for_another_request_is_refused(client: Any, world: World) -> None:
    built = objective_in(world, "platform", "approved")
    path = f"{API}/objectives/{built.objective_id}/key-results/{built.key_result_id}/check-ins"
    headers = {**world["max"].headers, "Idempotency-Key": "k1"}
    assert client.post(path, json={"value": 3, "confidence": 6}, headers=headers).status_code == 201
    written = _events(world.ledger)
    other = client.post(path, json={"value": 4, "confidence": 6}, headers=headers)
    assert other.status_code == 422
    assert other.json()["rule"] == "idempotency_key_reused"
    assert other.json()["field"] == "Idempotency-Key"
    assert _events(world.ledger) == written


def test_keys_are_scoped_to_the_caller(client: Any, world: World) -> None:
    """The same key from two people is two keys."""
    admin = world["admin"].headers
    first = client.post(
        f"{API}/teams", json={"name": "A"}, headers={**admin, "Idempotency-Key": "same"}
    )
    mia = world["mia"]
    second = client.post(
        f"{API}/objectives",
        json={"cycle_id": str(world.cycle_id), "owner_person_id": str(mia.person_id), "title": "B"},
        headers={**mia.headers, "Idempotency-Key": "same"},
    )
    assert first.status_code == 201 and second.status_code == 201
    assert first.json()["id"] != second.json()["id"]


def test_a_failed_request_releases_its_key(client: Any, world: World) -> None:
    built = objective_in(world, "platform", "approved")
    path = f"{API}/objectives/{built.objective_id}/key-results/{built.key_result_id}/check-ins"
    headers = {**world["max"].headers, "Idempotency-Key": "retry-me"}
    bad = client.post(path, json={"value": 3, "confidence": 60}, headers=headers)
    assert bad.status_code == 422
    fixed = client.post(path, json={"value": 3, "confidence": 6}, headers=headers)
    assert fixed.status_code == 201
    assert "Idempotent-Replayed" not in fixed.headers


def test_an_unauthenticated_request_with_a_key_is_a_401(client: Any, world: World) -> None:
    response = client.post(f"{API}/teams", json={"name": "A"}, headers={"Idempotency-Key": "k"})
    assert response.status_code == 401


def test_an_invalid_key_is_a_422(client: Any, world: World) -> None:
    response = client.post(
        f"{API}/teams",
        json={"name": "A"},
        headers={**world["admin"].headers, "Idempotency-Key": "x" * 256},
    )
    assert response.status_code == 422
    assert response.json()["rule"] == "idempotency_key_invalid"


def test_concurrent_requests_with_one_key_write_once(live_server: str, world: World) -> None:
    """Racing duplicates: one writes; the rest replay it or are told it is in progress."""
    admin = {**world["admin"].headers, "Idempotency-Key": "race"}
    barrier = threading.Barrier(8)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def send() -> None:
        with httpx.Client(base_url=live_server, timeout=30) as http:
            barrier.wait()
            response = http.post(f"{API}/teams", json={"name": "Raced"}, headers=admin)
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=send) for _ in range(8)]
    run_together(threads)
    created = {r.json()["id"] for r in answers if r.status_code == 201}
    assert len(created) == 1
    assert {r.status_code for r in answers} <= {201, 409}
    for busy in (r for r in answers if r.status_code == 409):
        assert busy.json()["rule"] == "idempotency_key_in_use"
    teams = httpx.get(f"{live_server}{API}/teams", headers=world["admin"].headers).json()
    assert [t["name"] for t in teams["items"]].count("Raced") == 1


def test_token_issuing_ignores_the_key(client: Any, world: World) -> None:
    """Secrets are never stored, so a token cannot be replayed: a retry issues another."""
    headers = {**world["admin"].headers, "Idempotency-Key": "tok"}
    body = {"person_id": str(world["sue"].person_id), "role": "member"}
    first = client.post(f"{API}/tokens", json=body, headers=headers)
    second = client.post(f"{API}/tokens", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["token"] != second.json()["token"]

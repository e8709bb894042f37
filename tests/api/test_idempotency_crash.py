"""`Idempotency-Key` across a crash: `okr serve` is killed (SIGKILL) at each point of a keyed
write, a new `okr serve` starts on the same database, and the client's retry gets the first
answer with exactly one write in the event store.

The server kills itself where `OKR_TEST_CRASH_POINT` says (honoured with `OKR_ENVIRONMENT=test`
only): `before_commit` (the events sent, not committed), `after_commit` (committed, the answer
not stored), `after_store` (the answer stored, not sent).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.servers import okr_env, run_okr_here, start_okr_serve

KEY = "create-data-team"
ROOT_TOKEN = (
    "token",
    "create",
    "--email",
    "root@acme.example",
    "--name",
    "Root",
    "--role",
    "admin",
)
BODY = {"name": "Data"}


class Servers:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.started: list[subprocess.Popen[str]] = []

    def start(self, **extra: str) -> tuple[subprocess.Popen[str], str]:
        process, base = start_okr_serve({**self.env, **extra})
        self.started.append(process)
        return process, f"{base}/api/v1"


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return okr_env(database_url, tmp_path, OKR_ENVIRONMENT="test")


@pytest.fixture
def servers(env: dict[str, str]) -> Iterator[Servers]:
    made = Servers(env)
    yield made
    for process in made.started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _events(database_url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT notification_id, originator_id, originator_version FROM okrledger_events "
            "ORDER BY notification_id"
        ).fetchall()


def _stored_answer(database_url: str) -> tuple[str, bytes | None]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT state, body FROM okr_idempotency_keys WHERE key = %s", (KEY,)
        ).fetchone()
    assert row is not None
    return str(row[0]), None if row[1] is None else bytes(row[1])


def _retry(
    base: str, headers: dict[str, str], body: dict[str, str] | None = None
) -> httpx.Response:
    """The client's retry: a 409 `idempotency_key_in_use` says to come back shortly."""
    deadline = time.monotonic() + 20
    while True:
        response = httpx.post(f"{base}/teams", json=body or BODY, headers=headers, timeout=30)
        if response.status_code != 409 or time.monotonic() > deadline:
            return response
        assert response.json()["rule"] == "idempotency_key_in_use"
        time.sleep(0.2)


@pytest.mark.parametrize("point", ["before_commit", "after_commit", "after_store"])
def test_a_retry_after_a_crash_gets_the_first_answer_and_one_write(
    point: str, env: dict[str, str], database_url: str, servers: Servers
) -> None:
    created = run_okr_here(*ROOT_TOKEN, env=env)
    assert created.returncode == 0, created.stderr
    headers = {"Authorization": f"Bearer {created.stdout.strip()}", "Idempotency-Key": KEY}

    doomed, base = servers.start(OKR_TEST_CRASH_POINT=point)
    before = _events(database_url)
    with pytest.raises(httpx.TransportError):
        httpx.post(f"{base}/teams", json=BODY, headers=headers, timeout=30)
    assert doomed.wait(timeout=30) == -signal.SIGKILL
    after_crash = _events(database_url)
    state, stored = _stored_answer(database_url)
    if point == "before_commit":
        assert after_crash == before and state == "pending"
    else:
        assert len(after_crash) == len(before) + 1
        assert state == ("written" if point == "after_commit" else "done")
    first_write = after_crash[len(before) :]

    _, base = servers.start()
    answer = _retry(base, headers)
    assert answer.status_code == 201, answer.text
    events = _events(database_url)
    assert len(events) == len(before) + 1, "exactly one write"
    position, team_id, version = events[-1]
    body = answer.json()
    assert body == {"id": str(team_id), "version": version, "position": position}
    assert answer.headers["ETag"] == f'"{version}"'
    assert answer.headers["Location"] == f"/api/v1/teams/{team_id}"
    if point == "before_commit":
        assert "Idempotent-Replayed" not in answer.headers
    else:
        assert answer.headers["Idempotent-Replayed"] == "true"
        assert events[-1] == first_write[0], "the first server's write, not a new one"
    if point == "after_store":
        assert answer.content == stored

    again = _retry(base, headers)
    assert again.status_code == 201 and again.content == answer.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(_events(database_url)) == len(before) + 1
    teams = httpx.get(f"{base}/teams", headers=headers).json()["items"]
    assert [t["name"] for t in teams].count("Data") == 1
    verified = run_okr_here("audit", "verify", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_crash_in_the_middle_of_a_group_commit_loses_nothing_acknowledged(
    env: dict[str, str], database_url: str, servers: Servers
) -> None:
    """Concurrent keyed writes share transactions (group commit); the server dies with a batch
    of several inserted and uncommitted. Every write answered before the crash is stored,
    none of the batch is, and the retries write each of the others exactly once."""
    from concurrent.futures import ThreadPoolExecutor

    created = run_okr_here(*ROOT_TOKEN, env=env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    doomed, base = servers.start(OKR_TEST_CRASH_POINT="mid_batch")
    acknowledged: dict[str, str] = {}
    sent: list[str] = []

    def post(key: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        try:
            answer = httpx.post(f"{base}/teams", json={"name": key}, headers=headers, timeout=30)
        except httpx.TransportError:
            return
        if answer.status_code == 201:
            acknowledged[key] = answer.json()["id"]

    with ThreadPoolExecutor(16) as pool:
        for wave in range(50):
            if doomed.poll() is not None:
                break
            keys = [f"team-{wave}-{n}" for n in range(16)]
            sent += keys
            list(pool.map(post, keys))
    assert doomed.wait(timeout=30) == -signal.SIGKILL, "no batch of several saves formed"

    stored = {str(originator) for _, originator, _ in _events(database_url)}
    assert set(acknowledged.values()) <= stored, "an acknowledged write was lost"
    with psycopg.connect(database_url) as conn:
        marks = {
            key: (state, None if result_id is None else str(result_id))
            for key, state, result_id in conn.execute(
                "SELECT key, state, result_id FROM okr_idempotency_keys"
            ).fetchall()
        }
    unanswered = [key for key in sent if key not in acknowledged]
    assert unanswered, "the crash left no request unanswered"
    # A key is marked written only in the transaction that stores its write: an unanswered key
    # is unmarked (the uncommitted batch, or never reached) or its write is stored (it committed
    # before the crash, whose kill took its answer in flight).
    lost_marks = [
        key
        for key in unanswered
        if marks.get(key, (None, None))[0] not in (None, "pending") and marks[key][1] not in stored
    ]
    assert not lost_marks, f"keys marked written without their write stored: {lost_marks}"

    _, base = servers.start()
    headers = {"Authorization": f"Bearer {token}"}
    for key in unanswered:
        answer = _retry(base, {**headers, "Idempotency-Key": key}, {"name": key})
        assert answer.status_code == 201, answer.text
    names: list[str] = []
    while True:
        page = httpx.get(
            f"{base}/teams", headers=headers, params={"limit": 500, "offset": len(names)}
        ).json()["items"]
        names += [t["name"] for t in page]
        if len(page) < 500:
            break
    assert sorted(n for n in names if n.startswith("team-")) == sorted(sent), "each once"
    verified = run_okr_here("audit", "verify", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr

"""Personal access tokens: an expiry and an optional read-only scope, recorded with the issue
(`AccessToken.Limited`) and enforced on every request, remembered principals included."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.access import AccessToken
from infra.token_use import TokenUse, personal_tokens, token_use_of
from tests.api.answers import Refused
from tests.api.conftest import API, World
from tests.api.test_queries import _ok


def _issue(client: Any, world: World, **fields: Any) -> str:
    body = {"person_id": str(world["max"].person_id), "role": "member", **fields}
    issued = client.post(f"{API}/tokens", json=body, headers=world["admin"].headers)
    assert issued.status_code == 201, issued.text
    token: str = issued.json()["token"]
    return token


def test_a_read_only_token_reads_and_writes_nothing(client: Any, world: World) -> None:
    headers = {"Authorization": f"Bearer {_issue(client, world, read_only=True)}"}
    assert _ok(client.get(f"{API}/me", headers=headers))["person_id"] == str(world["max"].person_id)
    skunkworks = {"name": "Skunkworks"}
    Refused("POST", f"{API}/teams", skunkworks, 403, "token_read_only").check(client, headers)
    # the person's full token still writes what their role allows
    mine = {
        "cycle_id": str(world.cycle_id),
        "title": "Ship the thing",
        "kind": "committed",
        "owner_person_id": str(world["max"].person_id),
    }
    _ok(client.post(f"{API}/objectives", json=mine, headers=world["max"].headers), 201)


def test_an_expired_token_is_refused_even_when_remembered(client: Any, world: World) -> None:
    expires = datetime.now(UTC) + timedelta(seconds=1.5)
    headers = {"Authorization": f"Bearer {_issue(client, world, expires_at=expires.isoformat())}"}
    for _ in range(2):  # the second answer comes from the remembered principal
        _ok(client.get(f"{API}/me", headers=headers))
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.1)
    refused = client.get(f"{API}/me", headers=headers)
    assert refused.status_code == 401 and refused.json()["rule"] == "token_invalid"


def test_the_limits_are_an_event_of_the_token(client: Any, world: World) -> None:
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    _issue(client, world, expires_at=expires.isoformat(), read_only=True, label="reporting")
    limited = [
        e
        for e in world.ledger.repository.event_store.get(_token_ids(world))
        if isinstance(e, AccessToken.Limited)
    ]
    assert [(e.expires_at, e.read_only) for e in limited] == [(expires, True)]


def _token_ids(world: World) -> Any:
    head = world.ledger.recorder.max_notification_id() or 0
    (last,) = world.ledger.recorder.select_notifications(start=head, limit=1)
    return last.originator_id


def test_an_expiry_without_a_time_zone_is_a_problem_naming_the_field(
    client: Any, world: World
) -> None:
    body = {
        "person_id": str(world["max"].person_id),
        "role": "member",
        "expires_at": "2030-01-01T00:00:00",
    }
    bad = client.post(f"{API}/tokens", json=body, headers=world["admin"].headers)
    assert bad.status_code == 422 and "expires_at" in bad.text


def test_a_read_only_token_does_not_sign_in_to_the_web_ui(client: Any, world: World) -> None:
    token = _issue(client, world, read_only=True)
    page = client.get("/sign-in")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    refused = client.post(
        "/sign-in", data={"csrf_token": csrf.group(1), "token": token, "next": "/"}
    )
    assert refused.status_code == 401 and "read-only" in refused.text


def test_last_use_is_noted_at_most_once_a_minute_and_is_no_event(client: Any, world: World) -> None:
    ledger = world.ledger
    secret = _issue(client, world, label="laptop")
    headers = {"Authorization": f"Bearer {secret}"}
    (laptop,) = [t for t in personal_tokens(ledger, world["max"].person_id) if t.label == "laptop"]
    assert laptop.last_used_at is None
    before = ledger.recorder.max_notification_id()
    for _ in range(3):
        _ok(client.get(f"{API}/me", headers=headers))
    assert ledger.recorder.max_notification_id() == before  # use writes no event
    (laptop,) = [t for t in personal_tokens(ledger, world["max"].person_id) if t.label == "laptop"]
    assert laptop.last_used_at is not None
    assert abs(laptop.last_used_at - datetime.now(UTC)) < timedelta(minutes=1)

    store = token_use_of(ledger.recorder)
    assert store is not None
    assert store.touch(laptop.id) is False  # this process wrote it less than a minute ago
    other = TokenUse(store.datastore)  # another process: the table refuses a second write
    assert other.touch(laptop.id) is False
    later = datetime.now(UTC) + timedelta(minutes=2)
    assert TokenUse(store.datastore).touch(laptop.id, now=later) is True
    assert store.last_used([laptop.id]) == {laptop.id: later}

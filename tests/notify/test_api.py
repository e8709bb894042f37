"""The notification routes and pages over HTTP: preferences (own only, 422 naming field and
rule, recorded as events with a reason), the messages sent, and one-click unsubscribe."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.usecases.notifications import ONE_CLICK_REASON
from domain.person import Person
from infra.notify.engine import Notifier
from infra.settings import Settings
from tests.api.conftest import API, World, make_app, objective_in
from tests.notify.conftest import Mailbox, eventually

pytestmark = [pytest.mark.postgres, pytest.mark.filterwarnings("ignore:Requiring AUTH")]


@pytest.fixture
def client(world: World, readmodels: Any) -> Iterator[TestClient]:
    with TestClient(make_app(world.ledger, readmodels), raise_server_exceptions=False) as made:
        yield made


def test_preferences_default_then_set_as_an_event_with_the_reason(
    world: World, client: TestClient
) -> None:
    sue = world["sue"]
    got = client.get(f"{API}/me/notification-preferences", headers=sue.headers)
    assert got.status_code == 200
    assert got.json()["channels"] == {"email": True}
    assert got.json()["delivery"] == "immediate"
    assert got.json()["effective_time_zone"] == "UTC"
    body = {
        "channels": {"email": False},
        "delivery": "digest",
        "quiet_from": "22:00",
        "quiet_to": "07:00",
        "time_zone": "Europe/Berlin",
        "reason": "evenings off",
    }
    put = client.put(
        f"{API}/me/notification-preferences",
        json=body,
        headers={**sue.headers, "If-Match": got.headers["ETag"]},
    )
    assert put.status_code == 200, put.text
    again = client.get(f"{API}/me/notification-preferences", headers=sue.headers).json()
    assert again["channels"] == {"email": False}
    assert (again["quiet_from"], again["quiet_to"], again["time_zone"]) == (
        "22:00",
        "07:00",
        "Europe/Berlin",
    )
    history = world.ledger.repository.get(sue.person_id)
    assert isinstance(history, Person)
    last = list(world.ledger.recorder.select_notifications(start=1, limit=10_000))[-1]
    event = world.ledger.mapper.to_domain_event(last)
    assert isinstance(event, Person.NotificationPreferencesChanged)
    assert (event.reason, event.actor) == ("evenings off", str(sue.person_id))


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone", "time_zone_invalid"),
        ({"quiet_from": "25:61", "quiet_to": "07:00"}, "quiet_from", "time_of_day_invalid"),
        ({"quiet_from": "22:00"}, "quiet_to", "quiet_hours_incomplete"),
        ({"channels": {"pager": True}}, "channels", "channel_unknown"),
    ],
)
def test_bad_preferences_are_a_422_naming_the_field_and_the_rule(
    world: World, client: TestClient, body: dict[str, Any], field: str, rule: str
) -> None:
    answer = client.put(
        f"{API}/me/notification-preferences", json=body, headers=world["max"].headers
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert {"field": field, "rule": rule} in [
        {"field": e.get("field"), "rule": e.get("rule")} for e in problem.get("errors", [])
    ] or (problem.get("field"), problem.get("rule")) == (field, rule)


def test_without_a_token_nothing_is_shown(client: TestClient) -> None:
    assert client.get(f"{API}/me/notifications").status_code == 401
    assert client.get(f"{API}/me/notification-preferences").status_code == 401


def test_my_notifications_are_mine_only_with_their_delivery(
    world: World, client: TestClient, mailbox: Mailbox
) -> None:
    settings = Settings(smtp_url=SecretStr(mailbox.url), environment="test")
    notifier = Notifier(world.ledger, settings, poll_seconds=0.1)
    notifier.start()
    try:
        built = objective_in(world, "platform", "in_review")
        mailbox.wait(1)

        def mine() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = client.get(
                f"{API}/me/notifications", headers=world["ceo"].headers
            ).json()["items"]
            done = items and {d["status"] for d in items[0]["deliveries"]} == {"sent"}
            return items if done else []

        [item] = eventually(mine)
        assert item["kind"] == "submitted"
        assert item["link"] == f"/objectives/{built.objective_id}"
        assert item["subject"] == "Max submitted “platform objective” for your approval"
        assert {d["channel"] for d in item["deliveries"]} == {"email", "in_app"}
        # Max acted; the admin reads everything else, but not someone else's notifications.
        for other in ("max", "admin"):
            theirs = client.get(f"{API}/me/notifications", headers=world[other].headers)
            assert theirs.json()["items"] == []
    finally:
        notifier.stop()


def test_one_click_unsubscribe_works_without_signing_in(
    world: World, client: TestClient, mailbox: Mailbox
) -> None:
    settings = Settings(
        smtp_url=SecretStr(mailbox.url), environment="test", public_url="http://testserver"
    )
    notifier = Notifier(world.ledger, settings, poll_seconds=0.1)
    notifier.start()
    try:
        objective_in(world, "platform", "in_review")
        [received] = mailbox.wait(1)
    finally:
        notifier.stop()
    url = str(received.mail["List-Unsubscribe"]).strip("<>")
    parts = urlsplit(url)
    token = parse_qs(parts.query)["token"][0]
    client.cookies.clear()
    tampered = client.post(
        parts.path, params={"token": token[:-2] + "xx"}, content=b"List-Unsubscribe=One-Click"
    )
    assert tampered.status_code == 400
    # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" to the URL, no session.
    answer = client.post(
        f"{parts.path}?{parts.query}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200
    assert "no more e-mails" in answer.text
    ceo = world.ledger.get_person(world["ceo"].person_id)
    assert not ceo.notifications.wants("email")
    last = list(world.ledger.recorder.select_notifications(start=1, limit=10_000))[-1]
    event = world.ledger.mapper.to_domain_event(last)
    assert isinstance(event, Person.NotificationPreferencesChanged)
    assert (event.actor, event.reason) == (str(ceo.id), ONE_CLICK_REASON)
    # The page the link opens in a browser asks first: a link scanner changes nothing.
    assert "Unsubscribe" in client.get(f"{parts.path}?{parts.query}").text

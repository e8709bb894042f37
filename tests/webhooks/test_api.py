"""The webhook endpoints' API: admins only, problems naming field and rule, the secret answered
once, deliveries listed, redelivered and replayed (real PostgreSQL and HTTP receiver)."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from api.app import create_app
from domain.access import Role
from domain.application import OkrLedger
from domain.base import CommandContext
from infra.settings import Settings
from infra.webhooks.access import webhooks_of

pytestmark = pytest.mark.postgres

API = "/api/v1/webhooks"
ALLOW = Settings(webhook_allow_private=True)


def _token(ledger: OkrLedger, name: str, role: Role) -> dict[str, str]:
    ctx = CommandContext.system()
    person = ledger.register_person(name, f"{name}@acme.example", ctx).id
    secret, _ = ledger.issue_token(person, role, ctx)
    return {"Authorization": f"Bearer {secret}"}


def _client(ledger: OkrLedger, settings: Settings) -> TestClient:
    return TestClient(
        create_app(ledger, ui=False, settings=settings), raise_server_exceptions=False
    )


@pytest.fixture
def client(ledger: OkrLedger) -> Iterator[TestClient]:
    with _client(ledger, ALLOW) as c:
        yield c


@pytest.fixture
def admin(ledger: OkrLedger) -> dict[str, str]:
    return _token(ledger, "ada", Role.ADMIN)


def _problem(response: Any, status: int, rule: str, field: str | None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (body["rule"], body.get("field")) == (rule, field), body


def test_the_secret_is_answered_once_and_never_again(
    client: TestClient, admin: dict[str, str], httpserver: HTTPServer
) -> None:
    url = httpserver.url_for("/hook")
    created = client.post(API, json={"url": url, "event_types": ["*"]}, headers=admin)
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    assert created.headers["Location"] == f"{API}/{created.json()['id']}"
    read = client.get(f"{API}/{created.json()['id']}", headers=admin)
    listed = client.get(API, headers=admin)
    assert read.status_code == listed.status_code == 200
    assert read.json()["url"] == url and read.json()["enabled"] is True
    assert listed.json()["total"] == 1
    for answer in (read, listed):
        assert secret not in answer.text and "secret" not in answer.text
    given = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
    mine = client.post(
        API, json={"url": url, "event_types": ["Cycle.Planned"], "secret": given}, headers=admin
    )
    assert mine.status_code == 201 and mine.json()["secret"] == given


WEBHOOK_WRITES = (
    ("POST", "/api/v1/webhooks"),
    ("PATCH", "/api/v1/webhooks/{endpoint_id}"),
    ("POST", "/api/v1/webhooks/{endpoint_id}/disable"),
    ("POST", "/api/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver"),
    ("POST", "/api/v1/webhooks/{endpoint_id}/replay"),
    ("POST", "/api/v1/channels"),
    ("POST", "/api/v1/channels/{channel_id}/disable"),
    ("POST", "/api/v1/channels/{channel_id}/enable"),
    ("POST", "/api/v1/channels/{channel_id}/deliveries/{delivery_id}/redeliver"),
)
"""Every write of the webhook API: admins only (tests/api/test_authorization_matrix.py counts
them among the API's writes)."""

_BODIES: dict[str, Any] = {
    "/api/v1/webhooks": {"url": "https://x.example/", "event_types": ["*"]},
    "/api/v1/webhooks/{endpoint_id}": {"enabled": False, "reason": "x"},
    "/api/v1/webhooks/{endpoint_id}/disable": {"reason": "x"},
    "/api/v1/webhooks/{endpoint_id}/replay": {"from_position": 1},
    "/api/v1/channels": {"kind": "slack", "url": "https://hooks.slack.com/services/x"},
    "/api/v1/channels/{channel_id}/disable": {"reason": "x"},
}


def test_only_admins_manage_webhooks(
    ledger: OkrLedger, client: TestClient, admin: dict[str, str], httpserver: HTTPServer
) -> None:
    made = client.post(
        API, json={"url": httpserver.url_for("/h"), "event_types": ["*"]}, headers=admin
    ).json()
    for role in (Role.MEMBER, Role.MANAGER, Role.AUDITOR):
        headers = _token(ledger, f"p{role.value}", role)
        for method, path in WEBHOOK_WRITES:
            url = path.format(endpoint_id=made["id"], channel_id=made["id"], delivery_id=1)
            response = client.request(method, url, json=_BODIES.get(path), headers=headers)
            _problem(response, 403, "admin_only", None)
        for path in (API, f"{API}/{made['id']}", f"{API}/{made['id']}/deliveries"):
            _problem(client.get(path, headers=headers), 403, "admin_only", None)
    assert client.get(API).status_code == 401
    assert client.get(f"{API}/{made['id']}", headers=admin).json()["enabled"] is True


@pytest.mark.parametrize(
    ("body", "rule", "field"),
    [
        ({"url": "ftp://x.example/", "event_types": ["*"]}, "url_invalid", "url"),
        (
            {"url": "https://x.example/", "event_types": ["Nope.Never"]},
            "event_type_unknown",
            "event_types",
        ),
        (
            {"url": "https://x.example/", "event_types": ["*"], "secret": "whsec_short"},
            "secret_invalid",
            "secret",
        ),
        ({"url": "https://x.example/", "event_types": []}, "too_short", "event_types"),
        ({"url": "https://x.example/"}, "missing", "event_types"),
    ],
)
def test_bad_input_is_a_422_naming_field_and_rule(
    client: TestClient, admin: dict[str, str], body: dict[str, Any], rule: str, field: str
) -> None:
    _problem(client.post(API, json=body, headers=admin), 422, rule, field)


def test_a_private_target_is_refused_without_the_setting(
    ledger: OkrLedger, admin: dict[str, str], httpserver: HTTPServer
) -> None:
    with _client(ledger, Settings(webhook_allow_private=False)) as strict:
        response = strict.post(
            API, json={"url": httpserver.url_for("/hook"), "event_types": ["*"]}, headers=admin
        )
    _problem(response, 422, "url_private", "url")
    assert "OKR_WEBHOOK_ALLOW_PRIVATE" in response.json()["detail"]


def test_unknown_endpoints_are_404_and_a_second_disable_is_409(
    client: TestClient, admin: dict[str, str], httpserver: HTTPServer
) -> None:
    unknown = f"{API}/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
    _problem(client.get(unknown, headers=admin), 404, "webhook_not_found", None)
    made = client.post(
        API, json={"url": httpserver.url_for("/h"), "event_types": ["*"]}, headers=admin
    ).json()
    first = client.post(f"{API}/{made['id']}/disable", json={"reason": "retired"}, headers=admin)
    assert first.status_code == 200, first.text
    again = client.post(f"{API}/{made['id']}/disable", json={"reason": "again"}, headers=admin)
    _problem(again, 409, "endpoint_disabled", None)
    patched = client.patch(f"{API}/{made['id']}", json={"enabled": True}, headers=admin)
    assert patched.status_code == 200, patched.text
    assert client.get(f"{API}/{made['id']}", headers=admin).json()["enabled"] is True
    stale = client.patch(
        f"{API}/{made['id']}",
        json={"event_types": ["Cycle.Planned"]},
        headers={**admin, "If-Match": '"1"'},
    )
    _problem(stale, 412, "version_mismatch", "If-Match")


def test_deliveries_are_listed_redelivered_and_replayed(
    ledger: OkrLedger, client: TestClient, admin: dict[str, str], httpserver: HTTPServer
) -> None:
    received: list[str] = []
    httpserver.expect_request("/hook").respond_with_handler(
        lambda r: (received.append(r.headers["webhook-id"]), "ok")[1]  # type: ignore[func-returns-value]
    )
    made = client.post(
        API,
        json={"url": httpserver.url_for("/hook"), "event_types": ["Cycle.Planned"]},
        headers=admin,
    ).json()
    ctx = CommandContext.system()
    first = ledger.plan_cycle("Q1", date(2026, 1, 1), date(2026, 3, 31), ctx)
    ledger.plan_cycle("Q2", date(2026, 4, 1), date(2026, 6, 30), ctx)
    webhooks_of(ledger, ALLOW).round()
    deliveries = client.get(f"{API}/{made['id']}/deliveries", headers=admin).json()["items"]
    assert [(d["status"], d["attempts"], d["last_status"]) for d in deliveries] == [
        ("delivered", 1, 200)
    ] * 2
    assert len(received) == 2
    again = client.post(
        f"{API}/{made['id']}/deliveries/{deliveries[-1]['id']}/redeliver", headers=admin
    )
    assert again.status_code == 201 and again.json()["redelivery_of"] == deliveries[-1]["id"]
    no_delivery = f"{API}/{made['id']}/deliveries/999999/redeliver"
    _problem(client.post(no_delivery, headers=admin), 404, "delivery_not_found", None)
    replayed = client.post(
        f"{API}/{made['id']}/replay", json={"from_position": first.position}, headers=admin
    )
    assert replayed.status_code == 202 and replayed.json()["queued"] == 2
    webhooks_of(ledger, ALLOW).round()
    webhooks_of(ledger, ALLOW).round()
    # The same webhook-ids again: Q1's three times (redelivered, replayed), Q2's twice.
    assert sorted(Counter(received).values()) == [2, 3]


def test_the_api_is_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert {
        "/api/v1/webhooks",
        "/api/v1/webhooks/{endpoint_id}",
        "/api/v1/webhooks/{endpoint_id}/deliveries",
        "/api/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver",
        "/api/v1/webhooks/{endpoint_id}/replay",
    } <= set(paths)

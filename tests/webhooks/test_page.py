"""The admin page for webhooks and chat channels, over the real web stack (sessions, CSRF)."""

from __future__ import annotations

import re
import warnings
from datetime import date

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

SETTINGS = Settings(webhook_allow_private=True)
SYSTEM = CommandContext.system()
PAGE = "/admin/integrations"


def _signed_in(ledger: OkrLedger, role: Role, settings: Settings = SETTINGS) -> TestClient:
    person = ledger.register_person(role.value, f"{role.value}@acme.example", SYSTEM).id
    token, _ = ledger.issue_token(person, role, SYSTEM)
    client = TestClient(create_app(ledger, settings=settings), raise_server_exceptions=False)
    signed = client.post(
        "/sign-in",
        data={"csrf_token": _csrf(client.get("/sign-in").text), "token": token, "next": "/"},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    return client


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def test_an_admin_registers_an_endpoint_sees_its_secret_once_and_its_deliveries(
    ledger: OkrLedger, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    with _signed_in(ledger, Role.ADMIN) as client:
        page = client.get(PAGE)
        assert page.status_code == 200 and 'href="/admin/integrations"' in page.text
        made = client.post(
            f"{PAGE}/webhooks",
            data={
                "csrf_token": _csrf(page.text),
                "url": httpserver.url_for("/hook"),
                "event_types": "Cycle.Planned",
            },
        )
        assert made.status_code == 201, made.text
        secret = re.search(r'data-testid="new-webhook-secret">(whsec_[^<]+)<', made.text)
        assert secret
        ledger.plan_cycle("Q1", date(2026, 1, 1), date(2026, 3, 31), SYSTEM)
        webhooks_of(ledger, SETTINGS).round()
        again = client.get(PAGE)
        assert secret.group(1) not in again.text
        rows = re.findall(r'data-testid="delivery-row">(.*?)</tr>', again.text, re.S)
        assert len(rows) == 1 and "Cycle.Planned" in rows[0] and "delivered" in rows[0]
        action = re.search(r'action="(/admin/integrations/webhooks/[^"]+/redeliver)"', again.text)
        assert action
        redone = client.post(action.group(1), data={"csrf_token": _csrf(again.text)})
        assert redone.status_code == 200 and "queued again" in redone.text
        bad = client.post(
            f"{PAGE}/webhooks",
            data={"csrf_token": _csrf(again.text), "url": "ftp://x", "event_types": "*"},
        )
        assert bad.status_code == 422 and "http or https" in bad.text


def test_a_manager_sees_neither_the_page_nor_its_link(ledger: OkrLedger) -> None:
    with _signed_in(ledger, Role.MANAGER) as client:
        assert 'href="/admin/integrations"' not in client.get("/").text
        assert client.get(PAGE).status_code == 403
        refused = client.post(
            f"{PAGE}/webhooks",
            data={"csrf_token": _csrf(client.get("/").text), "url": "https://x.example/"},
        )
        assert refused.status_code == 403


def test_without_the_secrets_key_the_page_says_which_setting_is_missing(
    ledger: OkrLedger,
) -> None:
    """Registering needs OKR_SECRETS_KEY (docs/webhooks.md#secrets-at-rest): the form answers
    with the setting's name, never a 500, and stores nothing."""
    settings = Settings(webhook_allow_private=True, secrets_key=None)
    with _signed_in(ledger, Role.ADMIN, settings) as client:
        page = client.get(PAGE)
        assert page.status_code == 200, page.text
        made = client.post(
            f"{PAGE}/webhooks",
            data={
                "csrf_token": _csrf(page.text),
                "url": "http://127.0.0.1:9/hook",
                "event_types": "Cycle.Planned",
            },
        )
        assert made.status_code in (409, 422), made.text
        assert "OKR_SECRETS_KEY" in made.text and "whsec_" not in made.text
    assert webhooks_of(ledger, settings).store.secrets() == {}

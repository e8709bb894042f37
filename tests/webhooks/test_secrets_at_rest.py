"""Webhook secrets and chat URLs sealed at rest (AES-GCM under OKR_SECRETS_KEY), against a
real PostgreSQL, a real HTTP receiver and the standardwebhooks verifier."""

from __future__ import annotations

import base64
import logging
import os
import time
import warnings
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from standardwebhooks.webhooks import Webhook
from werkzeug import Request, Response

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from api.app import create_app
from domain.access import Role
from domain.application import OkrLedger
from domain.base import CommandContext
from domain.channel import ChannelKind
from infra.secretbox import SecretBox, SecretsKeyMissing, SecretUnreadable
from infra.settings import Settings
from infra.webhooks.delivery import WebhookDelivery, WebhookService
from infra.webhooks.endpoints import connect_channel, register_endpoint
from infra.webhooks.store import WebhookStore

pytestmark = pytest.mark.postgres

ADMIN = CommandContext(actor="admin")


def _register(ledger: OkrLedger, store: WebhookStore, url: str) -> tuple[Any, str]:
    """An endpoint for every event at `url` (private addresses allowed): it and its secret."""
    return register_endpoint(ledger, store, url, ["*"], False, ADMIN, allow_private=True)


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _store(ledger: OkrLedger, key: str | None, old: list[str] | None = None) -> WebhookStore:
    settings = Settings(
        secrets_key=SecretStr(key) if key else None,
        secrets_old_keys=SecretStr(",".join(old)) if old else None,
    )
    return WebhookStore(ledger.recorder.datastore, SecretBox.from_settings(settings))  # type: ignore[attr-defined]


def _rows(database_url: str) -> dict[UUID, str]:
    with psycopg.connect(database_url) as conn:
        return dict(conn.execute("SELECT endpoint_id, secret FROM okrledger_webhook_secret"))


def _send_one(ledger: OkrLedger, store: WebhookStore) -> None:
    delivery = WebhookDelivery(ledger, store, allow_private=True, timeout=5)
    try:
        ledger.plan_cycle("Q1", date(2026, 1, 1), date(2026, 3, 31), ADMIN)
        delivery.round()
    finally:
        delivery.close()


def _nothing_secret_logged(caplog: pytest.LogCaptureFixture, *secrets: str) -> bool:
    """No log line (message or traceback) holds a secret, nor its base64 key."""
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    return not any(s in logged or s.removeprefix("whsec_") in logged for s in secrets)


@dataclass
class Hook:
    """A real HTTP receiver at `url` that answers 200 and keeps what came."""

    url: str
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def handle(self, request: Request) -> Response:
        self.received.append((dict(request.headers), request.get_data()))
        return Response("ok")

    def all_signed_with(self, secret: str) -> bool:
        """Something came, and every delivery verifies under `secret` (the verifier raises)."""
        for headers, body in self.received:
            Webhook(secret).verify(body, headers)
        return bool(self.received)


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The log, captured from DEBUG up (where a careless line would show a secret)."""
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture
def hook(httpserver: HTTPServer) -> Hook:
    hook = Hook(httpserver.url_for("/hook"))
    httpserver.expect_request("/hook").respond_with_handler(hook.handle)
    return hook


def test_the_stored_bytes_hold_neither_the_secret_nor_the_url(
    ledger: OkrLedger, database_url: str, debug_log: pytest.LogCaptureFixture
) -> None:
    store = _store(ledger, _key())
    result, secret = _register(ledger, store, "http://127.0.0.1:9/in")
    url = "http://127.0.0.1:9/services/T000/B000/sekritpathpart"
    channel = connect_channel(
        ledger, store, ChannelKind.SLACK, None, url, ADMIN, allow_private=True
    )
    rows = _rows(database_url)
    stored = rows[result.id] + rows[channel.id]
    assert secret not in stored and "sekritpathpart" not in stored
    assert secret.removeprefix("whsec_") not in stored
    assert all(v.startswith("okrsec1:") for v in rows.values())
    assert store.secrets() == {result.id: secret, channel.id: url}
    assert _nothing_secret_logged(debug_log, secret, "sekritpathpart")


def test_a_value_swapped_onto_another_row_does_not_open(
    ledger: OkrLedger, database_url: str
) -> None:
    store = _store(ledger, _key())
    first, _ = _register(ledger, store, "http://127.0.0.1:9/a")
    second, _ = _register(ledger, store, "http://127.0.0.1:9/b")
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE okrledger_webhook_secret SET secret = "
            "(SELECT secret FROM okrledger_webhook_secret WHERE endpoint_id = %s) "
            "WHERE endpoint_id = %s",
            (first.id, second.id),
        )
    with pytest.raises(SecretUnreadable, match=str(second.id)):
        store.secrets()


def test_without_a_key_nothing_is_registered_and_a_wrong_key_is_a_clear_409(
    ledger: OkrLedger, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    _store(ledger, None).create_tables()
    with pytest.raises(SecretsKeyMissing, match="OKR_SECRETS_KEY"):
        register_endpoint(ledger, _store(ledger, None), "http://127.0.0.1:9/a", ["*"], False, ADMIN)
    assert _rows(database_url) == {}
    caplog.set_level(logging.DEBUG)
    _, secret = _register(ledger, _store(ledger, _key()), "http://127.0.0.1:9/a")
    wrong = _store(ledger, _key())
    with pytest.raises(SecretUnreadable, match="OKR_SECRETS_OLD_KEYS"):
        wrong.secrets()
    service = WebhookService(WebhookDelivery(ledger, wrong, allow_private=True), interval=0.05)
    service.start()
    try:
        deadline = time.monotonic() + 10
        while "opens with neither" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        service.stop()
    assert "opens with neither OKR_SECRETS_KEY" in caplog.text  # the rounds say why they fail
    person = ledger.register_person("ada", "ada@acme.example", CommandContext.system()).id
    token, _ = ledger.issue_token(person, Role.ADMIN, CommandContext.system())
    settings = Settings(secrets_key=SecretStr(_key()))
    with TestClient(
        create_app(ledger, ui=False, settings=settings), raise_server_exceptions=False
    ) as client:
        answer = client.get("/api/v1/webhooks", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 409, answer.text
    assert answer.json()["rule"] == "secrets_key_wrong"
    assert "whsec_" not in answer.text
    assert _nothing_secret_logged(caplog, secret)


def test_registering_without_the_key_is_a_409_naming_the_setting(ledger: OkrLedger) -> None:
    person = ledger.register_person("ada", "ada@acme.example", CommandContext.system()).id
    token, _ = ledger.issue_token(person, Role.ADMIN, CommandContext.system())
    settings = Settings(secrets_key=None)
    with TestClient(
        create_app(ledger, ui=False, settings=settings), raise_server_exceptions=False
    ) as client:
        answer = client.post(
            "/api/v1/webhooks",
            json={"url": "http://127.0.0.1:9/a", "event_types": ["*"]},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 409, answer.text
    assert answer.json()["rule"] == "secrets_key_missing"
    assert "OKR_SECRETS_KEY" in answer.json()["detail"]


def test_rotation_keeps_signatures_verifying(
    ledger: OkrLedger,
    database_url: str,
    hook: Hook,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    old, new = _key(), _key()
    result, secret = _register(ledger, _store(ledger, old), hook.url)
    before = _rows(database_url)[result.id]
    rotated = _store(ledger, new, [old])
    assert rotated.rotate() == 1
    after = _rows(database_url)[result.id]
    assert after != before and after.startswith(f"okrsec1:{rotated.box.key_id}:")  # type: ignore[union-attr]
    with pytest.raises(SecretUnreadable):
        _store(ledger, old).secrets()  # the old key alone no longer opens it
    _send_one(ledger, _store(ledger, new))
    assert hook.all_signed_with(secret)
    assert _nothing_secret_logged(debug_log, secret)


def test_a_plain_row_from_before_still_works_and_is_sealed_on_first_use(
    ledger: OkrLedger,
    database_url: str,
    hook: Hook,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    legacy = _store(ledger, _key())
    result, secret = _register(ledger, legacy, hook.url)
    with psycopg.connect(database_url) as conn:  # as a release before sealing stored it
        conn.execute(
            "UPDATE okrledger_webhook_secret SET secret = %s WHERE endpoint_id = %s",
            (secret, result.id),
        )
    assert _store(ledger, None).secrets() == {result.id: secret}  # no key: still works
    assert _rows(database_url)[result.id] == secret
    store = _store(ledger, _key())
    _send_one(ledger, store)
    assert _rows(database_url)[result.id].startswith("okrsec1:")
    assert store.secrets() == {result.id: secret}
    assert hook.all_signed_with(secret)
    assert _nothing_secret_logged(debug_log, secret)


def _okr(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *args: str) -> Any:
    from typer.testing import CliRunner

    from api.cli import app
    from infra.settings import get_settings

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, list(args), catch_exceptions=False)
    finally:
        get_settings.cache_clear()


def test_okr_secrets_rotate_seals_under_the_new_key(
    ledger: OkrLedger, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = _key(), _key()
    result, secret = register_endpoint(
        ledger,
        _store(ledger, old),
        "http://127.0.0.1:9/a",
        ["*"],
        False,
        ADMIN,
        allow_private=True,
    )
    env = {"OKR_DATABASE_URL": database_url, "OKR_DATA_DIR": str(tmp_path)}
    refused = _okr(monkeypatch, {**env, "OKR_SECRETS_KEY": new}, "secrets", "rotate")
    assert refused.exit_code == 1 and "OKR_SECRETS_OLD_KEYS" in refused.output
    assert secret not in refused.output
    done = _okr(
        monkeypatch,
        {**env, "OKR_SECRETS_KEY": new, "OKR_SECRETS_OLD_KEYS": old},
        "secrets",
        "rotate",
    )
    assert done.exit_code == 0, done.output
    assert "sealed 1 secret(s)" in done.output
    assert _store(ledger, new).secrets() == {result.id: secret}
    again = _okr(monkeypatch, {**env, "OKR_SECRETS_KEY": new}, "secrets", "rotate")
    assert "sealed 0 secret(s)" in again.output

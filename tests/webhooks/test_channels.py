"""Slack and Teams channels: a team's negotiation and check-in events narrated in Block Kit /
an Adaptive Card with a link to the objective, through the same delivery machinery (real
PostgreSQL, real HTTP receivers)."""

from __future__ import annotations

import warnings
from datetime import date
from typing import Any

import orjson
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from api.app import create_app
from domain.access import Role
from domain.application import OkrLedger
from domain.base import CommandContext
from domain.channel import ChatChannel
from domain.objective import Kind
from domain.scoring import Measure
from domain.team import MemberRole
from infra.settings import Settings
from infra.webhooks.access import webhooks_of
from tests.steps import metric

pytestmark = pytest.mark.postgres

SETTINGS = Settings(webhook_allow_private=True, public_url="https://okr.acme.example")
SYSTEM = CommandContext.system()


def _admin(ledger: OkrLedger) -> dict[str, str]:
    person = ledger.register_person("Ada", "ada@acme.example", SYSTEM).id
    secret, _ = ledger.issue_token(person, Role.ADMIN, SYSTEM)
    return {"Authorization": f"Bearer {secret}"}


class Inbox:
    def __init__(self, server: HTTPServer, path: str, status: int = 200) -> None:
        self.messages: list[dict[str, Any]] = []
        self.status = status
        self.url = server.url_for(path)
        server.expect_request(path, method="POST").respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        if self.status == 200:
            assert request.headers["content-type"] == "application/json"
            assert "webhook-signature" not in request.headers
            self.messages.append(orjson.loads(request.get_data()))
        return Response("ok" if self.status == 200 else "gone", status=self.status)


def test_a_teams_negotiation_is_narrated_in_its_slack_and_teams_channels_only(
    ledger: OkrLedger, httpserver: HTTPServer, database_url: str
) -> None:
    admin = _admin(ledger)
    manager = ledger.register_person("Mia", "mia@acme.example", SYSTEM).id
    member = ledger.register_person("Max", "max@acme.example", SYSTEM).id
    platform = ledger.form_team("Platform", SYSTEM).id
    sales = ledger.form_team("Sales", SYSTEM).id
    ledger.add_team_member(platform, manager, MemberRole.MANAGER, SYSTEM)
    ledger.add_team_member(platform, member, MemberRole.MEMBER, SYSTEM)
    slack, teams, other = (Inbox(httpserver, p) for p in ("/slack", "/teams", "/other"))
    with TestClient(create_app(ledger, ui=False, settings=SETTINGS)) as client:
        connected = [
            client.post(
                "/api/v1/channels",
                json={"kind": kind, "url": inbox.url, "team_id": str(team)},
                headers=admin,
            )
            for kind, inbox, team in (
                ("slack", slack, platform),
                ("teams", teams, platform),
                ("slack", other, sales),
            )
        ]
        assert [r.status_code for r in connected] == [201] * 3, connected[0].text
        answer = connected[0].json()
        assert answer["url_hint"].endswith(slack.url[-4:]) and slack.url not in str(answer)
        listed = client.get("/api/v1/channels", headers=admin)
        assert listed.json()["total"] == 3 and slack.url not in listed.text
    cycle = ledger.plan_cycle("Q1", date(2026, 1, 1), date(2026, 3, 31), SYSTEM).id
    ledger.start_cycle(cycle, SYSTEM)
    as_member = CommandContext(actor=str(member))
    for private in (False, True):
        objective = ledger.draft_objective(
            cycle_id=cycle,
            title="Private plan" if private else "Faster deploys",
            kind=Kind.COMMITTED,
            ctx=as_member,
            owner_team_id=platform,
            private=private,
        ).id
        metric(ledger, as_member, objective, "Deploys a day", 1, 10)
        ledger.submit_objective(objective, manager, as_member)
        if not private:
            public_id = objective
    webhooks_of(ledger, SETTINGS).round()
    link = f"https://okr.acme.example/objectives/{public_id}"
    [message] = slack.messages  # the submission only: drafts are no negotiation; private never
    assert message["text"].startswith("Faster deploys")
    section = message["blocks"][0]["text"]["text"]
    assert f"<{link}|Faster deploys>" in section and "submitted" in section
    assert message["blocks"][1]["elements"][0]["url"] == link
    [card] = teams.messages
    content = card["attachments"][0]["content"]
    assert content["type"] == "AdaptiveCard" and content["body"][0]["text"] == "Faster deploys"
    assert content["actions"][0]["url"] == link
    assert other.messages == []  # another team's channel
    table = ledger.recorder.events_table_name  # type: ignore[attr-defined]
    import psycopg

    with psycopg.connect(database_url) as conn:
        states = b"".join(bytes(r[0]) for r in conn.execute(f"SELECT state FROM {table}"))
    assert slack.url.encode() not in states and teams.url.encode() not in states


def test_a_channel_answering_410_is_disabled(ledger: OkrLedger, httpserver: HTTPServer) -> None:
    admin = _admin(ledger)
    gone = Inbox(httpserver, "/gone", status=410)
    with TestClient(create_app(ledger, ui=False, settings=SETTINGS)) as client:
        made = client.post(
            "/api/v1/channels", json={"kind": "teams", "url": gone.url}, headers=admin
        ).json()
        person = ledger.register_person("Max", "max@acme.example", SYSTEM).id
        manager = ledger.register_person("Mia", "mia@acme.example", SYSTEM).id
        cycle = ledger.plan_cycle("Q1", date(2026, 1, 1), date(2026, 3, 31), SYSTEM).id
        as_max = CommandContext(actor=str(person))
        objective = ledger.draft_objective(
            cycle_id=cycle, title="Grow", kind=Kind.COMMITTED, ctx=as_max, owner_person_id=person
        ).id
        ledger.add_key_result(
            objective, title="Users", measure=Measure.METRIC, baseline=0, target=5, ctx=as_max
        )
        ledger.submit_objective(objective, manager, as_max)
        webhooks_of(ledger, SETTINGS).round()
        channel = ledger.get_chat_channel(made["id"])
        assert not channel.enabled and "410" in channel.disabled_reason
        assert type(list(ledger.events.get(channel.id))[-1]) is ChatChannel.Disabled  # type: ignore[attr-defined]
        deliveries = client.get(f"/api/v1/channels/{made['id']}/deliveries", headers=admin)
        assert [(d["status"], d["last_status"]) for d in deliveries.json()["items"]] == [
            ("failed", 410)
        ]

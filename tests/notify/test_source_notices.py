"""A failing data source tells its owner through the notifier: real PostgreSQL, a real HTTP
source (pytest-httpserver answering 500) and a real SMTP server (aiosmtpd).

The sync writes `source_failing` (and later `source_recovered`) to the notifier's outbox in the
transaction that records the source's health; the notifiers here only send (`follow=False`),
so the negotiation's own notices stay out of the way."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from domain.application import OkrLedger
from domain.base import CommandContext
from infra.notify.engine import Notifier
from infra.settings import Settings
from infra.sources.sync import Health, SourceSync
from tests.api.conftest import World
from tests.clock import Clock
from tests.integration.test_sources import START
from tests.notify.conftest import Mailbox, Received
from tests.steps import draft, kpi, metric
from tests.threads import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.filterwarnings("ignore:Requiring AUTH")]


def settings(mailbox: Mailbox | None = None) -> Settings:
    extra: dict[str, Any] = {}
    if mailbox is not None:
        extra["smtp_url"] = SecretStr(mailbox.url)
    return Settings(
        mail_from="okrledger <okr@acme.example>",
        public_url="https://okr.acme.example",
        environment="test",
        source_timeout_seconds=2.0,
        source_allow_private=True,
        **extra,
    )


def tracked_objective(world: World, **owner: UUID) -> tuple[UUID, UUID]:
    """An approved objective in the active cycle with one metric key result."""
    ledger = world.ledger
    as_sue = CommandContext(actor=str(world["sue"].person_id))
    objective = draft(ledger, as_sue, world.active_cycle_id, "Delight new customers", **owner)
    kr = metric(ledger, as_sue, objective, "Weekly sign-ups", 0, 10)
    sam = world["sam"].person_id
    ledger.submit_objective(objective, sam, as_sue)
    ledger.approve_objective(objective, CommandContext(actor=str(sam)))
    return objective, kr


def attach(world: World, objective: UUID, kr: UUID, url: str) -> UUID:
    result = world.ledger.attach_source(
        objective,
        kr,
        {"kind": "http_json", "url": url, "expression": "n"},
        "the number lives there",
        CommandContext(actor=str(world["sue"].person_id)),
    )
    assert result.extra_id is not None
    return result.extra_id


def outbox(ledger: OkrLedger) -> list[tuple[str, UUID, str]]:
    recorder: Any = ledger.recorder
    with recorder.datastore.get_connection() as conn:
        rows: list[Any] = conn.execute(
            "SELECT kind, recipient_id, link FROM okrledger_notices ORDER BY created_at, kind"
        ).fetchall()
    return [(row["kind"], row["recipient_id"], row["link"]) for row in rows]


def source_mails(mailbox: Mailbox) -> list[Received]:
    return [r for r in mailbox.received if "data source" in str(r.mail["Subject"])]


def wait_for_mails(mailbox: Mailbox, count: int) -> list[Received]:
    deadline = time.monotonic() + 20
    while len(source_mails(mailbox)) < count:
        assert time.monotonic() < deadline, f"{len(source_mails(mailbox))} of {count} arrived"
        time.sleep(0.05)
    mailbox.settle(1.0)
    return source_mails(mailbox)


def body(received: Received) -> str:
    part = received.mail.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


@pytest.fixture
def sending(world: World, mailbox: Mailbox) -> Iterator[Notifier]:
    notifier = Notifier(world.ledger, settings(mailbox), follow=False, poll_seconds=0.1)
    notifier.start()
    try:
        yield notifier
    finally:
        notifier.stop()


def test_the_owner_is_mailed_once_when_the_source_fails_and_once_when_it_recovers(
    world: World, mailbox: Mailbox, httpserver: HTTPServer, sending: Notifier
) -> None:
    answers = iter(
        [Response("oops", status=500), Response("oops", status=500), Response('{"n": 7}')]
    )
    httpserver.expect_request("/n").respond_with_handler(lambda _: next(answers))
    sue = world["sue"].person_id
    objective, kr = tracked_objective(world, owner_person_id=sue)
    attach(world, objective, kr, httpserver.url_for("/n"))
    clock = Clock(START)
    sync = SourceSync(world.ledger, settings(), clock)

    assert [o.health for o in sync.sync_due()] == [Health.FAILING]
    [failing] = wait_for_mails(mailbox, 1)
    assert failing.envelope_to == ["sue@acme.example"]
    assert str(failing.mail["Subject"]) == (
        "The data source of key result “Weekly sign-ups” of “Delight new customers” is failing"
    )
    text = body(failing)
    assert f"https://okr.acme.example/objectives/{objective}" in text
    assert "source_http_status" in text and "500" in text
    assert "127.0.0.1" not in text, "the source's address is not in the message"

    clock.advance(hours=1)
    assert [o.health for o in sync.sync_due()] == [Health.FAILING]
    mailbox.settle(1.0)
    assert len(source_mails(mailbox)) == 1, "a second failing sync tells nobody again"

    clock.advance(hours=1)
    assert [o.health for o in sync.sync_due()] == [Health.OK]
    mails = wait_for_mails(mailbox, 2)
    assert [str(m.mail["Subject"]) for m in mails[1:]] == [
        "The data source of key result “Weekly sign-ups” of “Delight new customers” works again"
    ]
    assert mails[1].envelope_to == ["sue@acme.example"]
    assert [kind for kind, _, _ in outbox(world.ledger)] == ["source_failing", "source_recovered"]


def test_a_team_objective_tells_the_team_managers_and_a_kpi_its_owner(
    world: World, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/n").respond_with_data("down", status=503)
    objective, kr = tracked_objective(world, owner_team_id=world.teams["platform"])
    attach(world, objective, kr, httpserver.url_for("/n"))
    max_ = world["max"].person_id
    kpi_id = kpi(
        world.ledger,
        CommandContext.system(),
        "Net Promoter Score",
        "pts",
        "increase",
        max_,
        (40, 30),
    )
    world.ledger.attach_kpi_source(
        kpi_id,
        {"kind": "http_json", "url": httpserver.url_for("/n"), "expression": "n"},
        "measured there",
        CommandContext.system(),
    )
    SourceSync(world.ledger, settings(), Clock(START)).sync_due()
    assert sorted(outbox(world.ledger)) == sorted(
        [
            ("source_failing", world["mia"].person_id, f"/objectives/{objective}"),
            ("source_failing", max_, f"/kpis/{kpi_id}"),
        ]
    ), "the platform's manager (not its member) for the objective; the KPI's owner"


def test_two_processes_failing_at_once_tell_the_owner_once(
    world: World, httpserver: HTTPServer, es_env: dict[str, str]
) -> None:
    def slow(_: Request) -> Response:
        time.sleep(0.4)  # both processes are inside a sync at the same time
        return Response("oops", status=500)

    httpserver.expect_request("/n").respond_with_handler(slow)
    sue = world["sue"].person_id
    objective, kr = tracked_objective(world, owner_person_id=sue)
    attach(world, objective, kr, httpserver.url_for("/n"))
    other = OkrLedger(env=es_env)
    try:
        syncs = [
            SourceSync(world.ledger, settings(), Clock(START)),
            SourceSync(other, settings(), Clock(START)),
        ]
        start = threading.Barrier(len(syncs))

        def on_demand(sync: SourceSync) -> None:
            start.wait()
            sync.sync_now(objective, kr)

        threads = [threading.Thread(target=on_demand, args=(s,)) for s in syncs]
        run_together(threads, 30)
    finally:
        other.close()
    assert len(httpserver.log) == 2, "both processes fetched and failed"
    assert outbox(world.ledger) == [("source_failing", sue, f"/objectives/{objective}")]

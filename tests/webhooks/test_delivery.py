"""Webhook delivery against a real PostgreSQL and a real HTTP receiver (pytest-httpserver).

A controllable clock drives the backoff: nothing sleeps for the minutes a retry waits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import psycopg
import pytest
from pytest_httpserver import HTTPServer
from standardwebhooks.webhooks import Webhook
from werkzeug import Request, Response

from domain.application import OkrLedger
from domain.base import CommandContext
from domain.errors import InvalidValue
from domain.objective import Kind
from domain.webhook import WebhookEndpoint
from infra.secretbox import SecretBox
from infra.settings import Settings
from infra.webhooks.delivery import WebhookDelivery
from infra.webhooks.endpoints import register_endpoint
from infra.webhooks.store import WebhookStore
from tests.clock import Clock

pytestmark = pytest.mark.postgres

ADMIN = CommandContext(actor="admin")


@dataclass
class Receiver:
    """A real HTTP receiver that answers with the statuses it is told, and keeps what came."""

    server: HTTPServer
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: Request) -> Response:
        with self.lock:
            status, headers = self.answers.pop(0) if self.answers else (200, {})
            if 200 <= status < 300:
                self.received.append((dict(request.headers), request.get_data()))
        return Response("ok" if status < 300 else "nope", status=status, headers=headers)

    @property
    def url(self) -> str:
        return self.server.url_for("/hook")

    def bodies(self) -> list[dict[str, Any]]:
        return [orjson.loads(body) for _, body in self.received]


@pytest.fixture
def receiver(httpserver: HTTPServer) -> Receiver:
    r = Receiver(httpserver)
    httpserver.expect_request("/hook", method="POST").respond_with_handler(r.handle)
    return r


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def store(ledger: OkrLedger) -> WebhookStore:
    return WebhookStore(ledger.recorder.datastore, SecretBox.from_settings(Settings()))  # type: ignore[attr-defined]


@pytest.fixture
def delivery(ledger: OkrLedger, store: WebhookStore, clock: Clock) -> Iterator[WebhookDelivery]:
    d = WebhookDelivery(ledger, store, allow_private=True, timeout=5, clock=clock)
    try:
        yield d
    finally:
        d.close()


def register(
    ledger: OkrLedger,
    store: WebhookStore,
    url: str,
    types: list[str] | None = None,
    private_content: bool = False,
) -> tuple[WebhookEndpoint, str]:
    result, secret = register_endpoint(
        ledger, store, url, types or ["*"], private_content, ADMIN, allow_private=True
    )
    return ledger.get_webhook_endpoint(result.id), secret


def plan_cycles(ledger: OkrLedger, n: int = 1) -> list[Any]:
    return [
        ledger.plan_cycle(f"Q{i}", date(2026, 1, 1), date(2026, 3, 31), ADMIN).id
        for i in range(1, n + 1)
    ]


def test_every_event_arrives_signed_in_order_and_the_secret_is_in_no_event(
    ledger: OkrLedger,
    store: WebhookStore,
    delivery: WebhookDelivery,
    receiver: Receiver,
    database_url: str,
) -> None:
    endpoint, secret = register(ledger, store, receiver.url)
    [cycle_id] = plan_cycles(ledger)
    ledger.start_cycle(cycle_id, ADMIN)
    delivery.round()
    delivery.round()  # the first round's sends may unblock the aggregate's next event
    verifier = Webhook(secret)
    types = []
    for headers, body in receiver.received:
        document = verifier.verify(body, headers)  # raises unless signed with the secret
        assert headers["Webhook-Id"] == document["id"]
        assert headers["Content-Type"] == "application/cloudevents+json"
        types.append(document["type"])
    assert types == ["Cycle.Planned", "Cycle.Started"]  # not the endpoint's own registration
    assert receiver.bodies()[0]["data"]["name"] == "Q1"
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 44).verify(*reversed(receiver.received[0]))  # type: ignore[arg-type]
    table = ledger.recorder.events_table_name  # type: ignore[attr-defined]
    with psycopg.connect(database_url) as conn:
        states = conn.execute(f"SELECT state FROM {table}").fetchall()
    assert states and not any(secret.encode() in bytes(s[0]) for s in states)
    assert not any(secret.removeprefix("whsec_").encode() in bytes(s[0]) for s in states)
    [last] = store.deliveries(endpoint.id, limit=1)
    assert (last.status, last.attempts, last.last_status) == ("delivered", 1, 200)


@dataclass
class Wired:
    """An endpoint to the receiver for every event (and a cycle planned after it), the store,
    the delivery worker and its clock."""

    endpoint: WebhookEndpoint
    store: WebhookStore
    delivery: WebhookDelivery
    receiver: Receiver
    clock: Clock


@pytest.fixture
def wired(
    ledger: OkrLedger,
    store: WebhookStore,
    delivery: WebhookDelivery,
    receiver: Receiver,
    clock: Clock,
) -> Wired:
    registered, _ = register(ledger, store, receiver.url)
    plan_cycles(ledger)
    return Wired(registered, store, delivery, receiver, clock)


def test_a_500_is_retried_after_the_backoff_not_before(wired: Wired) -> None:
    wired.receiver.answers = [(500, {})]
    wired.delivery.round()
    [row] = wired.store.deliveries(wired.endpoint.id)
    assert (row.status, row.attempts, row.last_status) == ("pending", 1, 500)
    assert row.next_attempt_at is not None
    wait = row.next_attempt_at - wired.clock.now
    assert timedelta(seconds=5) <= wait <= timedelta(seconds=10)
    assert wired.delivery.send_due() == 0  # not due yet
    wired.clock.advance(seconds=11)
    assert wired.delivery.send_due() == 1
    [row] = wired.store.deliveries(wired.endpoint.id)
    assert (row.status, row.attempts) == ("delivered", 2)
    assert len(wired.receiver.received) == 1


def test_retry_after_is_honoured(wired: Wired) -> None:
    wired.receiver.answers = [(429, {"Retry-After": "600"})]
    wired.delivery.round()
    wired.clock.advance(seconds=599)  # far beyond the first backoff (at most 10 s)
    assert wired.delivery.send_due() == 0
    wired.clock.advance(seconds=2)
    assert wired.delivery.send_due() == 1
    assert [d.status for d in wired.store.deliveries(wired.endpoint.id)] == ["delivered"]


def test_a_410_disables_the_endpoint_with_an_event_in_the_log(
    ledger: OkrLedger, wired: Wired
) -> None:
    wired.receiver.answers = [(410, {})]
    wired.delivery.round()
    endpoint = ledger.get_webhook_endpoint(wired.endpoint.id)
    assert not endpoint.enabled
    assert endpoint.disabled_reason == "receiver answered 410 Gone"
    events = list(ledger.events.get(endpoint.id))  # type: ignore[attr-defined]
    assert type(events[-1]) is WebhookEndpoint.Disabled and events[-1].actor == "system"
    assert [d.status for d in wired.store.deliveries(endpoint.id)] == ["failed"]
    plan_cycles(ledger)
    wired.delivery.round()
    assert len(wired.store.deliveries(endpoint.id)) == 1  # nothing queued while disabled


def test_a_receiver_down_for_a_while_gets_everything_in_order_once_back(
    ledger: OkrLedger,
    store: WebhookStore,
    delivery: WebhookDelivery,
    receiver: Receiver,
    clock: Clock,
) -> None:
    register(ledger, store, receiver.url)
    [a, b] = plan_cycles(ledger, 2)
    ledger.start_cycle(a, ADMIN)
    ledger.open_grading(a, ADMIN)
    ledger.start_cycle(b, ADMIN)
    receiver.answers = [(503, {})] * 12  # down: every attempt of a few rounds fails
    for _ in range(6):
        delivery.round()
        clock.advance(minutes=30)
    assert receiver.answers == [] and receiver.received == []
    for _ in range(6):  # back up
        delivery.round()
        clock.advance(minutes=30)
    seen = [(d["subject"], d["aggregateversion"]) for d in receiver.bodies()]
    assert sorted(seen) == sorted({*seen}) and len(seen) == 5
    for subject in {s for s, _ in seen}:
        versions = [v for s, v in seen if s == subject]
        assert versions == sorted(versions)  # per aggregate, in log order


def test_private_targets_are_refused_at_registration_and_at_connect_time(
    ledger: OkrLedger, store: WebhookStore, receiver: Receiver, clock: Clock
) -> None:
    with pytest.raises(InvalidValue) as info:
        register_endpoint(ledger, store, receiver.url, ["*"], False, ADMIN)
    assert (info.value.rule, info.value.field) == ("url_private", "url")
    endpoint, _ = register(ledger, store, receiver.url)  # allowed while it was registered
    plan_cycles(ledger)
    strict = WebhookDelivery(ledger, store, allow_private=False, timeout=5, clock=clock)
    try:
        strict.round()
    finally:
        strict.close()
    [row] = store.deliveries(endpoint.id)
    assert row.status == "pending" and "private" in row.last_error
    assert receiver.received == []


def test_a_private_objective_content_is_withheld_unless_the_endpoint_may_carry_it(
    ledger: OkrLedger, store: WebhookStore, delivery: WebhookDelivery, httpserver: HTTPServer
) -> None:
    plain, granted = Receiver(httpserver), Receiver(httpserver)
    httpserver.expect_request("/plain").respond_with_handler(plain.handle)
    httpserver.expect_request("/granted").respond_with_handler(granted.handle)
    register(ledger, store, httpserver.url_for("/plain"), ["Objective.Drafted"])
    register(ledger, store, httpserver.url_for("/granted"), ["Objective.Drafted"], True)
    [cycle_id] = plan_cycles(ledger)
    person = ledger.register_person("Ada", "ada@example.com", ADMIN).id
    for private in (True, False):
        ledger.draft_objective(
            cycle_id=cycle_id,
            title=f"Secret plan {private}",
            kind=Kind.COMMITTED,
            ctx=ADMIN,
            owner_person_id=person,
            private=private,
        )
    delivery.round()
    # Two objectives (two aggregates): they may arrive in either order.
    [hidden] = [b for b in plain.bodies() if "withheld" in b]
    [shown] = [b for b in plain.bodies() if "withheld" not in b]
    assert "data" not in hidden and hidden["withheld"] == "private"
    assert hidden["type"] == "Objective.Drafted" and hidden["subject"]
    assert not any(b"Secret plan True" in body for _, body in plain.received)
    assert shown["data"]["title"] == "Secret plan False"
    assert sorted(b["data"]["title"] for b in granted.bodies()) == [
        "Secret plan False",
        "Secret plan True",
    ]


def test_several_processes_deliver_each_event_once(
    ledger: OkrLedger, store: WebhookStore, receiver: Receiver, clock: Clock
) -> None:
    register(ledger, store, receiver.url)
    plan_cycles(ledger, 12)
    senders = [
        WebhookDelivery(
            ledger, WebhookStore(store.datastore, store.box), allow_private=True, clock=clock
        )
        for _ in range(3)
    ]
    try:
        threads = [threading.Thread(target=s.round) for s in senders for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        senders[0].round()
    finally:
        for s in senders:
            s.close()
    ids = [b["id"] for b in receiver.bodies()]
    assert len(ids) == 12 and len(set(ids)) == 12

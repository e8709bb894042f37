"""Following the log into deliveries, and posting them: at least once, in order per aggregate.

**Follower.** One round, in one transaction: lock the progress row (``FOR UPDATE``: several
processes follow one at a time), read a page of the log after it, find every enabled endpoint
whose event types match each event (and that was registered before it), write one delivery row
per (endpoint, event) holding the signed body's content, and move the progress to the page's
end. Rows and progress commit together, so each (endpoint, event) is written exactly once,
whichever process dies when. With no endpoint the round only moves the position to the head.

**Sender.** Leases due deliveries (``FOR UPDATE SKIP LOCKED``, a lease in the row, so several
processes never send one delivery at the same time), each the first pending delivery of its
aggregate for its endpoint, posts them concurrently, and settles each: 2xx delivered; 410 the
delivery fails and the endpoint is disabled (an event with the reason); anything else, a
timeout or a refused connection is retried after an exponential backoff with jitter, or after
the receiver's ``Retry-After``, until 24 h after the delivery was created, then it fails.

**Body.** The CloudEvents envelope the Kafka relay publishes (`infra.kafka.envelope`), with
personal data sealed as stored. An `Objective` event of a private objective goes to an endpoint
without the private-content grant with its ``data`` withheld (``"withheld": "private"``).
Signed per Standard Webhooks (`standardwebhooks`): ``webhook-id`` is the CloudEvents ``id``
(the same on every retry, redelivery and replay: receivers dedupe by it).
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import orjson
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Notification
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier
from standardwebhooks.webhooks import Webhook

from domain.application import OkrLedger
from domain.base import CommandContext
from domain.channel import ChatChannel
from domain.errors import OkrError
from domain.objective import Objective
from domain.webhook import WebhookEndpoint
from infra.kafka import envelope
from infra.kafka.pg import postgres_recorder
from infra.kafka.relay import event_for_publishing
from infra.repeating import Repeating
from infra.secretbox import SecretBox
from infra.settings import Settings
from infra.views.log import LogReader
from infra.webhooks.chat import Notice, message_body
from infra.webhooks.guard import guarded_client
from infra.webhooks.store import DELIVERED, FAILED, PENDING, Due, WebhookStore
from projections.catalogue import narrate
from projections.narrative import Context, advance

log = logging.getLogger("okrledger.webhooks")

Clock = Callable[[], datetime]

CONTENT_TYPE = "application/cloudevents+json"
BASE_DELAY = timedelta(seconds=10)
MAX_DELAY = timedelta(hours=2)
GONE = 410
CHAT_EVENTS = frozenset(
    {
        "Objective.SubmittedForApproval",
        "Objective.ChangesRequested",
        "Objective.CounterProposed",
        "Objective.CounterProposalAccepted",
        "Objective.CounterProposalDeclined",
        "Objective.Approved",
        "Objective.Withdrawn",
        "Objective.AmendmentProposed",
        "Objective.AmendmentApproved",
        "Objective.AmendmentRejected",
        "Objective.ProgressReported",
        "Objective.CheckInCorrected",
    }
)
"""The negotiation and check-in events a team's chat channel hears about."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int, rand: Callable[[float, float], float] = random.uniform) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 10 s doubling up to 2 h, the second half
    of it random ("equal jitter"), so receivers coming back are not hit by every sender at once."""
    full = min(MAX_DELAY, BASE_DELAY * (2 ** max(0, attempts - 1)))
    jitter = float(rand(0, full.total_seconds() / 2))
    half: timedelta = full / 2
    return half + timedelta(seconds=jitter)


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """The receiver's ``Retry-After`` (seconds or an HTTP date), if it sent a usable one."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(timedelta(0), when - now)


@dataclass
class Endpoints:
    """The registered endpoints and chat channels as of now, with their secrets (a channel's
    is its URL) and registration positions."""

    states: dict[UUID, WebhookEndpoint]
    secrets: dict[UUID, str]
    since: dict[UUID, int]
    channels: dict[UUID, ChatChannel] = field(default_factory=dict)

    def enabled(self) -> list[UUID]:
        return [i for i, e in self.states.items() if e.enabled] + [
            i for i, c in self.channels.items() if c.enabled
        ]


class WebhookDelivery:
    """The follower and the sender for one ledger's store."""

    def __init__(
        self,
        ledger: OkrLedger,
        store: WebhookStore,
        *,
        allow_private: bool = False,
        timeout: float = 10.0,
        give_up_after: timedelta = timedelta(hours=24),
        source: str = "urn:okrledger",
        clock: Clock = utc_now,
        page_size: int = 500,
        batch: int = 200,
        concurrency: int = 16,
        public_url: str | None = None,
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.recorder = postgres_recorder(ledger)
        self.allow_private = allow_private
        self.timeout = timeout
        self.give_up_after = give_up_after
        self.source = source
        self.clock = clock
        self.page_size = page_size
        self.batch = batch
        self.concurrency = concurrency
        self.public_url = public_url.rstrip("/") if public_url else None
        """Where people reach the web UI: chat messages link to its pages."""
        self._client: httpx.Client | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._since: dict[UUID, int] = {}
        self._private: dict[UUID, bool] = {}
        events = self.recorder.events_table_name
        schema = self.recorder.datastore.schema or "public"
        self._events = SQL("{}.{}").format(Identifier(schema), Identifier(events))
        chain = getattr(self.recorder, "chain_table_name", None)
        self._page = SQL(
            "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state"
            + (", c.hash, c.committed_at" if chain else ", NULL, NULL")
            + " FROM {events} e"
            + (" LEFT JOIN {chain} c ON c.position = e.notification_id" if chain else "")
            + " WHERE e.notification_id > %s AND e.notification_id <= %s"
            " ORDER BY e.notification_id LIMIT %s"
        ).format(
            events=self._events,
            chain=SQL("{}.{}").format(Identifier(schema), Identifier(chain or "x")),
        )
        self._head = SQL("SELECT coalesce(max(notification_id), 0) FROM {}").format(self._events)
        self._registered_at = SQL(
            "SELECT originator_id, notification_id FROM {} "
            "WHERE originator_id = ANY(%s) AND originator_version = 1"
        ).format(self._events)

    @classmethod
    def configured(
        cls, ledger: OkrLedger, settings: Settings, clock: Clock = utc_now
    ) -> WebhookDelivery:
        return cls(
            ledger,
            WebhookStore(postgres_recorder(ledger).datastore, SecretBox.from_settings(settings)),
            allow_private=settings.webhook_allow_private,
            timeout=settings.webhook_timeout_seconds,
            give_up_after=timedelta(hours=settings.webhook_retry_hours),
            source=settings.kafka_source,
            concurrency=settings.webhook_concurrency,
            clock=clock,
            public_url=settings.public_url,
        )

    @property
    def client(self) -> httpx.Client:
        """The HTTP client, made on the first send (the API's replays never need one)."""
        with self._lock:
            if self._client is None:
                self._client = guarded_client(
                    self.allow_private, self.timeout, max_connections=self.concurrency * 2
                )
            return self._client

    @property
    def pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self.concurrency, thread_name_prefix="okr-webhook-send"
                )
            return self._pool

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            if self._client is not None:
                self._client.close()
            self._pool = self._client = None

    # -------------------------------------------------------------- endpoints

    def endpoints(self) -> Endpoints:
        secrets = self.store.secrets()
        states: dict[UUID, WebhookEndpoint] = {}
        channels: dict[UUID, ChatChannel] = {}
        for endpoint_id in secrets:
            try:
                found: object = self.ledger.repository.get(endpoint_id)
            except AggregateNotFoundError:
                continue  # a secret whose registration did not commit
            if isinstance(found, WebhookEndpoint):
                states[endpoint_id] = found
            elif isinstance(found, ChatChannel):
                channels[endpoint_id] = found
        missing = [i for i in [*states, *channels] if i not in self._since]
        if missing:
            with (
                self.recorder.datastore.get_connection() as conn,
                conn.cursor(row_factory=tuple_row) as curs,
            ):
                curs.execute(self._registered_at, (missing,))
                for endpoint_id, position in curs.fetchall():
                    self._since[endpoint_id] = int(position)
        return Endpoints(states, secrets, dict(self._since), channels)

    # ---------------------------------------------------------------- follower

    def follow(self, up_to: int | None = None) -> int:
        """One follower round; how many delivery rows it wrote."""
        self.store.create_tables()
        with self.recorder.datastore.get_connection() as conn, conn.transaction():
            row = conn.execute(
                SQL("SELECT position FROM {} WHERE name = 'follower' FOR UPDATE").format(
                    self.store.progress
                )
            ).fetchone()
            position = int(row["position"]) if row else 0
            with conn.cursor(row_factory=tuple_row) as curs:
                head_row = curs.execute(self._head).fetchone()
                head = int(head_row[0]) if head_row else 0
                if up_to is not None:
                    head = min(head, up_to)
                if head <= position:
                    return 0
                # The endpoints after the head: one registered at or before the head has its
                # secret row committed already (it is written before the event).
                endpoints = self.endpoints()
                live = [e for e in endpoints.states.values() if e.enabled]
                chats = [c for c in endpoints.channels.values() if c.enabled]
                page: list[tuple[Any, ...]] = []
                if live or chats:  # else nothing to deliver: straight to the head
                    curs.execute(self._page, (position, head, self.page_size))
                    page = curs.fetchall()
            rows: list[tuple[UUID, int, UUID, str, str, bytes, datetime, int | None]] = []
            now = self.clock()
            for r in page:
                rows.extend(self._rows_for(r, live, endpoints, now, None))
                if chats:
                    rows.extend(self._chat_rows(r, chats, endpoints, now))
            last = int(page[-1][0]) if page else head
            self.store.insert(conn, rows)
            conn.execute(
                SQL(
                    "UPDATE {} SET position = %s, updated_at = now() WHERE name = 'follower'"
                ).format(self.store.progress),
                (last,),
            )
        return len(rows)

    def _rows_for(
        self,
        r: tuple[Any, ...],
        endpoints: list[WebhookEndpoint],
        known: Endpoints,
        now: datetime,
        redelivery_of: int | None,
        *,
        replay: bool = False,
    ) -> list[tuple[UUID, int, UUID, str, str, bytes, datetime, int | None]]:
        position, originator_id, version, topic, state, chain_hash, committed_at = r
        position = int(position)
        type_name = topic.rsplit(":", 1)[-1]
        targets = [
            e
            for e in endpoints
            if e.receives(type_name) and (replay or position > known.since.get(e.id, 2**62))
        ]
        if not targets:
            return []
        notification = Notification(
            id=position,
            originator_id=originator_id,
            originator_version=version,
            topic=topic,
            state=bytes(state),
        )
        event = event_for_publishing(self.ledger.mapper, notification)
        message = envelope.encode(
            event,
            position=position,
            source=self.source,
            chain_hash=bytes(chain_hash) if chain_hash is not None else None,
            committed_at=committed_at,
        )
        withheld: bytes | None = None
        if isinstance(event, Objective.Event) and self._is_private(event):
            document = orjson.loads(message.value)
            document.pop("data", None)
            document["withheld"] = "private"
            withheld = orjson.dumps(document)
        out = []
        for endpoint in targets:
            body = message.value
            if withheld is not None and not endpoint.private_content:
                body = withheld
            out.append(
                (
                    endpoint.id,
                    position,
                    originator_id,
                    message.event_id,
                    type_name,
                    body,
                    now,
                    redelivery_of,
                )
            )
        return out

    def _chat_rows(
        self, r: tuple[Any, ...], channels: list[ChatChannel], known: Endpoints, now: datetime
    ) -> list[tuple[UUID, int, UUID, str, str, bytes, datetime, int | None]]:
        """A team's negotiation and check-in events, narrated for its channels (and the
        organisation's); never a private objective's."""
        position, originator_id, version, topic = r[:4]
        position = int(position)
        type_name = topic.rsplit(":", 1)[-1]
        if type_name not in CHAT_EVENTS:
            return []
        targets = [c for c in channels if position > known.since.get(c.id, 2**62)]
        if not targets:
            return []
        objective: object = self.ledger.repository.get(originator_id, version=version)
        if not isinstance(objective, Objective) or objective.private:
            return []
        targets = [c for c in targets if c.team_id in (None, objective.owner_team_id)]
        if not targets:
            return []
        notice = self._notice(objective, position)
        message_id = envelope.event_id(originator_id, version)
        return [
            (
                c.id,
                position,
                originator_id,
                message_id,
                type_name,
                message_body(c.kind, notice),
                now,
                None,
            )
            for c in targets
        ]

    def _notice(self, objective: Objective, position: int) -> Notice:
        """The event at `position` narrated as the audit trail says it (against the state
        of its objective, cycle and team before it), with a link to the objective's page."""
        link = f"{self.public_url}/objectives/{objective.id}" if self.public_url else None
        reader = LogReader(self.recorder, self.ledger.mapper)
        related = [objective.id, objective.cycle_id]
        if objective.owner_team_id is not None:
            related.append(objective.owner_team_id)
        try:
            history = reader.of_originators(related, 0, position)
            context = Context()
            for logged in history[:-1]:
                advance(context, logged)
            sentence = narrate(context, history[-1]).action
        except Exception:  # a context this narrow cannot phrase it: say what happened plainly
            log.debug("could not narrate position %s", position, exc_info=True)
            sentence = f"{objective.title}: {objective.status.value}"
        return Notice(title=objective.title, text=sentence, link=link)

    def _is_private(self, event: Objective.Event) -> bool:
        """Whether the event's objective is private (fixed when it was drafted)."""
        objective_id = event.originator_id
        if isinstance(event, Objective.Drafted):
            self._private[objective_id] = event.private
        if objective_id not in self._private:
            drafted: object = self.ledger.repository.get(objective_id, version=1)
            self._private[objective_id] = bool(getattr(drafted, "private", False))
        return self._private[objective_id]

    def replay(self, endpoint_id: UUID, from_position: int) -> int:
        """Queue every event the endpoint receives from `from_position` (inclusive) up to the
        follower's position again; how many deliveries that makes."""
        endpoint = self.ledger.get_webhook_endpoint(endpoint_id)
        known = self.endpoints()
        up_to = self.store.follower_position()
        after = max(0, from_position - 1)
        total = 0
        now = self.clock()
        while after < up_to:
            with self.recorder.datastore.get_connection() as conn, conn.transaction():
                with conn.cursor(row_factory=tuple_row) as curs:
                    curs.execute(self._page, (after, up_to, self.page_size))
                    page = curs.fetchall()
                if not page:
                    break
                rows = []
                for r in page:
                    rows.extend(self._rows_for(r, [endpoint], known, now, None, replay=True))
                self.store.insert(conn, rows)
                total += len(rows)
                after = int(page[-1][0])
        return total

    # ------------------------------------------------------------------ sender

    def send_due(self) -> int:
        """One sender round; how many deliveries it attempted."""
        known = self.endpoints()
        enabled = known.enabled()
        now = self.clock()
        lease = now + timedelta(seconds=self.timeout + 30)
        due = self.store.lease_due(enabled, now, lease, self.batch)
        if not due:
            return 0
        list(self.pool.map(lambda d: self._attempt(d, known), due))
        return len(due)

    def _attempt(self, due: Due, known: Endpoints) -> None:
        endpoint: WebhookEndpoint | ChatChannel
        if due.endpoint_id in known.channels:  # Slack / Teams: the secret is the URL
            endpoint = known.channels[due.endpoint_id]
            url = known.secrets[due.endpoint_id]
            headers = {"content-type": "application/json", "user-agent": "okrledger-webhooks"}
        else:
            endpoint = known.states[due.endpoint_id]
            url = endpoint.url
            signer = Webhook(known.secrets[due.endpoint_id])
            sent_at = datetime.now(UTC)  # the signature's time is the wire's, not the clock's
            headers = {
                "content-type": CONTENT_TYPE,
                "webhook-id": due.message_id,
                "webhook-timestamp": str(int(sent_at.timestamp())),
                "webhook-signature": signer.sign(due.message_id, sent_at, due.body),
                "user-agent": "okrledger-webhooks",
            }
        status: int | None = None
        error = ""
        wait: timedelta | None = None
        try:
            response = self.client.post(url, content=due.body, headers=headers)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}: {response.text[:200]}"
                wait = retry_after(response.headers.get("retry-after"), self.clock())
        except httpx.HTTPError as e:
            error = f"{type(e).__name__}: {e}"
        attempts = due.attempts + 1
        now = self.clock()
        delivered = status is not None and 200 <= status < 300
        if delivered:
            outcome, next_at = DELIVERED, now
        elif status == GONE:
            outcome, next_at = FAILED, now
        else:
            next_at = now + (wait if wait is not None else backoff(attempts))
            outcome = FAILED if next_at > due.created_at + self.give_up_after else PENDING
        self.store.settle(
            due.id,
            status=outcome,
            attempts=attempts,
            next_attempt_at=next_at,
            last_status=status,
            last_error=error,
            delivered_at=now if delivered else None,
        )
        if status == GONE:
            self._disable(endpoint, "receiver answered 410 Gone")

    def _disable(self, endpoint: WebhookEndpoint | ChatChannel, reason: str) -> None:
        try:
            if isinstance(endpoint, ChatChannel):
                self.ledger.disable_chat_channel(endpoint.id, reason, CommandContext.system())
            else:
                self.ledger.disable_webhook_endpoint(endpoint.id, reason, CommandContext.system())
        except OkrError:
            pass  # disabled already (another sender saw the 410 too)
        except Exception:
            log.exception("could not disable webhook endpoint %s", endpoint.id)

    def round(self, max_pages: int = 20) -> tuple[int, int]:
        """Follow until caught up (at most `max_pages` pages, so that sending keeps up under a
        steady stream of writes), then send what is due: (rows written, attempts made)."""
        written = 0
        for _ in range(max_pages):
            n = self.follow()
            written += n
            if n == 0 and self.store.follower_position() >= self._log_head():
                break
        return written, self.send_due()

    def _log_head(self) -> int:
        with (
            self.recorder.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row) as curs,
        ):
            row = curs.execute(self._head).fetchone()
        return int(row[0]) if row else 0


class WebhookService(Repeating):
    """Runs the follower and the sender every `interval` seconds (`okr serve`, `okr webhooks`)."""

    def __init__(self, delivery: WebhookDelivery, interval: float = 1.0) -> None:
        super().__init__("okr-webhooks", interval)
        self.delivery = delivery
        self.rounds = 0
        self._round_done = threading.Condition()

    def round(self) -> None:
        self.delivery.round()
        with self._round_done:
            self.rounds += 1
            self._round_done.notify_all()

    def stop(self, timeout: float = 30.0) -> None:
        super().stop(timeout)
        self.delivery.close()

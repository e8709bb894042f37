"""The notifier: a follower that turns the log into notices, and senders that deliver them.

**Follower** (one active per database: a session advisory lock; others stand by). Woken by the
event store's NOTIFY, it reads the log past its tracked position, asks the pure
`projections.notices.notices_for` which notices each event causes, and writes those notices
to the outbox *in the same transaction* that moves its tracking position. Killed anywhere, it
either committed both or neither: no notice is lost or decided twice. On start it folds the
log up to its position to rebuild the decision state (no notices), then follows.

**Senders** (one per process; any number of processes). Two steps, each claiming rows with
`FOR UPDATE SKIP LOCKED`, so concurrent senders never take the same row:

1. *dispatch*: a new notice gets one delivery row per channel, from the recipient's
   preferences as they are now: in-app is sent by being stored; e-mail is `pending` (from the
   end of the person's quiet hours), `held` for the digest, or `skipped` when turned off.
   Deactivated and forgotten people get none (the notice is marked `dropped`).
2. *send*: a due `pending` delivery is rendered (names as they are now), sent, and marked
   `sent` in the transaction that claimed it; a failure is retried with exponential backoff
   and jitter, then `failed`.

The only repeatable window is in step 2: between the channel accepting a message and the
commit that marks it sent. A process killed there leaves the row `pending`, and the next
sender sends it again with the same `Message-ID` (`<notice-id>.email@domain`), which mail
clients and services that deduplicate by it collapse. One message at most, per crash.

Crash points for the tests (`OKR_TEST_NOTIFIER_CRASH_POINT`, honoured with
`OKR_ENVIRONMENT=test` only): see `CRASH_POINTS`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import signal
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.utils import get_topic
from psycopg import Connection
from psycopg.rows import tuple_row
from psycopg.sql import SQL

from domain.application import OkrLedger
from domain.objective import Objective
from domain.person import NotificationPreferences, Person
from infra.leadership import leadership
from infra.listening import follow_log, listening, wait_for_notify
from infra.notify.channels import Channel, EmailChannel, SmtpConfig
from infra.notify.render import Directory, Recipient, render
from infra.notify.store import CHANNEL, IN_APP, NoticeStore, notice_of
from infra.notify.unsubscribe import UnsubscribeLinks
from infra.settings import Settings
from infra.views.log import LogReader
from projections.base import Logged
from projections.notices import HANDLED, Notice, NoticesState, notices_for

log = logging.getLogger("okrledger.notifier")

LOCK_KEY = "okrledger:notifier:follower"
CRASH_POINTS = (
    "follow_before_commit",  # notices and position written, not committed
    "follow_after_commit",  # committed, before the next page
    "dispatch_before_commit",  # delivery rows written, not committed
    "send_before_send",  # a delivery claimed, nothing sent
    "send_after_send",  # the SMTP server accepted the message, the row not yet marked sent
    "send_after_commit",  # marked sent
)
MAX_ATTEMPTS = 12
"""Tries of one delivery before it is marked failed (backoff 10 s doubling, capped at 1 h)."""


def base_url(settings: Settings) -> str:
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def configured_channels(settings: Settings) -> list[Channel]:
    """The channels the settings turn on, besides in-app (always on)."""
    channels: list[Channel] = []
    if settings.smtp_url is not None:
        config = SmtpConfig.from_url(settings.smtp_url.get_secret_value())
        channels.append(EmailChannel(config, settings.mail_from))
    return channels


class LedgerDirectory:
    """People and objectives as the ledger holds them now (current names, active state,
    preferences), read by id."""

    def __init__(self, ledger: OkrLedger) -> None:
        self.ledger = ledger

    def person(self, person_id: UUID) -> Recipient | None:
        try:
            person: object = self.ledger.repository.get(person_id)
        except AggregateNotFoundError:
            return None
        if not isinstance(person, Person):
            return None
        return Recipient(
            person.id,
            person.name,
            person.email,
            person.active and not person.forgotten,
            person.notifications,
        )

    def objective_title(self, objective_id: UUID) -> str | None:
        try:
            objective: object = self.ledger.repository.get(objective_id)
        except AggregateNotFoundError:
            return None
        return objective.title if isinstance(objective, Objective) else None


def quiet_until(
    preferences: NotificationPreferences, now: datetime, default_time_zone: str
) -> datetime | None:
    """When the person's quiet hours end, if `now` falls within them (else None)."""
    hours = preferences.quiet_hours()
    if hours is None:
        return None
    start, end = hours
    zone = ZoneInfo(preferences.time_zone or default_time_zone)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    inside = start <= clock < end if start < end else (clock >= start or clock < end)
    if not inside:
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone).astimezone(UTC)


class Notifier:
    """The follower and the sender of one process (`okr serve`, `okr notifier`)."""

    def __init__(
        self,
        ledger: OkrLedger,
        settings: Settings,
        channels: Sequence[Channel] | None = None,
        *,
        follow: bool = True,
        send: bool = True,
        directory: Directory | None = None,
        poll_seconds: float = 0.5,
        max_batch: int = 2000,
    ) -> None:
        self.ledger = ledger
        self.settings = settings
        recorder: Any = ledger.recorder
        self.datastore = recorder.datastore
        self.store = NoticeStore(self.datastore)
        self.log = LogReader(recorder, ledger.mapper)
        self.directory: Directory = directory or LedgerDirectory(ledger)
        self.channels: dict[str, Channel] = {
            channel.name: channel
            for channel in (configured_channels(settings) if channels is None else channels)
        }
        self.base_url = base_url(settings)
        self.follow = follow
        self.send = send
        self.poll_seconds = poll_seconds
        self.max_batch = max_batch
        self.max_age = timedelta(hours=settings.notifier_max_age_hours)
        self.crash_point = (
            settings.notifier_test_crash_point if settings.environment == "test" else None
        )
        self.position = 0
        """The position this process's follower has committed (0 while standing by)."""
        self.following = threading.Event()
        self._links: UnsubscribeLinks | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._committed = threading.Condition()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._threads:
            return
        self.store.setup()
        self._links = UnsubscribeLinks(self.store, self.base_url)
        self._stop.clear()
        if self.follow:
            self._threads.append(
                threading.Thread(target=self._follow_main, name="okr-notifier-follow", daemon=True)
            )
        if self.send:
            self._threads.append(
                threading.Thread(target=self._send_main, name="okr-notifier-send", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop and return once both threads have ended (their connections are back in the
        pool), then close the channels."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        if not self.send or not self._threads:
            self._close_channels()  # else the sender thread closed them, on its way out
        self._threads = []

    def _close_channels(self) -> None:
        for channel in self.channels.values():
            with contextlib.suppress(Exception):
                channel.close()

    def wait_for(self, position: int, timeout: float) -> bool:
        """Until the follower of this process committed `position`."""
        with self._committed:
            return self._committed.wait_for(lambda: self.position >= position, timeout)

    def _crash(self, point: str) -> None:
        if self.crash_point == point:
            os.kill(os.getpid(), signal.SIGKILL)

    # ------------------------------------------------------------ follower

    def _follow_main(self) -> None:
        while not self._stop.is_set():
            try:
                with leadership(self.datastore, LOCK_KEY) as leading:
                    if not leading:
                        self._stop.wait(1.0)
                        continue
                    self.following.set()
                    self._follow()
            except Exception:
                log.exception("notifier follower failed; retrying")
                self._stop.wait(1.0)
            finally:
                self.following.clear()

    def restore(self, conn: Connection[Any], position: int) -> NoticesState:
        """The decision state at `position`: the events the decisions read, folded up to it,
        their notices discarded (they are in the outbox already). Only those events' topics
        are read and decoded (not the check-ins that make up most of a log)."""
        state = NoticesState()
        query = self.log.select + SQL(
            "WHERE e.notification_id > %s AND e.notification_id <= %s AND e.topic = ANY(%s) "
            "ORDER BY e.notification_id LIMIT %s"
        )
        topics = sorted(get_topic(cls) for cls in HANDLED)
        after = 0
        while after < position:
            with conn.cursor(row_factory=tuple_row) as curs:
                rows: list[Any] = curs.execute(query, (after, position, topics, 5000)).fetchall()
            if not rows:
                break
            for logged in self.log.logged(rows):
                notices_for(state, logged)
            after = int(rows[-1][0])
        state.position = position
        return state

    def _follow(self) -> None:
        with (
            listening(self.datastore, self.log.channel_name) as listener,
            self.datastore.get_connection() as conn,
        ):
            state = self.restore(conn, self.store.position())
            self._moved(state.position)
            follow_log(
                self.log,
                conn,
                listener,
                self._stop,
                lambda: state.position,
                lambda events: self._decide(conn, state, events),
                self.max_batch,
            )

    def decide(
        self, state: NoticesState, events: Sequence[Logged]
    ) -> tuple[list[Notice], frozenset[UUID]]:
        """The notices `events` cause, and those of them about events committed longer ago
        than the maximum age: those are shown in-app only (turning the notifier on over old
        history, or loading the demo's, fills the notifications pages and mails nobody)."""
        cutoff = datetime.now(UTC) - self.max_age
        found: list[Notice] = []
        old: set[UUID] = set()
        for logged in events:
            notices = notices_for(state, logged)
            found.extend(notices)
            if notices and logged.recorded_at < cutoff:
                old.update(n.id for n in notices)
        return found, frozenset(old)

    def _decide(self, conn: Connection[Any], state: NoticesState, events: list[Logged]) -> None:
        notices, old = self.decide(state, events)
        with conn.transaction(), conn.cursor() as curs:
            self.store.record(curs, notices, events[-1].position, old)
            self._crash("follow_before_commit")
        self._crash("follow_after_commit")
        self._moved(events[-1].position)

    def _moved(self, position: int) -> None:
        with self._committed:
            self.position = max(self.position, position)
            self._committed.notify_all()

    # ------------------------------------------------------------ senders

    def _send_main(self) -> None:
        """The sender loop; the channels are used, and closed at the end, by this thread only
        (an e-mail channel runs its own asyncio loop, which must not run in a thread that
        already runs one)."""
        try:
            self._sending()
        finally:
            self._close_channels()

    def _sending(self) -> None:
        while not self._stop.is_set():
            try:
                with listening(self.datastore, CHANNEL) as listener:
                    while not self._stop.is_set():
                        if self.dispatch() or self.send_one():
                            continue
                        wait_for_notify(listener, self.poll_seconds)
            except Exception:
                log.exception("notifier sender failed; retrying")
                self._stop.wait(1.0)

    def dispatch(self, limit: int = 200) -> int:
        """Give new notices their delivery rows (see the module's docstring); how many."""
        store = self.store
        with self.datastore.get_connection() as conn, conn.transaction():
            rows: list[Any] = conn.execute(
                SQL(
                    "SELECT * FROM {} WHERE dispatched_at IS NULL ORDER BY position, id "
                    "LIMIT %s FOR UPDATE SKIP LOCKED"
                ).format(store.notices),
                (limit,),
            ).fetchall()
            if not rows:
                return 0
            now = datetime.now(UTC)
            deliveries: list[tuple[Any, ...]] = []
            dropped: list[UUID] = []
            for row in rows:
                notice = notice_of(row)
                recipient = self.directory.person(notice.recipient_id)
                if recipient is None or not recipient.active:
                    dropped.append(notice.id)
                    continue
                deliveries.append((notice.id, IN_APP, "sent", now, now, None))
                prefs = recipient.preferences
                for name in self.channels:
                    if row["in_app_only"]:
                        deliveries.append((notice.id, name, "skipped", now, None, "too old"))
                    elif not prefs.wants(name):
                        deliveries.append((notice.id, name, "skipped", now, None, "turned off"))
                    elif prefs.delivery == "digest":
                        deliveries.append((notice.id, name, "held", now, None, "for the digest"))
                    else:
                        due = quiet_until(prefs, now, self.settings.default_time_zone) or now
                        deliveries.append((notice.id, name, "pending", due, None, None))
            with conn.cursor() as curs:
                if deliveries:
                    curs.executemany(
                        SQL(
                            "INSERT INTO {} (notice_id, channel, status, not_before, sent_at, "
                            "last_error) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
                        ).format(store.deliveries),
                        deliveries,
                    )
                curs.execute(
                    SQL(
                        "UPDATE {} SET dispatched_at = now(), dropped = CASE WHEN id = ANY(%s) "
                        "THEN 'recipient deactivated or forgotten' END WHERE id = ANY(%s)"
                    ).format(store.notices),
                    (dropped, [row["id"] for row in rows]),
                )
            self._crash("dispatch_before_commit")
        return len(rows)

    def send_one(self) -> bool:
        """Send one due delivery on a channel of this process; False when none is due."""
        if not self.channels:
            return False
        store = self.store
        with self.datastore.get_connection() as conn, conn.transaction():
            row: Any = conn.execute(
                SQL(
                    "SELECT d.channel, d.attempts, n.* FROM {} d JOIN {} n ON n.id = d.notice_id "
                    "WHERE d.status = 'pending' AND d.not_before <= now() AND d.channel = ANY(%s) "
                    "ORDER BY d.not_before, n.position LIMIT 1 FOR UPDATE OF d SKIP LOCKED"
                ).format(store.deliveries, store.notices),
                (list(self.channels),),
            ).fetchone()
            if row is None:
                return False
            notice = notice_of(row)
            name = row["channel"]
            update = SQL(
                "UPDATE {} SET status = %s, attempts = %s, message_id = %s, last_error = %s, "
                "sent_at = %s, not_before = %s WHERE notice_id = %s AND channel = %s"
            ).format(store.deliveries)
            attempts = int(row["attempts"]) + 1
            now = datetime.now(UTC)
            recipient = self.directory.person(notice.recipient_id)
            if recipient is None or not recipient.active or not recipient.preferences.wants(name):
                why = "turned off" if recipient and recipient.active else "recipient inactive"
                conn.execute(
                    update, ("skipped", attempts - 1, None, why, None, now, notice.id, name)
                )
                return True
            assert self._links is not None
            message = render(
                notice,
                recipient,
                self.directory,
                self.base_url,
                self._links.url(recipient.id, name),
            )
            self._crash("send_before_send")
            try:
                sent_id = self.channels[name].send(message)
            except Exception as error:
                failed = attempts >= MAX_ATTEMPTS
                delay = min(3600.0, 10.0 * 2 ** (attempts - 1)) * random.uniform(0.5, 1.0)
                conn.execute(
                    update,
                    (
                        "failed" if failed else "pending",
                        attempts,
                        None,
                        self._redacted(f"{type(error).__name__}: {error}"),
                        None,
                        now + timedelta(seconds=delay),
                        notice.id,
                        name,
                    ),
                )
                log.warning("%s to %s failed (attempt %d)", name, notice.recipient_id, attempts)
                return True
            self._crash("send_after_send")
            conn.execute(update, ("sent", attempts, sent_id, None, now, now, notice.id, name))
        self._crash("send_after_commit")
        return True

    def _redacted(self, text: str) -> str:
        """An error as stored and shown: never the SMTP password."""
        url = self.settings.smtp_url
        if url is not None:
            password = SmtpConfig.from_url(url.get_secret_value()).password
            if password is not None and password.get_secret_value():
                text = text.replace(password.get_secret_value(), "***")
        return text[:500]

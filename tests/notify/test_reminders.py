"""Check-in reminders end to end: the scheduler folds a real PostgreSQL event store under a
controlled clock (time-machine), writes the reminders due to the outbox, and the notifier
mails them to a real SMTP server (aiosmtpd).

The clock is moved for the scheduler only: the outbox's `not_before` is compared with the
database's own clock, which time-machine cannot move, so the notifier sends in real time. The
notifiers here only send (`follow=False`): the negotiation's own notices stay out of the way."""

from __future__ import annotations

import html
import threading
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
import time_machine

from domain.base import CommandContext
from domain.person import validate_preferences
from infra.notify.engine import Notifier
from infra.notify.reminders import ReminderScheduler
from tests.api.conftest import World
from tests.notify.conftest import Mailbox, Received, eventually
from tests.notify.test_email import settings_for
from tests.steps import draft, metric
from tests.threads import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.filterwarnings("ignore:Requiring AUTH")]

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = date.today() - timedelta(days=date.today().weekday()) + timedelta(days=7)
"""The Monday the weekly cycle starts: next week's (its objectives are approved before)."""


class Week:
    """A weekly cycle from next Monday; sue (member of sales, managed by sam) and max
    (member of platform) each own an approved objective with one key result. Sue lives in
    Berlin."""

    def __init__(self, world: World, delivery: str = "immediate") -> None:
        ledger = world.ledger
        system = CommandContext.system()
        self.world = world
        self.cycle = ledger.plan_cycle("Weekly", MONDAY, MONDAY + timedelta(days=90), system).id
        ledger.start_cycle(self.cycle, system)
        self.objective: dict[str, UUID] = {}
        self.kr: dict[str, UUID] = {}
        for name, approver in (("sue", "sam"), ("max", "mia")):
            owner = CommandContext(actor=str(world[name].person_id))
            objective = draft(
                ledger,
                owner,
                self.cycle,
                f"{name}'s objective",
                owner_person_id=world[name].person_id,
            )
            kr = metric(ledger, owner, objective, "Reach ten", 0, 10)
            ledger.submit_objective(objective, world[approver].person_id, owner)
            ledger.approve_objective(
                objective, CommandContext(actor=str(world[approver].person_id))
            )
            self.objective[name], self.kr[name] = objective, kr
        sue = world["sue"].person_id
        prefs = validate_preferences({}, delivery, "", "", "Europe/Berlin")
        ledger.set_notification_preferences(
            sue, prefs, "I live in Berlin", CommandContext(str(sue))
        )

    def check_in(self, name: str, on: date) -> None:
        """`name` checks in, dated `on` (the clock moved there: no check-in in the future)."""
        with time_machine.travel(datetime.combine(on, time(12), tzinfo=UTC), tick=False):
            self.world.ledger.check_in(
                self.objective[name],
                self.kr[name],
                5,
                7,
                CommandContext(actor=str(self.world[name].person_id)),
                effective_on=on,
            )


def berlin(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN)


def outbox(scheduler: ReminderScheduler) -> list[tuple[str, UUID, str]]:
    with scheduler.datastore.get_connection() as conn:
        rows: list[Any] = conn.execute(
            "SELECT kind, recipient_id, data->>'period' AS period FROM okrledger_notices "
            "WHERE kind LIKE 'check_in_%' ORDER BY kind, recipient_id"
        ).fetchall()
    return [(r["kind"], r["recipient_id"], r["period"]) for r in rows]


def reminders_in(mailbox: Mailbox) -> list[Received]:
    """The check-in reminders the SMTP server received (not the cycle phases' notices)."""
    with mailbox.lock:
        return [
            r for r in mailbox.received if str(r.mail["X-Okrledger-Notice"]).startswith("check_in")
        ]


def test_a_week_without_a_check_in_brings_a_reminder_on_monday_morning_local_time(
    world: World, mailbox: Mailbox
) -> None:
    """Done-when of issue 17. The cycle's first week: max checks in during it, sue does not.
    The Monday after, at 09:00 in Berlin, sue is reminded by e-mail; max is not."""
    week = Week(world)
    next_week, reminder_day = MONDAY, MONDAY + timedelta(days=7)
    week.check_in("max", next_week + timedelta(days=2))
    settings = settings_for(mailbox)
    scheduler = ReminderScheduler(world.ledger, settings, interval_seconds=0.05)
    with time_machine.travel(berlin(reminder_day, 8, 59), tick=False):
        scheduler.tick()
    assert outbox(scheduler) == []  # 08:59 in Berlin: not yet
    with time_machine.travel(berlin(reminder_day, 9, 0), tick=True):
        scheduler.start()  # the scheduler's own thread, under the same clock
        try:
            eventually(lambda: outbox(scheduler))
        finally:
            scheduler.stop()
    sue = world["sue"].person_id
    assert outbox(scheduler) == [("check_in_due", sue, next_week.isoformat())]

    notifier = Notifier(world.ledger, settings, follow=False, poll_seconds=0.1)
    notifier.start()
    try:
        [received] = eventually(lambda: reminders_in(mailbox))
        sent = len(mailbox.settle(1.0))
    finally:
        notifier.stop()
    mail = received.mail
    assert received.envelope_to == ["sue@acme.example"]
    assert mail["Subject"] == "Time to check in on “sue's objective”"
    text = mail.get_body(preferencelist=("plain",))
    assert text is not None
    assert f"https://okr.acme.example/objectives/{week.objective['sue']}" in text.get_content()
    assert f"since {next_week.isoformat()}" in text.get_content()
    assert str(mail["List-Unsubscribe"]).startswith("<https://okr.acme.example/notifications/")

    # A restarted scheduler (its state rebuilt from the log) and the same instant: nothing new,
    # and the notifier sends nothing twice.
    again = ReminderScheduler(world.ledger, settings)
    with time_machine.travel(berlin(reminder_day, 9, 30), tick=False):
        again.tick()
    assert len(outbox(again)) == 1
    again.stop()
    notifier = Notifier(world.ledger, settings, follow=False, poll_seconds=0.1)
    notifier.start()
    try:
        assert len(mailbox.settle(1.0)) == sent
    finally:
        notifier.stop()
    assert len(reminders_in(mailbox)) == 1


def test_overdue_after_the_grace_then_the_manager(world: World, mailbox: Mailbox) -> None:
    week = Week(world)
    next_week, reminder_day = MONDAY, MONDAY + timedelta(days=7)
    week.check_in("max", next_week)
    scheduler = ReminderScheduler(world.ledger, settings_for(mailbox, reminder_grace_days=2))
    sue, sam = world["sue"].person_id, world["sam"].person_id
    period = next_week.isoformat()
    with time_machine.travel(berlin(reminder_day, 9), tick=False):
        scheduler.tick()
    assert outbox(scheduler) == [("check_in_due", sue, period)]
    with time_machine.travel(berlin(reminder_day + timedelta(days=2), 8, 59), tick=False):
        scheduler.tick()
    assert len(outbox(scheduler)) == 1
    with time_machine.travel(berlin(reminder_day + timedelta(days=2), 9), tick=False):
        scheduler.tick()
    assert ("check_in_overdue", sue, period) in outbox(scheduler)
    # sam's time zone is the default (UTC): 09:00 UTC on the fourth day
    with time_machine.travel(datetime.combine(reminder_day + timedelta(days=4), time(9), UTC)):
        scheduler.tick()
    assert ("check_in_escalated", sam, period) in outbox(scheduler)
    assert len(outbox(scheduler)) == 3
    scheduler.stop()

    notifier = Notifier(world.ledger, settings_for(mailbox), follow=False, poll_seconds=0.1)
    notifier.start()
    try:
        received = eventually(lambda: len(reminders_in(mailbox)) == 3 and reminders_in(mailbox))
    finally:
        notifier.stop()
    subjects = {r.envelope_to[0]: [] for r in received}
    for r in received:
        subjects[r.envelope_to[0]].append(str(r.mail["Subject"]))
    assert sorted(subjects["sue@acme.example"]) == [
        "Time to check in on “sue's objective”",
        "Your check-in on “sue's objective” is overdue",
    ]
    assert subjects["sam@acme.example"] == ["A check-in on Sue's “sue's objective” is overdue"]


def test_several_schedulers_write_each_reminder_once(world: World, mailbox: Mailbox) -> None:
    Week(world)
    settings = settings_for(mailbox)
    schedulers = [ReminderScheduler(world.ledger, settings) for _ in range(4)]
    for scheduler in schedulers:  # the tables exist (as in processes started one by one)
        scheduler.store.setup()
    written: list[int] = []
    barrier = threading.Barrier(len(schedulers))

    def run(scheduler: ReminderScheduler) -> None:
        scheduler.catch_up()
        barrier.wait()
        written.append(scheduler.tick(berlin(MONDAY + timedelta(days=7), 10)))

    threads = [threading.Thread(target=run, args=(s,)) for s in schedulers]
    run_together(threads)
    for scheduler in schedulers:
        scheduler.stop()
    # sue (Berlin) and max (UTC) were both silent for the week and both are past 09:00 local:
    # one reminder each, whoever wrote it (and each cycle phase notice once)
    assert len(outbox(schedulers[0])) == 2
    with schedulers[0].datastore.get_connection() as conn:
        row: Any = conn.execute("SELECT count(*) AS n FROM okrledger_notices").fetchone()
    assert sum(written) == row["n"]


def test_the_weekly_digest_gathers_what_was_held_and_what_is_stale_on_monday_at_nine(
    world: World, mailbox: Mailbox
) -> None:
    """Sue chose the digest: the approval of her objective is held, not mailed; the Monday
    two weeks into the cycle, at 09:00 in Berlin, one digest brings it and her stale key
    result; the next tick sends nothing more."""
    week = Week(world, delivery="digest")
    settings = settings_for(mailbox)
    sue = world["sue"].person_id
    notifier = Notifier(world.ledger, settings, poll_seconds=0.1)
    notifier.start()
    try:
        eventually(
            lambda: any(
                d["channel"] == "email" and d["status"] == "held"
                for m in notifier.store.messages(sue)
                for d in m["deliveries"]
            )
        )
        mailbox.settle(1.0)
    finally:
        notifier.stop()
    assert not [r for r in mailbox.received if r.envelope_to == ["sue@acme.example"]]
    before = len(mailbox.received)

    scheduler = ReminderScheduler(world.ledger, settings)
    monday = MONDAY + timedelta(days=14)
    try:
        with time_machine.travel(berlin(monday, 8, 59), tick=False):
            scheduler.tick()
        assert len(mailbox.received) == before
        with time_machine.travel(berlin(monday, 9, 0), tick=False):
            scheduler.tick()
        [digest] = mailbox.wait(before + 1)[before:]
        with time_machine.travel(berlin(monday, 9, 5), tick=False):
            scheduler.tick()
    finally:
        scheduler.stop()
    assert len(mailbox.settle(0.5)) == before + 1
    assert digest.envelope_to == ["sue@acme.example"]
    assert digest.mail["Subject"] == f"Your okrledger week ({monday.isoformat()})"
    text = digest.mail.get_body(preferencelist=("plain",))
    assert text is not None
    body = text.get_content()
    assert (
        f"Sam approved “sue's objective”: https://okr.acme.example/objectives/{week.objective['sue']}"
        in body
    )
    assert "Reach ten (sue's objective): 14 days" in body
    assert "- Nothing moved on your objectives this week." in body  # all of it was weeks ago
    assert str(digest.mail["List-Unsubscribe"]).startswith("<https://okr.acme.example/")
    statuses = {
        (m["kind"], d["channel"]): d["status"]
        for m in scheduler.store.messages(sue)
        for d in m["deliveries"]
    }
    assert statuses[("approved", "email")] == "sent"
    assert statuses[("digest", "email")] == "sent"


def test_the_weekly_digest_shows_how_each_of_ones_objectives_moved_in_the_week(
    world: World, mailbox: Mailbox
) -> None:
    """Sue's objective was approved this week and she checked in 5 of 10 with confidence 7:
    the Monday digest says so, then → now, with the link to the objective; max's digest is
    about his objective only."""
    week = Week(world)
    week.check_in("sue", MONDAY)
    # the Monday whose week holds what was just recorded (before 09:00 Berlin on a Monday,
    # that is today)
    monday = (
        MONDAY
        if datetime.now(UTC) >= berlin(MONDAY - timedelta(days=7), 9)
        else MONDAY - timedelta(days=7)
    )
    scheduler = ReminderScheduler(world.ledger, settings_for(mailbox))
    try:
        with time_machine.travel(berlin(monday, 9, 0), tick=False):
            scheduler.tick()  # sue's Monday 09:00
        with time_machine.travel(datetime.combine(monday, time(9), tzinfo=UTC), tick=False):
            scheduler.tick()  # max's (UTC, the deployment's default)
    finally:
        scheduler.stop()
    digests = {
        r.envelope_to[0]: r
        for r in mailbox.settle(0.5)
        if str(r.mail["X-Okrledger-Notice"]).startswith("digest ")
    }
    link = f"https://okr.acme.example/objectives/{week.objective['sue']}"
    line = "sue's objective: progress 0% → 50%, confidence – → 7, approved"
    sue = digests["sue@acme.example"].mail
    text = sue.get_body(preferencelist=("plain",))
    page = sue.get_body(preferencelist=("html",))
    assert text is not None and page is not None
    lines = text.get_content().splitlines()
    assert lines[lines.index("Your objectives this week:") + 1] == f"- {line}: {link}"
    assert f'<li><a href="{link}">{html.escape(line)}</a></li>' in page.get_content()
    other = digests["max@acme.example"].mail.get_body(preferencelist=("plain",))
    assert other is not None
    assert (
        f"- max's objective: approved: https://okr.acme.example/objectives/{week.objective['max']}"
        in other.get_content()
    )
    assert "sue's objective" not in other.get_content()


def _planning_notices(scheduler: ReminderScheduler) -> list[bool]:
    with scheduler.datastore.get_connection() as conn:
        rows: list[Any] = conn.execute(
            "SELECT in_app_only FROM okrledger_notices WHERE kind = 'planning_opened'"
        ).fetchall()
    return [bool(r["in_app_only"]) for r in rows]


@pytest.mark.parametrize(
    ("later", "in_app_only"), [(timedelta(0), False), (timedelta(days=2), True)]
)
def test_a_phase_that_began_longer_ago_than_the_maximum_age_is_shown_in_app_only(
    world: World, mailbox: Mailbox, later: timedelta, in_app_only: bool
) -> None:
    """The world's cycles were planned just now: planning is open, its managers are told (by
    e-mail too); a scheduler first started two days later tells them in-app only."""
    scheduler = ReminderScheduler(world.ledger, settings_for(mailbox))
    scheduler.tick(datetime.now(UTC) + later)
    scheduler.stop()
    found = _planning_notices(scheduler)
    assert found and set(found) == {in_app_only}

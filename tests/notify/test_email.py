"""E-mail notifications end to end: the notifier follows a real PostgreSQL event store and
mails a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from pydantic import SecretStr

from domain.application import OkrLedger
from domain.base import CommandContext
from domain.person import validate_preferences
from infra.notify.engine import Notifier
from infra.settings import Settings
from tests.api.conftest import World, objective_in
from tests.notify.conftest import SMTP_PASSWORD, Mailbox, eventually

pytestmark = [pytest.mark.postgres, pytest.mark.filterwarnings("ignore:Requiring AUTH")]


def settings_for(mailbox: Mailbox, **extra: Any) -> Settings:
    return Settings(
        smtp_url=SecretStr(mailbox.url),
        mail_from="okrledger <okr@acme.example>",
        public_url="https://okr.acme.example",
        environment="test",
        **extra,
    )


@contextmanager
def notifying(ledger: OkrLedger, settings: Settings) -> Iterator[Notifier]:
    """A notifier polling every 0.1 s, stopped afterwards."""
    running = Notifier(ledger, settings, poll_seconds=0.1)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def notifier(world: World, mailbox: Mailbox) -> Iterator[Notifier]:
    with notifying(world.ledger, settings_for(mailbox)) as running:
        yield running


def test_the_approver_gets_an_email_with_a_link_that_opens_the_objective(
    world: World, mailbox: Mailbox, notifier: Notifier
) -> None:
    built = objective_in(world, "platform", "in_review")

    [received] = mailbox.wait(1)
    mail = received.mail
    assert received.envelope_to == ["ceo@acme.example"]
    assert mail["To"] == "Ceo <ceo@acme.example>"
    assert mail["Subject"] == "Max submitted “platform objective” for your approval"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(preferencelist=("plain",))
    page = mail.get_body(preferencelist=("html",))
    assert text is not None and page is not None
    link = f"https://okr.acme.example/objectives/{built.objective_id}"
    assert link in text.get_content()
    assert f'href="{link}"' in page.get_content()
    assert mail["Message-ID"].endswith("@acme.example>")
    assert str(mail["Message-ID"]).startswith("<")
    unsubscribe = str(mail["List-Unsubscribe"])
    assert unsubscribe.startswith("<https://okr.acme.example/notifications/unsubscribe?token=")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mailbox.logins == ["mailer"]
    assert SMTP_PASSWORD not in mail.as_string()


def test_the_email_is_sent_once_and_recorded_with_its_in_app_copy(
    world: World, mailbox: Mailbox, notifier: Notifier
) -> None:
    objective_in(world, "platform", "in_review")
    mailbox.wait(1)
    assert len(mailbox.settle(1.0)) == 1
    [message] = notifier.store.messages(world["ceo"].person_id)
    statuses = {d["channel"]: d["status"] for d in message["deliveries"]}
    assert statuses == {"email": "sent", "in_app": "sent"}


def test_a_person_who_turned_email_off_gets_it_in_app_only(
    world: World, mailbox: Mailbox, notifier: Notifier
) -> None:
    ceo = world["ceo"].person_id
    prefs = validate_preferences({"email": False}, "immediate", "", "", "")
    world.ledger.set_notification_preferences(ceo, prefs, "no mail", CommandContext(str(ceo)))
    objective_in(world, "sales", "in_review")
    [message] = eventually(lambda: notifier.store.messages(ceo))
    eventually(lambda: notifier.store.counts().get("skipped"))
    message = notifier.store.messages(ceo)[0]
    assert len(mailbox.settle(1.0)) == 0
    statuses = {d["channel"]: d["status"] for d in message["deliveries"]}
    assert statuses == {"email": "skipped", "in_app": "sent"}


def test_a_forgotten_person_is_named_by_number_in_messages_rendered_after_the_erasure(
    world: World, mailbox: Mailbox
) -> None:
    built = objective_in(world, "platform", "in_review")
    world.ledger.forget_person(
        world["max"].person_id, 1, "asked to be forgotten", CommandContext.system()
    )
    # the notice was decided before the erasure; it is rendered after it
    with notifying(world.ledger, settings_for(mailbox)):
        [received] = mailbox.wait(1)
    mail = received.mail
    text, page = (mail.get_body(preferencelist=(kind,)) for kind in ("plain", "html"))
    assert text is not None and page is not None
    for part in (str(mail["Subject"]), text.get_content(), page.get_content()):
        assert "Max" not in part
        assert "forgotten person #1" in part
    assert str(built.objective_id) in text.get_content()


def test_a_deactivated_recipient_receives_nothing(world: World, mailbox: Mailbox) -> None:
    objective_in(world, "platform", "in_review")
    # Deactivated after the submission, before the notifier ran: told nothing all the same.
    world.ledger.deactivate_person(world["ceo"].person_id, "left", CommandContext.system())
    with notifying(world.ledger, settings_for(mailbox)) as notifier:

        def dropped() -> list[Any]:
            with notifier.datastore.get_connection() as conn:
                return conn.execute(
                    "SELECT dropped FROM okrledger_notices WHERE dispatched_at IS NOT NULL"
                ).fetchall()

        rows = eventually(dropped)
        assert len(mailbox.settle(1.0)) == 0
        assert [row["dropped"] for row in rows] == ["recipient deactivated or forgotten"]
        assert notifier.store.counts() == {}


def test_a_refused_email_is_retried_later_and_its_error_never_shows_the_password(
    world: World, mailbox: Mailbox, notifier: Notifier
) -> None:
    mailbox.refuse = True
    objective_in(world, "platform", "in_review")
    ceo = world["ceo"].person_id

    def tried() -> Any:
        [message] = notifier.store.messages(ceo) or [None]
        email = message and {d["channel"]: d for d in message["deliveries"]}.get("email")
        return email if email and email["attempts"] >= 1 else None

    email = eventually(tried)
    assert email["status"] == "pending"
    assert "451" in email["last_error"]
    assert SMTP_PASSWORD not in email["last_error"]
    assert mailbox.received == []

    mailbox.refuse = False  # the server is back; the backoff has passed
    with notifier.datastore.get_connection() as conn:
        conn.execute("UPDATE okrledger_notice_deliveries SET not_before = now()")
    [received] = mailbox.wait(1)
    assert received.envelope_to == ["ceo@acme.example"]
    assert eventually(lambda: notifier.store.counts().get("sent") == 2)


def test_notices_about_events_older_than_the_maximum_age_are_shown_but_never_mailed(
    world: World, mailbox: Mailbox
) -> None:
    objective_in(world, "platform", "in_review")
    time.sleep(1.0)  # the submission is now older than the maximum age below (0.36 s)
    with notifying(world.ledger, settings_for(mailbox, notifier_max_age_hours=0.0001)) as notifier:
        [message] = eventually(
            lambda: [m for m in notifier.store.messages(world["ceo"].person_id) if m["deliveries"]]
        )
    statuses = {d["channel"]: (d["status"], d["last_error"]) for d in message["deliveries"]}
    assert statuses == {"email": ("skipped", "too old"), "in_app": ("sent", None)}
    assert mailbox.settle(0.5) == []


def test_a_restarted_notifier_decides_from_the_state_it_restored(world: World) -> None:
    """The amendment's proposer is known only from an event the first notifier read; the
    second one, started after the decision, restores it from the log and tells them."""
    built = objective_in(world, "platform", "amendment_pending")
    settings = Settings(environment="test")
    with notifying(world.ledger, settings) as first:
        assert first.wait_for(world.ledger.recorder.max_notification_id() or 0, 30)
    assert built.amendment_id is not None
    world.ledger.reject_amendment(
        built.objective_id,
        built.amendment_id,
        "not now",
        CommandContext(str(world["ceo"].person_id)),
    )
    with notifying(world.ledger, settings) as second:
        assert second.wait_for(world.ledger.recorder.max_notification_id() or 0, 30)
    kinds = [m["kind"] for m in second.store.messages(world["max"].person_id)]
    assert "amendment_decided" in kinds

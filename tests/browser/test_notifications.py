"""Notifications in the browser: the approver's notifications page shows the submitter's
message, and its link, like the one in the e-mail a real SMTP server received, opens the
objective."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from infra.notify.engine import Notifier
from infra.settings import Settings
from tests.browser.conftest import Browser, Site
from tests.notify.conftest import Mailbox, eventually, mailbox  # noqa: F401
from tests.steps import draft, metric

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore:Requiring AUTH")]


@pytest.fixture
def notifier(site: Site, mailbox: Mailbox) -> Iterator[Notifier]:  # noqa: F811
    settings = Settings(smtp_url=SecretStr(mailbox.url), public_url=site.url, environment="test")
    running = Notifier(site.ledger, settings, poll_seconds=0.1)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_the_approver_sees_the_message_and_its_link_opens_the_objective(
    browser: Browser,
    site: Site,
    mailbox: Mailbox,  # noqa: F811
    notifier: Notifier,
) -> None:
    kwame, elena = site["kwame"], site["elena"]
    # A title no other test gives an objective: the session's site is shared, and another
    # test's submission to Elena would be notified (and mailed) too.
    title = "Reply to every partner's ticket within four hours"
    objective_id = draft(
        site.ledger, kwame.ctx, site.active_cycle_id, title, owner_person_id=kwame.person_id
    )
    metric(site.ledger, kwame.ctx, objective_id, "Tickets answered in a day", 60, 100, unit="%")
    site.ledger.submit_objective(objective_id, elena.person_id, kwame.ctx)

    def mail_to_elena() -> list[Any]:
        return [
            r
            for r in mailbox.received
            if r.envelope_to == ["elena.petrova@acme.example"] and title in str(r.mail["Subject"])
        ]

    [received] = eventually(mail_to_elena, timeout=60)
    text = received.mail.get_body(preferencelist=("plain",))
    assert text is not None
    [link] = re.findall(r"Open it: (\S+)", text.get_content())
    assert link == f"{site.url}/objectives/{objective_id}"

    browser.sign_in("elena")
    browser.go("/notifications")
    row = browser.page.get_by_test_id("notification-row").filter(has_text=title)
    assert row.count() == 1
    assert f"Kwame Mensah submitted “{title}” for your approval" in row.inner_text()
    browser.shot("page-notifications", full_page=True)
    row.get_by_test_id("notification-link").click()
    browser.page.wait_for_url(re.compile(re.escape(f"/objectives/{objective_id}")))
    assert title in browser.page.locator("h1").inner_text()

    browser.page.goto(link)  # the e-mail's link, as the approver's mail client opens it
    assert title in browser.page.locator("h1").inner_text()
    assert not browser.errors

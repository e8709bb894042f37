"""Done when (issue 17): a new user sets OKR_SMTP_URL, submits an objective, and the approver
gets an e-mail with a link that opens the objective. `okr serve` as it runs in production (a
process of its own, the notifier inside it), a real SMTP server, HTTP only."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import World, objective_in
from tests.notify.conftest import Mailbox
from tests.servers import free_port, start_okr_serve

pytestmark = [pytest.mark.postgres, pytest.mark.filterwarnings("ignore:Requiring AUTH")]


@pytest.fixture
def served(database_url: str, tmp_path: Path, mailbox: Mailbox) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "OKR_DATABASE_URL": database_url,
        "OKR_DATA_DIR": str(tmp_path),
        "OKR_ENVIRONMENT": "test",
        "OKR_SMTP_URL": mailbox.url,
        "OKR_MAIL_FROM": "okrledger <okr@acme.example>",
        "OKR_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "OKR_REMINDERS": "off",  # the submission's e-mail only (cycle phases: test_reminders.py)
    }
    process, base = start_okr_serve(env, port=port)
    try:
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_submission_mails_the_approver_a_link_that_opens_the_objective(
    world: World, mailbox: Mailbox, served: str
) -> None:
    built = objective_in(world, "platform", "draft")
    max_, ceo = world["max"], world["ceo"]
    submitted = httpx.post(
        f"{served}/api/v1/objectives/{built.objective_id}/submit",
        json={"approver_id": str(ceo.person_id)},
        headers=max_.headers,
        timeout=30,
    )
    assert submitted.status_code == 200, submitted.text

    [received] = mailbox.wait(1, timeout=30)
    assert received.envelope_to == ["ceo@acme.example"]
    text = received.mail.get_body(preferencelist=("plain",))
    assert text is not None
    [link] = re.findall(r"Open it: (\S+)", text.get_content())
    assert link == f"{served}/objectives/{built.objective_id}"

    with httpx.Client(base_url=served, timeout=30) as browser:
        sign_in = browser.get("/sign-in")
        [csrf] = re.findall(r'name="csrf_token" value="([^"]+)"', sign_in.text)
        signed = browser.post(
            "/sign-in", data={"csrf_token": csrf, "next": "/", "token": ceo.token}
        )
        assert signed.status_code in (200, 303)
        page = browser.get(link)
    assert page.status_code == 200
    assert "platform objective" in page.text
    assert "Approve" in page.text  # the page that acts on it, for the approver

"""Done when (issue 17): a new user sets OKR_SMTP_URL, submits an objective, and the approver
gets an e-mail with a link that opens the objective. `okr serve` as it runs in production (a
process of its own, the notifier inside it), a real SMTP server, HTTP only."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import World, objective_in
from tests.notify.conftest import Mailbox

pytestmark = [pytest.mark.postgres, pytest.mark.filterwarnings("ignore:Requiring AUTH")]

OKR = Path(sys.executable).with_name("okr")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(database_url: str, tmp_path: Path, mailbox: Mailbox) -> Iterator[str]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "OKR_DATABASE_URL": database_url,
        "OKR_DATA_DIR": str(tmp_path),
        "OKR_ENVIRONMENT": "test",
        "OKR_SMTP_URL": mailbox.url,
        "OKR_MAIL_FROM": "okrledger <okr@acme.example>",
        "OKR_PUBLIC_URL": base,
        "OKR_REMINDERS": "off",  # the submission's e-mail only (cycle phases: test_reminders.py)
    }
    process = subprocess.Popen(
        [str(OKR), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "okr serve exited"
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "okr serve did not come up"
            time.sleep(0.1)
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

"""Fixtures for the notifier: a real SMTP server (aiosmtpd, in-process on a free port) that
keeps what it receives, and the API tests' small organisation on a real PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.api.conftest import World, build_world, readmodels  # noqa: F401
from tests.servers import free_port

SMTP_USER = "mailer"
SMTP_PASSWORD = "s3cret-Pa55"


@dataclass
class Received:
    envelope_to: list[str]
    mail: EmailMessage
    at: float


@dataclass
class Mailbox:
    """What the SMTP server accepted, in order."""

    port: int
    received: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    lock: threading.Condition = field(default_factory=threading.Condition)
    refuse: bool = False
    """Answer every message with a temporary failure (451)."""

    @property
    def url(self) -> str:
        return f"smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{self.port}"

    def wait(self, count: int, timeout: float = 20.0) -> list[Received]:
        with self.lock:
            assert self.lock.wait_for(lambda: len(self.received) >= count, timeout), (
                f"{len(self.received)} of {count} messages arrived"
            )
            return list(self.received)

    def settle(self, quiet: float = 1.0) -> list[Received]:
        """Every message, once none arrived for `quiet` seconds."""
        while True:
            with self.lock:
                seen = len(self.received)
            time.sleep(quiet)
            with self.lock:
                if len(self.received) == seen:
                    return list(self.received)

    # aiosmtpd's handler hooks

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 Try again later"
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(mail, EmailMessage)
        with self.lock:
            self.received.append(Received(list(envelope.rcpt_tos), mail, time.monotonic()))
            self.lock.notify_all()
        return "250 OK"

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (
            data.login.decode(),
            data.password.decode(),
        ) == (SMTP_USER, SMTP_PASSWORD)
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=box.port,
        authenticator=box,
        auth_require_tls=False,
        auth_required=True,
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def world(ledger: Any) -> World:
    return build_world(ledger)


def eventually(check: Any, timeout: float = 20.0) -> Any:
    """`check()`'s first truthy answer, asked every 50 ms (fails after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer:
            return answer
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)

"""The notifier killed (SIGKILL) at every crash point, then restarted: nothing lost, nothing
sent twice (but the one documented window: killed after the SMTP server accepted a message
and before it was marked sent, that message is sent again with the same Message-ID). And
several `okr notifier` processes at once: each notice is sent once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.notify.engine import CRASH_POINTS
from tests.api.conftest import World, objective_in
from tests.notify.conftest import Mailbox, eventually

pytestmark = [pytest.mark.postgres, pytest.mark.filterwarnings("ignore:Requiring AUTH")]

OKR = Path(sys.executable).with_name("okr")


class Notifiers:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str, **extra: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [str(OKR), "notifier", *args],
            env={**self.env, **extra},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.started.append(process)
        return process


@pytest.fixture
def notifiers(database_url: str, tmp_path: Path, mailbox: Mailbox) -> Iterator[Notifiers]:
    made = Notifiers(
        {
            **os.environ,
            "OKR_DATABASE_URL": database_url,
            "OKR_DATA_DIR": str(tmp_path),
            "OKR_ENVIRONMENT": "test",
            "OKR_SMTP_URL": mailbox.url,
            "OKR_MAIL_FROM": "okr@acme.example",
            "OKR_PUBLIC_URL": "https://okr.acme.example",
            "OKR_REMINDERS": "off",  # the log's notices only (reminders: test_reminders.py)
        }
    )
    yield made
    for process in made.started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _some_notices(world: World) -> int:
    """Platform's objective submitted to and approved by the CEO (the CEO, then its two owners
    are told), sales' submitted (the CEO): four e-mails."""
    objective_in(world, "platform", "approved")
    objective_in(world, "sales", "in_review")
    return 4


def _all_sent(mailbox: Mailbox, expected: int) -> list[str]:
    def unique() -> set[str]:
        return {str(r.mail["Message-ID"]) for r in mailbox.received}

    eventually(lambda: len(unique()) >= expected, timeout=60)
    return [str(r.mail["Message-ID"]) for r in mailbox.settle(1.5)]


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_killed_at_any_point_and_restarted_nothing_is_lost_or_sent_twice(
    point: str, world: World, mailbox: Mailbox, notifiers: Notifiers
) -> None:
    expected = _some_notices(world)
    crashed = notifiers.start(OKR_NOTIFIER_TEST_CRASH_POINT=point)
    assert crashed.wait(60) == -9, f"the notifier did not stop at {point}"
    sent_before = len(mailbox.received)

    notifiers.start()
    ids = _all_sent(mailbox, expected)

    counts = Counter(ids)
    assert len(counts) == expected
    if point == "send_after_send":
        # The one repeatable window: the same message again, recognisable by its Message-ID.
        assert sent_before == 1
        assert sorted(counts.values()) == [1] * (expected - 1) + [2]
    else:
        assert set(counts.values()) == {1}, counts


def test_several_notifier_processes_send_each_notice_once(
    world: World, mailbox: Mailbox, notifiers: Notifiers
) -> None:
    for _ in range(3):
        notifiers.start()
    time.sleep(1.0)
    expected = 0
    for _ in range(4):
        expected += _some_notices(world)
    ids = _all_sent(mailbox, expected)
    assert len(ids) == expected
    assert len(set(ids)) == expected

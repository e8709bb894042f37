"""The webhook sender's pure rules: the backoff schedule, Retry-After, private addresses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infra.webhooks.delivery import backoff, retry_after
from infra.webhooks.guard import is_private

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("attempts", "low", "high"),
    [(1, 5, 10), (2, 10, 20), (3, 20, 40), (8, 640, 1280), (20, 3600, 7200)],
)
def test_backoff_doubles_from_ten_seconds_up_to_two_hours_with_its_second_half_random(
    attempts: int, low: float, high: float
) -> None:
    assert backoff(attempts, lambda a, b: a) == timedelta(seconds=low)
    assert backoff(attempts, lambda a, b: b) == timedelta(seconds=high)


def test_retry_after_takes_seconds_or_an_http_date_and_ignores_the_rest() -> None:
    assert retry_after("120", NOW) == timedelta(seconds=120)
    assert retry_after("Mon, 02 Mar 2026 09:05:00 GMT", NOW) == timedelta(minutes=5)
    assert retry_after("Mon, 02 Mar 2026 08:00:00 GMT", NOW) == timedelta(0)  # past: now
    assert retry_after("soon", NOW) is None
    assert retry_after(None, NOW) is None


@pytest.mark.parametrize(
    ("address", "private"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("192.168.0.10", True),
        ("172.16.5.4", True),
        ("169.254.169.254", True),  # cloud metadata
        ("0.0.0.0", True),
        ("::1", True),
        ("fe80::1%eth0", True),
        ("fd00::1", True),
        ("::ffff:10.0.0.1", True),  # IPv4-mapped
        ("224.0.0.1", True),
        ("93.184.216.34", False),
        ("2606:2800:220:1:248:1893:25c8:1946", False),
    ],
)
def test_private_loopback_link_local_and_mapped_addresses_are_private(
    address: str, private: bool
) -> None:
    assert is_private(address) is private

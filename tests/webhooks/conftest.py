"""The webhook tests' ledger: a fresh database, its delivery machinery closed afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.application import OkrLedger
from infra.webhooks.access import close_webhooks_of


@pytest.fixture
def ledger(ledger: OkrLedger) -> Iterator[OkrLedger]:
    """The shared `ledger`, its webhook delivery machinery closed before the ledger is."""
    try:
        yield ledger
    finally:
        close_webhooks_of(ledger)

"""The webhook tests' ledger: a fresh database, its delivery machinery closed afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.application import OkrLedger
from infra.webhooks.access import close_webhooks_of


@pytest.fixture
def ledger(es_env: dict[str, str]) -> Iterator[OkrLedger]:
    ledger = OkrLedger(env=es_env)
    try:
        yield ledger
    finally:
        close_webhooks_of(ledger)
        ledger.close()

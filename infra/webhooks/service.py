"""Where the webhook machinery runs: a thread in `okr serve`, or `okr webhooks` on its own.

Any number of processes may run it: the follower's progress row is locked for each round (one
follows at a time, each (endpoint, event) gets one delivery row) and the sender leases the
rows it sends (``FOR UPDATE SKIP LOCKED``), so each delivery attempt is made by one process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from domain.application import OkrLedger
from infra.settings import Settings
from infra.signals import run_until_signalled
from infra.webhooks.delivery import WebhookDelivery, WebhookService

log = logging.getLogger("okrledger.webhooks")


def start_webhooks(ledger: OkrLedger, settings: Settings) -> WebhookService:
    """Follow and send in the background until `stop()` (idle while no endpoint exists: a round
    then only moves the follower's position to the log's head)."""
    service = WebhookService(
        WebhookDelivery.configured(ledger, settings), interval=settings.webhook_poll_seconds
    )
    service.start()
    return service


def run_webhooks(settings: Settings | None = None) -> None:
    """`okr webhooks`: deliver until SIGINT/SIGTERM, then stop (in-flight attempts finish)."""

    def start(settings: Settings, ledger: OkrLedger) -> Callable[[], None]:
        service = start_webhooks(ledger, settings)
        log.info("delivering webhooks until SIGINT/SIGTERM")
        return lambda: service.stop(timeout=settings.webhook_timeout_seconds + 10)

    run_until_signalled(settings, log, start)

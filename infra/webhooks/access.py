"""One `WebhookDelivery` per ledger for the API's reads and commands (replay, redelivery)."""

from __future__ import annotations

from domain.application import OkrLedger
from infra.settings import Settings
from infra.tables import OnePer
from infra.webhooks.delivery import WebhookDelivery

_OF: OnePer[OkrLedger, WebhookDelivery] = OnePer()


def webhooks_of(ledger: OkrLedger, settings: Settings) -> WebhookDelivery:
    return _OF.get(ledger, lambda: WebhookDelivery.configured(ledger, settings))


def close_webhooks_of(ledger: OkrLedger) -> None:
    """Close the ledger's `WebhookDelivery` (its HTTP client and sending threads), if made."""
    found = _OF.pop(ledger)
    if found is not None:
        found.close()

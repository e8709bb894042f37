"""One `WebhookDelivery` per ledger for the API's reads and commands (replay, redelivery)."""

from __future__ import annotations

import threading
import weakref

from domain.application import OkrLedger
from infra.settings import Settings
from infra.webhooks.delivery import WebhookDelivery

_OF: weakref.WeakKeyDictionary[OkrLedger, WebhookDelivery] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def webhooks_of(ledger: OkrLedger, settings: Settings) -> WebhookDelivery:
    with _LOCK:
        found = _OF.get(ledger)
        if found is None:
            found = _OF[ledger] = WebhookDelivery.configured(ledger, settings)
        return found


def close_webhooks_of(ledger: OkrLedger) -> None:
    """Close the ledger's `WebhookDelivery` (its HTTP client and sending threads), if made."""
    with _LOCK:
        found = _OF.pop(ledger, None)
    if found is not None:
        found.close()

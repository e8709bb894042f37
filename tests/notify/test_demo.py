"""The demo without an SMTP server: `okr serve`'s notifier puts what the demo's negotiation
asked of people on their notifications pages (in-app only)."""

from __future__ import annotations

from typing import Any

import pytest

from demo import load_demo
from domain.application import OkrLedger
from infra.chain import importing_history
from infra.notify.engine import Notifier
from infra.settings import Settings

pytestmark = pytest.mark.postgres


def test_the_demo_shows_messages_in_the_ui_when_no_smtp_server_is_set(ledger: OkrLedger) -> None:
    load_demo(ledger, history_clock=importing_history)
    settings = Settings(environment="test")
    assert settings.smtp_url is None
    notifier = Notifier(ledger, settings, poll_seconds=0.1)
    assert notifier.channels == {}
    notifier.start()
    try:
        assert notifier.wait_for(ledger.recorder.max_notification_id() or 0, 120)
        elena = ledger.find_person_by_email("elena.petrova@acme.example")
        assert elena is not None

        def dispatched() -> list[dict[str, Any]]:
            found = notifier.store.messages(elena.id, 500)
            return found if found and all(m["dispatched_at"] for m in found) else []

        from tests.notify.conftest import eventually

        messages = eventually(dispatched, timeout=60)
    finally:
        notifier.stop()
    kinds = {m["kind"] for m in messages}
    assert "submitted" in kinds  # her team's objectives came to her for approval
    for message in messages:
        assert [(d["channel"], d["status"]) for d in message["deliveries"]] == [("in_app", "sent")]

"""`okr serve`: the API, the live projections and the event store in one process.

The process builds the application through the composition root (embedded PostgreSQL unless
OKR_DATABASE_URL is set), starts the live views' runner (unless OKR_VIEWS_RUNNER=off: Kafka
projection workers keep the views then) and, with OKR_KAFKA_BOOTSTRAP, the Kafka relay, and
serves HTTP with uvicorn until SIGINT/SIGTERM; in-flight requests then get `graceful_seconds`
to finish before the relay and the read models stop and the pools close.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from api.app import PREFIX, create_app
from infra.audit.checkpoints import start_checkpoint_follower
from infra.audit.verify import start_periodic_verification
from infra.bootstrap import build_ledger, build_read_models
from infra.idempotency import IdempotencyStore
from infra.notify.engine import Notifier
from infra.notify.reminders import ReminderScheduler
from infra.settings import Settings
from infra.sources.sync import start_source_scheduler
from infra.webhooks.service import start_webhooks


class _Server(uvicorn.Server):
    """uvicorn's server, except that a signal is not raised again after the graceful shutdown
    (uvicorn does, which would kill the process before the caller releases its resources)."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    graceful_seconds: int = 10,
    log_level: str = "info",
    announce: bool = True,
) -> None:
    ledger = build_ledger(settings)
    readmodels = build_read_models(ledger, settings)
    relay = None
    checkpoints = None
    verifier = None
    sources = None
    notifier = None
    reminders = None
    webhooks = None
    try:
        if settings.views_runner:
            readmodels.start()
        else:
            readmodels.setup()  # the views are kept by `okr worker --from-kafka` processes
        checkpoints = start_checkpoint_follower(ledger.recorder, settings)
        verifier = start_periodic_verification(ledger, settings)
        sources = start_source_scheduler(ledger, settings)  # idle until a source is defined
        if settings.kafka_bootstrap:
            from infra.kafka.config import KafkaConfig
            from infra.kafka.relay import Relay

            relay = Relay(ledger, KafkaConfig.from_settings(settings))
            relay.start()  # active, or standby while another process holds the relay lock
        if settings.notifier:  # in-app always; e-mail with OKR_SMTP_URL (docs/notifications.md)
            notifier = Notifier(ledger, settings)
            notifier.start()
            if settings.reminders:  # check-in reminders, under their own lock
                reminders = ReminderScheduler(ledger, settings)
                reminders.start()
        webhooks = start_webhooks(ledger, settings)  # idle until an endpoint is registered
        app = create_app(
            ledger,
            readmodels=readmodels,
            idempotency=IdempotencyStore.for_recorder(ledger.recorder),
            settings=settings,
        )
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            timeout_graceful_shutdown=graceful_seconds,
            proxy_headers=True,
        )
        server = _Server(config)
        if announce:
            print(
                f"okrledger on http://{host}:{port}/ (sign in with a token)\n"
                f"API on http://{host}:{port}{PREFIX} (docs: {PREFIX}/docs)",
                flush=True,
            )
        server.run()
    finally:
        if reminders is not None:
            reminders.stop()
        if notifier is not None:
            notifier.stop()
        if checkpoints is not None:
            checkpoints.stop()
        if verifier is not None:
            verifier.stop()
        if sources is not None:
            sources.stop(timeout=settings.source_timeout_seconds * 2 + 10)
        if webhooks is not None:
            webhooks.stop(timeout=settings.webhook_timeout_seconds + 10)
        if relay is not None:
            relay.stop(timeout=relay.config.delivery_timeout_ms / 1000 + 10)
        readmodels.stop()
        ledger.close()

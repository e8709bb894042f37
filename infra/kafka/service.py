"""Process-level entry points for the Kafka side: what ``okr relay`` and ``okr worker`` run."""

from __future__ import annotations

import logging
import signal
import threading
from typing import TYPE_CHECKING, Any

from infra.bootstrap import build_ledger
from infra.kafka.config import KafkaConfig
from infra.kafka.pg import postgres_recorder
from infra.kafka.projectors import LiveViews
from infra.kafka.relay import Relay, RelayStatus, relay_status
from infra.kafka.worker import ProjectionWorker, last_batch_at, unapplied_events, workers_ran
from infra.settings import Settings, get_settings

if TYPE_CHECKING:
    from eventsourcing.application import Application

log = logging.getLogger("okrledger.kafka")


def configure_logging(level: int = logging.INFO) -> None:
    """One line per record, with the time and the component, unless logging is set up already."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    # kafka-python logs every reconnect attempt at WARNING/ERROR; the relay says what matters.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: Any) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)


def run_relay(settings: Settings | None = None) -> None:
    """Run one relay (active or standby) until SIGINT/SIGTERM, then stop gracefully."""
    settings = settings or get_settings()
    config = KafkaConfig.from_settings(settings)
    app = build_ledger(settings)
    stop = threading.Event()
    _stop_on_signals(stop)
    relay = Relay(app, config)
    relay.start()
    try:
        stop.wait()
    finally:
        relay.stop(timeout=config.delivery_timeout_ms / 1000 + 10)
        app.close()


def run_worker(settings: Settings | None = None) -> None:
    """Run one projection worker in the group until SIGINT/SIGTERM, then leave the group."""
    settings = settings or get_settings()
    config = KafkaConfig.from_settings(settings)
    app = build_ledger(settings)
    stop = threading.Event()
    _stop_on_signals(stop)
    postgres_recorder(app)  # the views live in the event store's PostgreSQL
    worker = ProjectionWorker(app, config, LiveViews.for_app(app, settings.checkpoint_every))
    worker.start()
    try:
        stop.wait()
    finally:
        worker.stop(timeout=config.max_poll_interval_ms / 1000)
        app.close()


def read_relay_status(settings: Settings | None = None) -> RelayStatus:
    """``okr relay --status``: the relay's position against the log head."""
    settings = settings or get_settings()
    app = build_ledger(settings)
    try:
        return relay_status(app, settings.kafka_topic)
    finally:
        app.close()


def kafka_readiness(app: Application[Any], settings: Settings) -> dict[str, Any] | None:
    """What ``/api/v1/ready`` can report about the event stream (``None`` when Kafka is off).

    Reads PostgreSQL only, so a slow broker never slows the probe: the relay's lag (events not
    yet acknowledged by the broker) and whether a relay is active; the projection workers' lag
    (events the live views have not applied yet, whoever keeps them) and when the group last
    committed a batch (``None`` before any worker ran). Both lags are counted on the log's
    primary key from the tracked position on: the cost grows with the lag, not with the log.
    """
    if not settings.kafka_bootstrap:
        return None
    relay = relay_status(app, settings.kafka_topic)
    ran = workers_ran(app)
    last = last_batch_at(app, settings.kafka_group, settings.kafka_topic) if ran else None
    return {
        "relay": relay.as_dict(),
        "workers": {
            "group": settings.kafka_group,
            "views_runner": settings.views_runner,
            "unapplied": unapplied_events(app) if ran else None,
            "last_batch_at": last.isoformat() if last else None,
        },
    }

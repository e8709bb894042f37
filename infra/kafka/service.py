"""Process-level entry points for the Kafka side: what ``okr relay`` and ``okr worker`` run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from domain.application import OkrLedger
from infra.bootstrap import build_ledger
from infra.kafka.config import KafkaConfig
from infra.kafka.pg import postgres_recorder
from infra.kafka.projectors import LiveViews
from infra.kafka.relay import Relay, RelayStatus, relay_status
from infra.kafka.worker import ProjectionWorker, last_batch_at, unapplied_events, workers_ran
from infra.settings import Settings, get_settings
from infra.signals import run_until_signalled

if TYPE_CHECKING:
    from eventsourcing.application import Application

log = logging.getLogger("okrledger.kafka")


def configure_logging(level: int = logging.INFO) -> None:
    """One line per record, with the time and the component, unless logging is set up already."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    # kafka-python logs every reconnect attempt at WARNING/ERROR; the relay says what matters.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)


def run_relay(settings: Settings | None = None) -> None:
    """Run one relay (active or standby) until SIGINT/SIGTERM, then stop gracefully."""

    def start(settings: Settings, app: OkrLedger) -> Callable[[], None]:
        config = KafkaConfig.from_settings(settings)
        relay = Relay(app, config)
        relay.start()
        return lambda: relay.stop(timeout=config.delivery_timeout_ms / 1000 + 10)

    run_until_signalled(settings, log, start)


def run_worker(settings: Settings | None = None) -> None:
    """Run one projection worker in the group until SIGINT/SIGTERM, then leave the group."""

    def start(settings: Settings, app: OkrLedger) -> Callable[[], None]:
        config = KafkaConfig.from_settings(settings)
        postgres_recorder(app)  # the views live in the event store's PostgreSQL
        worker = ProjectionWorker(app, config, LiveViews.for_app(app, settings.checkpoint_every))
        worker.start()
        return lambda: worker.stop(timeout=config.max_poll_interval_ms / 1000)

    run_until_signalled(settings, log, start)


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

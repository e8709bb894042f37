"""The composition root: settings → event store → the OkrLedger application → read models.

Every process builds its ledger here (`okr serve`, the CLI, the Kafka workers), so every one
submits objectives under the same quality rules: the checks that compare an objective with its
neighbours read the cycle from the views (`StrategyReads.quality_context`), wired below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.application import OkrLedger
from infra.embedded import start_embedded_postgres
from infra.eventstore import eventsourcing_env
from infra.settings import Settings, get_settings

if TYPE_CHECKING:
    from infra.readmodels import ReadModels


def database_url(settings: Settings) -> str:
    """The configured PostgreSQL, or the embedded server in ``settings.data_dir`` (started here)."""
    if settings.database_url is not None:
        return settings.database_url
    return start_embedded_postgres(settings.data_dir)


def build_ledger(settings: Settings | None = None) -> OkrLedger:
    """Build the application on the hash-chained PostgreSQL event store, its submission
    checks reading the cycle from the views."""
    from infra.views.strategy import StrategyReads

    settings = settings or get_settings()
    ledger = OkrLedger(env=eventsourcing_env(database_url(settings), settings))
    ledger.quality_context = StrategyReads.of_ledger(ledger, settings).quality_context
    return ledger


def build_read_models(ledger: OkrLedger, settings: Settings | None = None) -> ReadModels:
    """The read models over `ledger`'s store; call `start()` to run the live views' runner."""
    from infra.readmodels import ReadModels

    return ReadModels(ledger, settings or get_settings())

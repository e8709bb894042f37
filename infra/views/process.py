"""`okr worker --from-log`: the live views' runner in a process of its own.

The runner is the same one `okr serve` runs in a thread (it follows the log over LISTEN/NOTIFY
and holds the runners' advisory lock while it leads, so any number of these processes and
servers can run: one applies, the others stand by). Run beside `okr serve` with
`OKR_VIEWS_RUNNER=off`, it keeps the views' folding off the API process, whose one
interpreter then spends its CPU on requests (docs/deploy.md, docs/performance.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from domain.application import OkrLedger
from infra.bootstrap import build_read_models
from infra.settings import Settings
from infra.signals import run_until_signalled

log = logging.getLogger("okrledger.views")


def run_views_process(settings: Settings | None = None) -> None:
    """Keep the live views until SIGINT/SIGTERM, then stop the runner and close the ledger."""

    def start(settings: Settings, ledger: OkrLedger) -> Callable[[], None]:
        readmodels = build_read_models(ledger, settings)
        readmodels.start()
        log.info("views runner process started")
        return readmodels.stop

    run_until_signalled(settings, log, start)

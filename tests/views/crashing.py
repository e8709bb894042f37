"""Child processes for the crash tests: they stop dead at a chosen point and wait to be killed.

    python -m tests.views.crashing runner URL DIR   # applies one batch, then hangs before commit
    python -m tests.views.crashing rebuild URL DIR  # saves rebuild progress, then hangs mid-scan

Each writes DIR/ready when it reaches the point, so the test knows when to SIGKILL it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from infra.readmodels import ReadModels
from infra.views.projector import ViewsProjector
from infra.views.rebuild import Rebuild
from projections.base import Logged
from tests.views.conftest import ledger_on, settings


def hang(ready: Path) -> None:
    ready.write_text("ready")
    while True:
        time.sleep(1)


class HangingProjector(ViewsProjector):
    """Writes a batch's rows and tracking position, then hangs before the caller commits."""

    ready: Path

    def apply(self, conn: Any, events: Any, **options: Any) -> int:
        position = super().apply(conn, events, **options)
        if events:
            hang(self.ready)
        return position


def runner(url: str, folder: Path) -> None:
    app = ledger_on(url)
    readmodels = ReadModels(app, settings())
    projector = HangingProjector(readmodels.store, readmodels.log, settings().checkpoint_every)
    projector.ready = folder / "ready"
    readmodels.projector = projector
    readmodels.runner.projector = projector
    readmodels.start()
    while True:
        time.sleep(1)


def rebuild(url: str, folder: Path) -> None:
    app = ledger_on(url)
    pages = {"seen": 0}

    def progress(done: int, total: int, phase: str) -> None:
        if phase == "scan":
            pages["seen"] += 1
            if pages["seen"] == 3:  # pages 1 and 2 were saved; page 3's rows are COPYed
                hang(folder / "ready")

    Rebuild(app, settings(), page_size=10, save_every=0, progress=progress).run(None)


def main() -> None:
    kind, url, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    {"runner": runner, "rebuild": rebuild}[kind](url, folder)


if __name__ == "__main__":
    main()


__all__ = ["HangingProjector", "Logged"]

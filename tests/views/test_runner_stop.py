"""Stopping the live runner: `stop()` returns once its thread has ended (so the pool may close
next, as `okr serve` does on SIGTERM), and a first rebuild in progress stops early and saves its
progress rather than running on while the pool closes under it."""

from __future__ import annotations

import logging
import threading

import pytest

from infra.readmodels import ReadModels
from tests.views.conftest import Databases, generate, head, ledger_on
from tests.views.conftest import settings as view_settings

pytestmark = pytest.mark.postgres


class GatedReadModels(ReadModels):
    """Read models whose runner pauses before its first rebuild until the test lets it go."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.preparing = threading.Event()
        self.proceed = threading.Event()

    def _prepare(self) -> None:
        self.preparing.set()
        self.proceed.wait()
        super()._prepare()


def runner_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "okr-views-runner"}


def test_a_stop_during_the_first_rebuild_ends_the_runner_before_the_pool_closes(
    databases: Databases, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with databases.fresh() as url:
        app = ledger_on(url)
        try:
            generate(app, 300)
            readmodels = GatedReadModels(app, view_settings())
            others = runner_threads()  # other tests' runners (the browser session's) live on
            readmodels.start()
            ours = runner_threads() - others
            assert len(ours) == 1
            assert readmodels.preparing.wait(30)
            stopper = threading.Thread(target=readmodels.stop)
            stopper.start()
            assert readmodels.runner.stopping.wait(30)  # stop() asked, and is waiting
            readmodels.proceed.set()  # the rebuild begins with the stop already requested
            stopper.join(60)
            assert not stopper.is_alive(), "stop() did not return"
            assert not any(thread.is_alive() for thread in ours)
            # The rebuild stopped at its first page instead of building the views to the head.
            assert readmodels.caught_up_position() < head(app)

            # A later start finishes the job (resuming the saved progress).
            again = ReadModels(app, view_settings())
            again.start()
            try:
                assert again.wait_for(head(app), 60)
            finally:
                again.stop()
        finally:
            app.close()
    assert not [r for r in caplog.records if r.name == "okrledger.views"], caplog.text

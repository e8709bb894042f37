"""A large import on the bulk path (`infra.bulk.BulkWriter`, written while the file is still
being planned) keeps the views exactly right, and a row that fails late writes nothing.

The live runner follows the log while the import commits thousands of events in one
transaction; its views then equal the in-memory fold over the log (`Oracle`) and a full
rebuild, query by query."""

from __future__ import annotations

from datetime import date

from api.directory import LogDirectory
from api.imports.plan import Names
from api.usecases.imports import ImportRefused, ImportRequest, run_import
from bench.history_file import history_csv
from domain.base import CommandContext
from infra.bulk import CHUNK
from infra.chain import ChainReader, verify_chain
from infra.views.rebuild import Rebuild
from tests.views.conftest import (
    Databases,
    assert_views_match,
    fresh_views,
    head,
    ledger_on,
    running,
    whole_log,
)
from tests.views.conftest import settings as view_settings
from tests.views.oracle import Oracle

ROWS = 2 * CHUNK + 500


def test_live_views_after_a_bulk_import_equal_the_fold_and_a_rebuild(
    databases: Databases,
) -> None:
    content = history_csv(ROWS, date.today())
    with fresh_views(databases) as (_url, app, readmodels):
        admin = app.register_person("Ada", "ada@history.example", CommandContext.system()).id
        running(readmodels, app)
        names = LogDirectory(app).ask(Names.of)
        report = run_import(app, names, admin, ImportRequest("history.csv", content))
        assert report.written and report.events_written > ROWS
        assert report.position == head(app)
        assert verify_chain(ChainReader.for_recorder(app.recorder)).ok
        assert readmodels.wait_for(head(app), 60)

        oracle = Oracle(whole_log(readmodels))
        assert len(oracle.objectives()) > 10
        assert_views_match(readmodels, oracle)
        Rebuild(app, view_settings()).run(None)
        assert readmodels.wait_for(head(app), 60)
        assert_views_match(readmodels, oracle)


def test_a_row_failing_after_batches_were_written_rolls_the_whole_file_back(
    databases: Databases,
) -> None:
    rows = history_csv(ROWS, date.today()).decode().splitlines()
    last = rows[-1].split(",")
    last[-2] = "42"  # confidence is 0..10: the last check-in row fails
    content = "\n".join([*rows[:-1], ",".join(last)]).encode()
    with databases.fresh() as url:
        app = ledger_on(url)
        try:
            admin = app.register_person("Ada", "ada@history.example", CommandContext.system()).id
            before = head(app)
            names = LogDirectory(app).ask(Names.of)
            try:
                run_import(app, names, admin, ImportRequest("history.csv", content))
            except ImportRefused as refused:
                assert [p.rule for p in refused.problems] == ["confidence_out_of_range"]
                assert refused.problems[0].row == len(rows)
            else:
                raise AssertionError("the import was not refused")
            assert head(app) == before
            assert verify_chain(ChainReader.for_recorder(app.recorder)).ok
            # The same file, mended, imports in full afterwards.
            report = run_import(
                app, names, admin, ImportRequest("history.csv", "\n".join(rows).encode())
            )
            assert report.written and report.events_written > ROWS
            assert verify_chain(ChainReader.for_recorder(app.recorder)).ok
        finally:
            app.close()

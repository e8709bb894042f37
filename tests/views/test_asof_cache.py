"""Remembered checkpoint documents never change an as-of answer.

Decoded documents are shared between answers unless the log's tail touches their objective;
read the past in every order (forwards, backwards, shuffled, twice), through replays and diffs
that fold on past the start, and each answer must equal the fold's and the uncached reader's.
"""

from __future__ import annotations

import random
from uuid import UUID

import pytest

from infra.readmodels import ReadModels
from tests.views.conftest import Databases, generate, head, ledger_on, whole_log
from tests.views.conftest import settings as view_settings
from tests.views.oracle import Oracle

pytestmark = pytest.mark.postgres


def test_as_of_answers_are_the_same_in_any_order_with_or_without_remembered_documents(
    databases: Databases,
) -> None:
    with databases.fresh() as url:
        app = ledger_on(url)
        cached = ReadModels(app, view_settings(checkpoint_every=9))
        plain = ReadModels(app, view_settings(checkpoint_every=9, checkpoint_cache_size=0))
        cached.start()
        try:
            generate(app, 500)  # negotiations, check-ins, corrections, amendments, carry-overs
            assert cached.wait_for(head(app), 20)
            oracle = Oracle(whole_log(cached))
            cycles: list[UUID] = oracle.cycles()
            positions = oracle.positions[::6]
            shuffled = random.Random(3).sample(positions, len(positions))
            for order in (positions, positions[::-1], shuffled, positions):
                for position in order:
                    for cycle_id in cycles:
                        expected = oracle.tree(cycle_id, position)
                        assert cached.tree(cycle_id, position=position) == expected, position
                        assert plain.tree(cycle_id, position=position) == expected, position
            for low, high in zip(shuffled[::7], shuffled[3::7], strict=False):
                for cycle_id in (None, *cycles):
                    assert cached.diff(low, high, cycle_id) == oracle.diff(low, high, cycle_id)
            for cycle_id in cycles:
                for step in ("day", "week"):
                    assert cached.replay(cycle_id, step) == plain.replay(cycle_id, step)
                    assert cached.replay(cycle_id, step) == plain.replay(cycle_id, step)
        finally:
            cached.stop()
            app.close()

"""As-of trees when the log's tail corrects check-ins of objectives stored at the checkpoint.

A checkpoint document keeps only the check-in in force per key result. Correcting any other
check-in in the tail is folded onto that document as it is; correcting the one in force
refolds the objective from its own events. Both must answer exactly what the fold does, at
every position and for every checkpoint spacing, and the story must exercise both.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

import pytest

from infra.checkpoints import TimeTravel
from infra.views.log import Row
from projections.tree import ObjectiveNode
from tests.views.conftest import Databases, fresh_views, generate, head, whole_log
from tests.views.oracle import Oracle

pytestmark = pytest.mark.postgres


class CountingTimeTravel(TimeTravel):
    """The real time travel, counting the tail's corrections it folds without a refold."""

    folded = 0
    refolded = 0

    def _superseding_in_force(
        self, corrections: Iterable[Row], documents: dict[UUID, ObjectiveNode]
    ) -> set[UUID]:
        rows = list(corrections)
        out = super()._superseding_in_force(rows, documents)
        self.refolded += len(out)
        self.folded += len({row[1] for row in rows} - out)
        return out


@pytest.mark.parametrize("every", [4, 9])
def test_as_of_trees_with_corrections_in_the_tail_equal_the_fold(
    databases: Databases, every: int
) -> None:
    views = fresh_views(databases, checkpoint_every=every, checkpoint_cache_size=0)
    with views as (_url, app, readmodels):
        counting = CountingTimeTravel(readmodels.store, readmodels.log)
        readmodels.timetravel = counting
        readmodels.start()
        generate(app, 400)  # check-ins and corrections of in-force and earlier check-ins
        assert readmodels.wait_for(head(app), 20)
        oracle = Oracle(whole_log(readmodels))
        cycles: list[UUID] = oracle.cycles()
        for position in oracle.positions:
            for cycle_id in cycles:
                assert readmodels.tree(cycle_id, position=position) == oracle.tree(
                    cycle_id, position
                ), position
        assert counting.folded > 0
        assert counting.refolded > 0

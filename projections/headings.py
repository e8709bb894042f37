"""What the folds that list objectives to people keep of each one (the inbox, staleness): its
id, cycle, title and owners, and the handlers that keep those up to date."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from domain.objective import Objective
from projections.base import FoldState, Handlers, Logged

FS = TypeVar("FS", bound=FoldState)
H = TypeVar("H", bound="ObjectiveHeading")

GRADING_AND_LINKS: tuple[type[Objective.Event], ...] = (
    Objective.KeyResultGraded,
    Objective.Graded,
    Objective.Reflected,
    Objective.CarriedOver,
    Objective.Themed,
    Objective.KeyResultLinkedToKpi,
    Objective.KeyResultUnlinkedFromKpi,
)
"""An objective's grades, reflection, carry-over and links to the strategy layer: nothing a
listing of what waits on someone follows (both folds name them in their `ignores`)."""


@dataclass
class ObjectiveHeading:
    """Which objective, in which cycle, under which title, and whose."""

    objective_id: UUID
    cycle_id: UUID
    title: str
    owner_team_id: UUID | None
    owner_person_id: UUID | None


def follow_headings(
    on: Handlers[FS], heading: type[H], objectives: Callable[[FS], dict[UUID, H]]
) -> None:
    """Register the handlers that keep `objectives(state)` (objective id → `heading`) in step
    with drafting, rewording and reassigning."""

    @on.on(Objective.Drafted)
    def _drafted(state: FS, e: Objective.Drafted, logged: Logged) -> None:
        objectives(state)[e.originator_id] = heading(
            e.originator_id, e.cycle_id, e.title, e.owner_team_id, e.owner_person_id
        )

    @on.on(Objective.Reworded)
    def _reworded(state: FS, e: Objective.Reworded, logged: Logged) -> None:
        objectives(state)[e.originator_id].title = e.title

    @on.on(Objective.Reassigned)
    def _reassigned(state: FS, e: Objective.Reassigned, logged: Logged) -> None:
        item = objectives(state)[e.originator_id]
        item.owner_team_id, item.owner_person_id = e.owner_team_id, e.owner_person_id

"""Check-ins in bulk: `Objective.check_in`'s rules and event, for many check-ins (an imported
history), without eventsourcing's generic event machinery where the rules do not need it.

`report_progress` takes the fast way only when every rule of `Objective.check_in` is known to
pass: the cycle is being tracked, the objective approved, the key result live, the value a finite
float (0 or 1 on a milestone), the confidence a whole number from 0 to 10, the date within the
cycle and not after the command's day. Then it makes the `ProgressReported` event the command
would make (the same attributes, in the same order, so the same stored bytes), applies it with
the event's own `apply`, moves the objective's version on and queues the event, as
`trigger_event` does, but without its keyword copies, the frozen dataclass's checks field by
field, and the refusal messages a command formats before it knows it will refuse. Any other case
(one rule in doubt) goes through `Objective.check_in` itself, which refuses it with its rule, or
records it: the rules are the command's, never restated here.

`tests/unit/test_objective_bulk.py` holds the two ways to the same events for the
same input (ids aside), and the same refusals.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date
from typing import Any
from uuid import UUID, uuid4

from domain.base import CommandContext
from domain.cycle import Cycle
from domain.errors import clean_text
from domain.objective import Objective
from domain.objective_values import TRACKING_PHASES, Status
from domain.scoring import Measure

_EVENT = Objective.ProgressReported
_FIELDS = tuple(f.name for f in dataclasses.fields(_EVENT))
_EXPECTED = (
    "originator_id",
    "originator_version",
    "timestamp",
    "actor",
    "reason",
    "request_id",
    "provenance",
    "check_in_id",
    "key_result_id",
    "value",
    "confidence",
    "note",
    "effective_on",
)
if _FIELDS != _EXPECTED:  # the event changed: write this module's attributes anew
    msg = f"Objective.ProgressReported's fields changed: {_FIELDS}"
    raise RuntimeError(msg)

_MILESTONE_VALUES = (0.0, 1.0)
_APPROVED = Status.APPROVED
_MILESTONE = Measure.MILESTONE


def report_progress(
    objective: Objective,
    cycle: Cycle,
    key_result_id: UUID,
    value: float,
    confidence: int,
    ctx: CommandContext,
    note: str = "",
    effective_on: date | None = None,
) -> UUID:
    """`objective.check_in(...)`, the same rules and the same event (its id aside): answers the
    check-in's id, or raises the rule the check-in breaks."""
    at = ctx.at
    kr = objective.key_results.get(key_result_id)
    if (
        at is None
        or effective_on is None
        or kr is None
        or kr.removed
        or objective.status is not _APPROVED
        or cycle.phase not in TRACKING_PHASES
        or type(value) is not float
        or not math.isfinite(value)
        or (kr.measure is _MILESTONE and value not in _MILESTONE_VALUES)
        or type(confidence) is not int
        or not 0 <= confidence <= 10
        or not cycle.starts_on <= effective_on <= cycle.ends_on
        or effective_on > at.date()
    ):
        # A rule in doubt: the command decides (it refuses, or records the check-in).
        return objective.check_in(cycle, key_result_id, value, confidence, ctx, note, effective_on)
    check_in_id = uuid4()
    version = objective.version + 1
    event = object.__new__(_EVENT)
    provenance = ctx.provenance
    state: dict[str, Any] = event.__dict__
    # The attributes in the dataclass's order, as its __init__ would set them.
    state["originator_id"] = objective.id
    state["originator_version"] = version
    state["timestamp"] = at
    state["actor"] = ctx.actor
    state["reason"] = ""
    state["request_id"] = ctx.request_id
    state["provenance"] = None if provenance is None else dict(provenance)
    state["check_in_id"] = check_in_id
    state["key_result_id"] = kr.id
    state["value"] = value
    state["confidence"] = confidence
    state["note"] = clean_text(note, "note")
    state["effective_on"] = effective_on
    event.apply(objective)
    objective.version = version
    objective.modified_on = at
    objective._pending_events.append(event)
    return check_in_id

"""Queries over the read models: objectives, history, tree (as of), replay, diff, compare,
inbox and stale key results. Every one accepts `min_position` (read your writes); private
objectives the caller may not see are left out (api.visibility). The routes parse the query
string; the answers come from the query use cases (api/usecases/queries.py), which the pages
call too."""

from __future__ import annotations

from typing import Literal

from api import schemas as s
from api.deps import Instant, ReadAt, Span
from api.routes import Limit, Offset, Position, QueriesDep, router
from api.routes.commands import (
    Gathered,
    ModelRead,
    Param,
    id_filter,
    moment,
    query,
    register_model_read,
)
from api.usecases.queries import QueryUseCases as QU

queries = router("queries")

_FROM = query("from_", Instant | None, "RFC 3339 instant: the earlier moment.", None, alias="from")
_TO = query("to", Instant | None, "RFC 3339 instant: the later moment (default: now).", None)
_MOMENTS = Gathered(
    (_FROM, _TO, Param("from_position", Position, None), Param("to_position", Position, None)),
    lambda from_, to, from_position, to_position: Span(
        ReadAt(from_, from_position), ReadAt(to, to_position)
    ),
)
"""The diff's two moments, each an instant or a position."""


# ------------------------------------------------------------------ objectives


register_model_read(
    queries,
    ModelRead(
        "/objectives",
        "list_objectives",
        "List objectives",
        """Objectives in drafting order, as the alignment tree shows them (progress, health, score),
        without nesting.""",
        QU.objectives,
        s.ObjectivesPage,
        (
            id_filter("cycle_id", "Only this cycle's."),
            id_filter("team_id", "Only those this team owns."),
            id_filter("owner_person_id", "Only this person's."),
            Param("limit", Limit, 100),
            Param("offset", Offset, 0),
        ),
        versioned=False,
        reads=QueriesDep,
    ),
    ModelRead(
        "/objectives/{objective_id}/history",
        "objective_history",
        "An objective's history",
        """Its timeline (every event with actor, reason and a one-line summary) and each key
        result's check-ins, corrections included (bitemporal: effective_on and recorded_at).""",
        QU.history,
        s.History,
        (),
        versioned=False,
        reads=QueriesDep,
    ),
)


# ------------------------------------------------------------------------ tree


register_model_read(
    queries,
    ModelRead(
        "/cycles/{cycle_id}/tree",
        "cycle_tree",
        "The alignment tree (now, as of an instant, or at a position)",
        """Objectives nested by alignment (company → teams → people), with progress, health and
        scores. Give `as_of` or `position` (not both) for time travel.""",
        QU.tree,
        s.Tree,
        (
            moment("RFC 3339 instant: the tree as it stood then."),
            id_filter("team_id", "Only this team, the teams below it and their people."),
        ),
        versioned=False,
        reads=QueriesDep,
    ),
)


register_model_read(
    queries,
    ModelRead(
        "/cycles/{cycle_id}/replay",
        "cycle_replay",
        "Replay a cycle day by day or week by week",
        "One frame per day or week: the tree at its end and the events within it.",
        QU.replay,
        s.Replay,
        (query("step", Literal["day", "week"], "Frame length.", "week"),),
        versioned=False,
        reads=QueriesDep,
    ),
    ModelRead(
        "/diff",
        "tree_diff",
        "What changed between two moments",
        """Objectives added, abandoned, realigned, reassigned, retitled; status, score, target,
        baseline, weight and grade changes; confidence swings. Each change says who made it, why,
        and who approved it. Moments are instants (`from`, `to`) or log positions.""",
        QU.diff,
        s.Diff,
        (
            _MOMENTS,
            id_filter("cycle_id", "Only this cycle's objectives."),
        ),
        versioned=False,
        reads=QueriesDep,
    ),
    ModelRead(
        "/compare",
        "compare_cycles",
        "Compare cycles, per team",
        """Per cycle and team: scores, share achieved, committed vs aspirational, targets moved,
        check-in cadence and confidence calibration.""",
        QU.compare,
        s.Comparison,
        (
            query(
                "cycles",
                str,
                "Comma-separated cycle ids, e.g. `A,B,C` (one to eight).",
                examples=[
                    "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d,6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
                ],
            ),
            id_filter("team_id", "Only this team (and below)."),
        ),
        versioned=False,
        reads=QueriesDep,
    ),
    ModelRead(
        "/inbox",
        "my_inbox",
        "What waits on me",
        "Objectives to review, amendments to decide, counter-proposals to answer.",
        QU.inbox,
        s.Inbox,
        (),
        versioned=False,
        reads=QueriesDep,
    ),
    ModelRead(
        "/stale",
        "stale_key_results",
        "Key results without a recent check-in",
        """Approved key results in active cycles silent for longer than their cycle's cadence,
        longest-silent first.""",
        QU.stale,
        s.StalePage,
        (id_filter("cycle_id", "Only this cycle's."),),
        versioned=False,
        reads=QueriesDep,
    ),
)

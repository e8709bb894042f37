"""The read use cases over the read models: objectives, history, tree (as of), replay, diff,
compare, inbox and stale key results.

One handler per query, shared by the HTTP routes (`api/routes/queries.py`) and the pages: it
checks what the query names exists (404), leaves out the private objectives the caller may not
see (`api/visibility.py`, decided by `api/policy.py`) and answers the result's shape. The
answer's position is recorded as the routes always did (`infra/answer.py`: the read models note
what they read; `answer.read_again` and `answer.saw` where a handler reads twice or from the
cache), so a JSON read states OKR-Position and the web footer shows it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import orjson

from api import policy, positions, visibility
from api import schemas as s
from api.deps import NOW, ReadAt, Services, Span, get_readmodels, visible_objective
from api.errors import ApiError, invalid, not_found
from api.policy import Principal
from api.usecases import UseCases
from infra import answer
from infra.readmodels import ReadModels
from infra.settings import get_settings
from infra.sources.sync import source_problems

Json = dict[str, Any]


@contextmanager
def _visible(services: Services, principal: Principal) -> Iterator[visibility.Visible]:
    """Whether the caller may see an objective (held while the directory is held still)."""
    if policy.reads_everything(principal):
        yield lambda _: True
        return
    with services.directory.current() as directory:
        yield visibility.viewer(directory, principal)


def _hidden(services: Services, principal: Principal, readmodels: ReadModels) -> set[str]:
    """Ids of the private objectives the caller may not see (empty for admins and auditors)."""
    if policy.reads_everything(principal):
        return set()
    objectives = readmodels.objectives()
    with _visible(services, principal) as visible:
        return visibility.hidden_ids(objectives, visible)


def known_cycle(services: Services, cycle_id: UUID, field: str | None = None) -> None:
    """404 unless the cycle exists (naming `field` when given)."""
    with services.directory.current() as directory:
        known = cycle_id in directory.cycles
    if not known:
        raise not_found("cycle", cycle_id, field)


def _team(services: Services, team_id: UUID | None) -> None:
    if team_id is None:
        return
    with services.directory.current() as directory:
        known = team_id in directory.teams
    if not known:
        raise not_found("team", team_id, "team_id")


def _position(
    services: Services, readmodels: ReadModels, position: int | None, field: str
) -> int | None:
    """A position the read models have reached (waiting for it if it exists)."""
    if position is None:
        return None
    head = services.ledger.recorder.max_notification_id() or 0
    if position > head:
        raise invalid("position_beyond_log", f"the log ends at position {head}", field)
    if not readmodels.wait_for(position, services.wait_timeout):
        raise ApiError(
            504, "projection_lagging", f"the read models did not reach {position} in time", field
        )
    return position


def _at(readmodels: ReadModels, instant: datetime | None) -> int | None:
    """The log position at an instant (0 when nothing had been committed yet)."""
    if instant is None:
        return None
    return readmodels.position_at(instant) or 0


def moment(services: Services, readmodels: ReadModels, at: ReadAt) -> int | None:
    """The log position to answer at: live (None), `at.position`, or the one at `at.as_of`."""
    as_of, position = at.either().as_of, at.position
    if as_of is not None:
        return readmodels.position_at(as_of) or 0
    if position is None:
        return None
    head = services.ledger.recorder.max_notification_id() or 0
    if position > head:
        raise invalid("position_beyond_log", f"the log ends at position {head}", "position")
    return position


def _viewer_key(services: Services, principal: Principal) -> Hashable:
    """Who the tree is filtered for (see api.deps.TreeCache)."""
    if policy.reads_everything(principal):
        return "all"
    with services.directory.current():
        return (principal.person_id, principal.role, services.directory.position())


def cycle_list(raw: str) -> list[UUID]:
    """The cycles of a comparison: a comma-separated list of one to eight different ids."""
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    try:
        ids = [UUID(p) for p in parts]
    except ValueError:
        raise invalid(
            "uuid_list", "cycles is a comma-separated list of cycle ids", "cycles"
        ) from None
    if not 1 <= len(ids) <= 8 or len(set(ids)) != len(ids):
        raise invalid("cycles_count", "compare one to eight different cycles", "cycles")
    return ids


class QueryUseCases(UseCases):
    """The reads of the alignment tree and its history, for one caller."""

    @property
    def readmodels(self) -> ReadModels:
        """The read models (a 503 on a server that runs none)."""
        return get_readmodels(self.services)

    def objectives(
        self,
        cycle_id: UUID | None,
        team_id: UUID | None,
        owner_person_id: UUID | None,
        limit: int,
        offset: int,
    ) -> s.ObjectivesPage:
        """Objectives in drafting order, the ones the caller may see, one page of them."""
        found = self.readmodels.objectives(cycle_id, team_id, owner_person_id)
        with _visible(self.services, self.principal) as visible:
            items = [o for o in found if visible(o)]
        return s.ObjectivesPage(
            items=items[offset : offset + limit], total=len(items), limit=limit, offset=offset
        )

    def history(self, objective_id: UUID) -> Json:
        """An objective's timeline and check-ins (404 when the caller may not see it)."""
        services, readmodels = self.services, self.readmodels
        objective = visible_objective(services, self.principal, objective_id)
        history = readmodels.history(objective_id)
        if not history:
            # The objective exists (the event store says so): the read models are behind.
            head = services.ledger.recorder.max_notification_id() or 0
            if readmodels.wait_for(head, services.wait_timeout):
                answer.read_again()
                history = readmodels.history(objective.id)
        if not history:
            raise ApiError(504, "projection_lagging", "the read models have not caught up; retry")
        return history

    def tree(self, cycle_id: UUID, at: ReadAt = NOW, team_id: UUID | None = None) -> s.Tree | bytes:
        """The alignment tree now (the JSON bytes, from the cache when nothing moved), as of an
        instant or at a position."""
        services, readmodels, principal = self.services, self.readmodels, self.principal
        as_of = at.either().as_of
        known_cycle(services, cycle_id)
        _team(services, team_id)
        position = _position(services, readmodels, at.position, "position")
        if as_of is not None:
            position = _at(readmodels, as_of)
        if position is None:
            return self._live_tree(cycle_id, team_id)
        roots = readmodels.tree(cycle_id, position=position, team_id=team_id)
        with _visible(services, principal) as visible:
            roots = visibility.prune_tree(roots, visible)
        return s.Tree(
            cycle_id=cycle_id, team_id=team_id, position=position, as_of=as_of, roots=roots
        )

    def tree_roots(
        self, cycle_id: UUID, at: ReadAt = NOW, team_id: UUID | None = None
    ) -> list[Json]:
        """The tree's roots as plain data (what a page walks)."""
        found = self.tree(cycle_id, at, team_id)
        if isinstance(found, bytes):
            return list(orjson.loads(found)["roots"])
        return list(found.roots)

    def _live_tree(self, cycle_id: UUID, team_id: UUID | None) -> bytes:
        """The live tree, from the cache while neither the views nor the viewer's directory
        moved."""
        services, readmodels, principal = self.services, self.readmodels, self.principal
        live_key = readmodels.live_key()
        key = (cycle_id, team_id, live_key, _viewer_key(services, principal))
        body = services.trees.get(key)
        if body is not None:
            answer.saw(live_key[0])  # the remembered answer was built at exactly this key
            return body
        views_key, roots = readmodels.live_tree(cycle_id, team_id)
        if policy.reads_everything(principal):
            viewer: Hashable = "all"
        else:
            with services.directory.current() as directory:
                roots = visibility.prune_tree(roots, visibility.viewer(directory, principal))
                viewer = (principal.person_id, principal.role, services.directory.position())
        tree_answer = s.Tree(
            cycle_id=cycle_id, team_id=team_id, position=views_key[0], as_of=None, roots=roots
        )
        body = tree_answer.model_dump_json().encode()
        services.trees.put((cycle_id, team_id, views_key, viewer), body)
        return body

    def replay(self, cycle_id: UUID, step: Literal["day", "week"]) -> s.Replay:
        """One frame per day or week: the tree at its end and the events within it."""
        services, readmodels, principal = self.services, self.readmodels, self.principal
        known_cycle(services, cycle_id)
        frames = readmodels.replay(cycle_id, step)
        if not policy.reads_everything(principal):
            hidden = _hidden(services, principal, readmodels)
            with _visible(services, principal) as visible:
                frames = [
                    {
                        **frame,
                        "tree": visibility.prune_tree(frame.get("tree", []), visible),
                        "events": visibility.without(frame.get("events", []), hidden),
                    }
                    for frame in frames
                ]
        return s.Replay(cycle_id=cycle_id, step=step, frames=frames)

    def diff(self, span: Span, cycle_id: UUID | None = None) -> Json:
        """What changed between two moments, each an instant or a log position."""
        services, readmodels, principal = self.services, self.readmodels, self.principal
        since, until = span.since, span.until
        if (since.as_of is None) == (since.position is None):
            raise invalid("from_required", "give exactly one of from and from_position", "from")
        if until.as_of is not None and until.position is not None:
            raise invalid("to_or_to_position", "give to or to_position, not both", "to")
        if cycle_id is not None:
            known_cycle(services, cycle_id, "cycle_id")
        start = _at(readmodels, since.as_of) if since.as_of is not None else since.position
        end = _at(readmodels, until.as_of) if until.as_of is not None else until.position
        if end is None:
            end = services.ledger.recorder.max_notification_id() or 0
        start = _position(services, readmodels, start, "from")
        end = _position(services, readmodels, end, "to")
        assert start is not None and end is not None
        result = readmodels.diff(start, end, cycle_id)
        hidden = _hidden(services, principal, readmodels)
        if hidden:
            result = {**result, "changes": visibility.without(result.get("changes", []), hidden)}
        return result

    def compare(self, cycles: str, team_id: UUID | None) -> Json:
        """Per cycle and team: scores, share achieved, targets moved, cadence, calibration."""
        ids = cycle_list(cycles)
        for cycle_id in ids:
            known_cycle(self.services, cycle_id, "cycles")
        _team(self.services, team_id)
        data = self.readmodels.compare(ids, team_id)
        if data.get("position") is None:
            data["position"] = positions.reflected()
        return data

    def inbox(self) -> Json:
        """Objectives to review, amendments to decide, counter-proposals to answer."""
        return self.readmodels.inbox(self.principal.person_id)

    def stale(self, cycle_id: UUID | None) -> s.StalePage:
        """Approved key results silent for longer than their cycle's cadence."""
        if cycle_id is not None:
            known_cycle(self.services, cycle_id, "cycle_id")
        items = self.readmodels.stale(cycle_id)
        failing = self.readmodels.failing_sources(
            source_problems(self.services.ledger, self.services.settings or get_settings()),
            cycle_id,
        )
        hidden = _hidden(self.services, self.principal, self.readmodels)
        return s.StalePage(
            items=visibility.without(items, hidden),
            failing_sources=visibility.without(failing, hidden),
        )

"""Data the pages share: cycles, teams and people for pickers, trees flattened and filtered,
and instants typed into a `datetime-local` field."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from api.deps import NOW, ReadAt
from api.usecases.queries import QueryUseCases
from api.web.site import FormError, PageNotFound, Viewer
from projections.directory import DirectoryState, team_ancestors

Json = dict[str, Any]


@dataclass(frozen=True)
class CycleInfo:
    id: str
    name: str
    phase: str
    starts_on: date
    ends_on: date
    scoring: str
    phase_history: tuple[Json, ...]

    @property
    def label(self) -> str:
        return f"{self.name} ({self.phase})"

    def phase_entered(self, phase: str) -> datetime | None:
        """When the cycle (last) entered `phase`."""
        found = [p["at"] for p in self.phase_history if p["phase"] == phase]
        return found[-1] if found else None


def cycles(viewer: Viewer) -> list[CycleInfo]:
    """Every cycle, oldest first."""

    def read(d: DirectoryState) -> list[CycleInfo]:
        return [
            CycleInfo(
                id=str(cycle_id),
                name=entry.name,
                phase=entry.phase,
                starts_on=entry.starts_on,
                ends_on=entry.ends_on,
                scoring=entry.scoring,
                phase_history=tuple(
                    {"phase": p.phase, "at": p.at, "actor": p.actor, "reason": p.reason}
                    for p in entry.phase_history
                ),
            )
            for cycle_id, entry in d.cycles.items()
        ]

    found: list[CycleInfo] = viewer.ask(read)
    return sorted(found, key=lambda c: (c.starts_on, c.name))


def current_cycle(all_cycles: list[CycleInfo]) -> CycleInfo | None:
    """The cycle people are working in: the active one, else grading, else planning, else the
    latest."""
    for phase in ("active", "grading", "planning"):
        matching = [c for c in all_cycles if c.phase == phase]
        if matching:
            return matching[-1]
    return all_cycles[-1] if all_cycles else None


def pick_cycle(viewer: Viewer, cycle: str | None) -> tuple[CycleInfo | None, list[CycleInfo]]:
    """The cycle asked for (404 if unknown), or the current one."""
    all_cycles = cycles(viewer)
    if not cycle:
        return current_cycle(all_cycles), all_cycles
    chosen = next((c for c in all_cycles if c.id == cycle), None)
    if chosen is None:
        raise PageNotFound("cycle")
    return chosen, all_cycles


@dataclass(frozen=True)
class TeamInfo:
    id: str
    name: str
    depth: int
    members: tuple[tuple[str, str], ...]
    """(person id, role) pairs."""

    @property
    def indented(self) -> str:
        return "\u2003" * self.depth + self.name


def teams(viewer: Viewer) -> list[TeamInfo]:
    """Teams not disbanded, each under its parent (depth-first)."""

    def read(d: DirectoryState) -> list[TeamInfo]:
        live = {t: e for t, e in d.teams.items() if not e.disbanded}
        children: dict[UUID | None, list[UUID]] = {}
        for team_id, entry in live.items():
            parent = entry.parent_id if entry.parent_id in live else None
            children.setdefault(parent, []).append(team_id)
        out: list[TeamInfo] = []
        seen: set[UUID] = set()

        def visit(team_id: UUID, depth: int) -> None:
            if team_id in seen:
                return
            seen.add(team_id)
            entry = live[team_id]
            members = tuple((str(p), r) for p, r in entry.members.items())
            out.append(TeamInfo(str(team_id), entry.name, depth, members))
            for child in children.get(team_id, []):
                visit(child, depth + 1)

        for root in children.get(None, []):
            visit(root, 0)
        return out

    found: list[TeamInfo] = viewer.ask(read)
    return found


def people(viewer: Viewer) -> list[tuple[str, str]]:
    """(id, name) of active people, by name."""

    def read(d: DirectoryState) -> list[tuple[str, str]]:
        return [(str(p), e.name) for p, e in d.people.items() if e.active]

    found: list[tuple[str, str]] = viewer.ask(read)
    return sorted(found, key=lambda p: p[1].lower())


def approvers_for(
    viewer: Viewer, owner_team_id: str | None, owner_person_id: str | None
) -> list[str]:
    """People who usually approve an objective: the managers of its team (or its person's
    teams) and of the teams above, nearest first, never the viewer."""

    def read(d: DirectoryState) -> list[str]:
        if owner_team_id:
            start = [UUID(owner_team_id)]
        elif owner_person_id:
            start = [t for t, e in d.teams.items() if UUID(owner_person_id) in e.members]
        else:
            start = []
        chain: list[UUID] = []
        for team_id in start:
            for t in [team_id, *team_ancestors(d, team_id)]:
                if t not in chain:
                    chain.append(t)
        out: list[str] = []
        for t in chain:
            entry = d.teams.get(t)
            if entry is None or entry.disbanded:
                continue
            for person_id, role in entry.members.items():
                mine = person_id == viewer.principal.person_id
                if role == "manager" and not mine and str(person_id) not in out:
                    out.append(str(person_id))
        return out

    found: list[str] = viewer.ask(read)
    return found


# ------------------------------------------------------------------------- trees


def walk(roots: list[Json], depth: int = 0) -> Iterator[tuple[Json, int]]:
    """Every objective of a tree with its depth, parents first."""
    for node in roots:
        yield node, depth
        yield from walk(node.get("children", []), depth + 1)


def prune(roots: list[Json], keep: Callable[[Json], bool]) -> list[Json]:
    """The tree with only the objectives `keep` accepts and the ancestors that lead to them
    (those are marked `context` so the page can show them dimmed)."""
    out = []
    for node in roots:
        children = prune(node.get("children", []), keep)
        matches = keep(node)
        if matches or children:
            out.append({**node, "children": children, "context": not matches})
    return out


def tree(viewer: Viewer, cycle_id: str, at: ReadAt = NOW, team_id: str | None = None) -> list[Json]:
    """The cycle's alignment tree as the viewer may see it (the API's own query)."""
    services = viewer.services
    readmodels = services.readmodels
    if readmodels is None:
        return []
    return QueryUseCases(viewer.caller).tree_roots(
        UUID(cycle_id), at, UUID(team_id) if team_id else None
    )


def objective_confidence(node: Json) -> int | None:
    """The lowest confidence of the objective's key results (the one to worry about)."""
    values = [
        kr["confidence"] for kr in node.get("key_results", []) if kr.get("confidence") is not None
    ]
    return min(values) if values else None


# ------------------------------------------------------------------------- times


def parse_local(value: str | None) -> datetime | None:
    """A `datetime-local` value (or an ISO instant) as a UTC instant; dates mean midnight."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = datetime.combine(date.fromisoformat(value.strip()), time())
        except ValueError:
            raise FormError(f"'{value}' is not a date and time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def bookmarks(cycle: CycleInfo, now: datetime) -> list[tuple[str, str, datetime]]:
    """Named moments of a cycle: (key, label, instant), in time order, none in the future."""
    marks: list[tuple[str, str, datetime]] = []
    planning = cycle.phase_entered("planning")
    if planning:
        marks.append(("planning", "planning opened", planning))
    marks.append(("start", "cycle start", start_of_day(cycle.starts_on)))
    middle = cycle.starts_on + timedelta(days=(cycle.ends_on - cycle.starts_on).days // 2)
    marks.append(("mid", "mid-cycle review", start_of_day(middle)))
    grading = cycle.phase_entered("grading")
    if grading:
        marks.append(("grading", "grading opened", grading))
    marks.append(("end", "cycle end", end_of_day(cycle.ends_on)))
    closed = cycle.phase_entered("closed")
    if closed:
        marks.append(("closed", "cycle closed", closed))
    marks = [m for m in marks if m[2] <= now]
    marks.append(("now", "now", now))
    return sorted(marks, key=lambda m: m[2])

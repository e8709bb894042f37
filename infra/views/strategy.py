"""The strategy layer's read models: strategy, KPI dashboard, initiatives, strategy map, lint.

`StrategyReads` follows the notification log on its own (the directory, the alignment tree and
the strategy fold, in memory, caught up on every query), so it stays correct whatever serves the
other views. As-of answers fold the log up to a position, like the tree's. Answers are JSON-ready
dicts with names joined from the directory (`…_name` beside each person or team id).

It also gives the ledger the cycle as the read side sees it (`quality_context`), so that
submission can run the quality checks that compare an objective with its neighbours.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from domain.application import OkrLedger
from domain.quality import CHECKS, Finding, ObjectiveSpec, Organisation, lint
from infra import answer
from infra.views.codec import jsonable
from infra.views.log import LogReader
from infra.views.render import Names
from projections.base import Logged, fold
from projections.coach import lint_cycle, organisation, specs
from projections.directory import DirectoryFold, DirectoryState
from projections.strategy import (
    StrategyFold,
    StrategyState,
    initiative_view,
    initiative_views,
    kpi_view,
    kpi_views,
    perspectives,
    quality_levels,
    strategy_in_cycles,
    strategy_map,
)
from projections.tree import TreeFold, TreeState


class LogSource(Protocol):
    """What the reads need: the ledger and its log (`infra.readmodels.ReadModels` has both)."""

    @property
    def ledger(self) -> OkrLedger: ...

    @property
    def log(self) -> LogReader: ...


@dataclass(frozen=True)
class _Source:
    """What the reads need: the ledger and its log."""

    ledger: OkrLedger
    log: LogReader


Json = dict[str, Any]

_DESCRIPTIONS = {check.value: text for check, text in CHECKS.items()}
_DIRECTORY = DirectoryFold()
_TREE = TreeFold()
_STRATEGY = StrategyFold()


class StrategyReads:
    """Queries over the strategy layer, live or as of a log position."""

    def __init__(self, readmodels: LogSource, *, serve_ledger: bool = True) -> None:
        """Reads `readmodels.log`; with `serve_ledger`, also gives `readmodels.ledger` the
        cycle for its submission checks."""
        self.log = readmodels.log
        self._lock = threading.RLock()
        self._position = 0
        self._directory: DirectoryState = _DIRECTORY.initial()
        self._tree: TreeState = _TREE.initial()
        self._strategy: StrategyState = _STRATEGY.initial()
        if serve_ledger:
            readmodels.ledger.quality_context = self.quality_context

    @classmethod
    def of_ledger(cls, ledger: OkrLedger) -> StrategyReads:
        """Reads over `ledger`'s log on their own (the CLI's `okr lint`)."""
        recorder: Any = ledger.recorder  # the chained PostgreSQL recorder, as in ReadModels
        log = LogReader(recorder, ledger.mapper)
        return cls(_Source(ledger, log), serve_ledger=False)

    def cycles(self) -> list[tuple[UUID, str, str, str]]:
        """(id, name, phase, starts_on) of every cycle, latest start first."""
        with self._lock:
            directory, _, _ = self._states(None)
            found = [
                (cycle_id, entry.name, entry.phase, entry.starts_on.isoformat())
                for cycle_id, entry in directory.cycles.items()
            ]
            return sorted(found, key=lambda c: c[3], reverse=True)

    # --------------------------------------------------------------- folding

    def catch_up(self) -> int:
        with self._lock:
            for page in self.log.pages(self._position):
                for logged in page:
                    _DIRECTORY.apply(self._directory, logged)
                    _TREE.apply(self._tree, logged)
                    _STRATEGY.apply(self._strategy, logged)
                self._position = page[-1].position
            return self._position

    def _states(self, position: int | None) -> tuple[DirectoryState, TreeState, StrategyState]:
        """Live states (caught up), or states folded up to `position` (the live directory:
        names are shown as they are now)."""
        self.catch_up()
        if position is None:
            answer.saw(self._position)
            return self._directory, self._tree, self._strategy
        answer.pin(position)
        log: list[Logged] = [p for page in self.log.pages(0, position) for p in page]
        return self._directory, fold(_TREE, log), fold(_STRATEGY, log)

    # ---------------------------------------------------------------- strategy

    def strategy(self, position: int | None = None) -> Json | None:
        with self._lock:
            directory, _, state = self._states(position)
            entry = state.strategy
            if entry is None:
                return None
            names = Names(directory)
            themes = [t for t in entry.themes.values() if not t.retired]
            north = state.kpis.get(entry.north_star_kpi_id) if entry.north_star_kpi_id else None
            return {
                "version": entry.version,
                "position": position,
                "defined_at": entry.defined_at.isoformat(),
                "updated_at": entry.updated_at.isoformat(),
                "mission": entry.mission,
                "vision": entry.vision,
                "values": list(entry.values),
                "perspectives": [
                    {
                        "key": key,
                        "name": name,
                        "theme_ids": [str(t.theme_id) for t in themes if t.perspective == key],
                    }
                    for key, name in perspectives(state)
                ],
                "themes": [
                    {
                        "id": str(t.theme_id),
                        "name": t.name,
                        "description": t.description,
                        "perspective": t.perspective,
                        "drives": [str(d) for d in t.drives],
                    }
                    for t in themes
                ],
                "north_star": None
                if north is None
                else {
                    "kpi_id": str(north.kpi_id),
                    "name": north.name,
                    "owner_person_id": str(north.owner_person_id),
                    "owner_person_name": names.person(north.owner_person_id),
                },
                "quality_checks": quality_levels(state),
            }

    def theme_names(self) -> dict[str, str]:
        with self._lock:
            _, _, state = self._states(None)
            if state.strategy is None:
                return {}
            return {str(t): e.name for t, e in state.strategy.themes.items()}

    # -------------------------------------------------------------------- KPIs

    def kpis(self, position: int | None = None, include_retired: bool = False) -> list[Json]:
        with self._lock:
            directory, tree, state = self._states(position)
            return [
                self._kpi_json(v, state, directory)
                for v in kpi_views(state, tree, include_retired=include_retired)
            ]

    def kpi(self, kpi_id: UUID, position: int | None = None) -> Json | None:
        with self._lock:
            directory, tree, state = self._states(position)
            if kpi_id not in state.kpis:
                return None
            return self._kpi_json(kpi_view(state, kpi_id, tree), state, directory)

    def _kpi_json(self, view: Any, state: StrategyState, directory: DirectoryState) -> Json:
        data: Json = jsonable(view)
        names = Names(directory)
        data["owner_person_name"] = names.person(data["owner_person_id"])
        theme = (
            state.strategy.themes.get(view.theme_id)
            if state.strategy is not None and view.theme_id is not None
            else None
        )
        data["theme_name"] = theme.name if theme else None
        for entry in (*data["history"], *data["corrections"], *data["thresholds"]):
            entry["actor_name"] = names.person(entry["actor"])
        for kr in data["key_results"]:
            kr["cycle_name"] = names.cycle(kr["cycle_id"])
        return data

    # ------------------------------------------------------------- initiatives

    def initiatives(
        self,
        *,
        objective_id: UUID | None = None,
        key_result_id: UUID | None = None,
        cycle_id: UUID | None = None,
        status: str | None = None,
        position: int | None = None,
    ) -> list[Json]:
        with self._lock:
            directory, tree, state = self._states(position)
            found = initiative_views(
                state,
                tree,
                objective_id=objective_id,
                key_result_id=key_result_id,
                cycle_id=cycle_id,
                status=status,
            )
            return [self._initiative_json(v, directory) for v in found]

    def initiative(self, initiative_id: UUID, position: int | None = None) -> Json | None:
        with self._lock:
            directory, tree, state = self._states(position)
            if initiative_id not in state.initiatives:
                return None
            return self._initiative_json(initiative_view(state, initiative_id, tree), directory)

    def _initiative_json(self, view: Any, directory: DirectoryState) -> Json:
        data: Json = jsonable(view)
        names = Names(directory)
        data["owner_person_name"] = names.person(data["owner_person_id"])
        for note in data["notes"]:
            note["actor_name"] = names.person(note["actor"])
        for kr in data["key_results"]:
            kr["cycle_name"] = names.cycle(kr["cycle_id"])
        return data

    def private_objectives(self) -> list[Json]:
        """Every private objective, with what the visibility policy reads of it (from this
        reader's own tree, so it is as current as the answers it filters)."""
        with self._lock:
            _, tree, _ = self._states(None)
            return [
                {
                    "objective_id": str(node.objective_id),
                    "owner_team_id": str(node.owner_team_id) if node.owner_team_id else None,
                    "owner_person_id": str(node.owner_person_id) if node.owner_person_id else None,
                    "private": True,
                    "approver_id": str(node.approver_id) if node.approver_id else None,
                    "submitted_by": node.submitted_by,
                }
                for node in tree.objectives.values()
                if node.private
            ]

    def objective_of_key_result(self, key_result_id: UUID) -> UUID | None:
        """The objective a key result belongs to (None if the read side does not know it)."""
        with self._lock:
            _, tree, _ = self._states(None)
            for node in tree.objectives.values():
                if key_result_id in node.key_results:
                    return node.objective_id
            return None

    # ------------------------------------------------------------ strategy map

    def strategy_map(self, cycle_id: UUID, position: int | None = None) -> Json:
        with self._lock:
            directory, tree, state = self._states(position)
            data: Json = jsonable(strategy_map(state, tree, cycle_id))
            names = Names(directory)
            data["position"] = position
            data["cycle_name"] = names.cycle(cycle_id)
            for row in data["rows"]:
                for objective in row["objectives"]:
                    _name_owner(objective, names)
            for objective in data["unplaced"]:
                _name_owner(objective, names)
            return data

    # -------------------------------------------------------------- comparison

    def compare(self, cycle_ids: Sequence[UUID], position: int | None = None) -> list[Json]:
        """Per cycle: themes covered, KPI movements, initiatives, strategy changes."""
        with self._lock:
            directory, tree, state = self._states(position)
            names = Names(directory)
            out = []
            for summary in strategy_in_cycles(state, tree, list(cycle_ids)):
                data: Json = jsonable(summary)
                data["cycle_name"] = names.cycle(data["cycle_id"])
                out.append(data)
            return out

    # -------------------------------------------------------------- the coach

    def quality_levels(self) -> dict[str, str]:
        with self._lock:
            _, _, state = self._states(None)
            return quality_levels(state)

    def lint(
        self,
        cycle_id: UUID,
        objective_id: UUID | None = None,
        position: int | None = None,
    ) -> list[Json]:
        """The coach's findings for a cycle (or one objective of it), with names."""
        with self._lock:
            directory, tree, state = self._states(position)
            team_names = {t: e.name for t, e in directory.teams.items()}
            findings = lint_cycle(
                tree,
                cycle_id,
                quality_levels(state),
                only=objective_id,
                team_names=team_names,
            )
            return [self._finding_json(f, tree, directory) for f in findings]

    def lint_specs(self, objectives: Sequence[ObjectiveSpec], only: UUID) -> list[Json]:
        """Findings for objectives given as specs (a draft being written), among their cycle's."""
        with self._lock:
            directory, tree, state = self._states(None)
            team_names = {t: e.name for t, e in directory.teams.items()}
            cycles = {o.cycle_id for o in objectives}
            given = {o.objective_id for o in objectives}
            peers = [s for c in cycles for s in specs(tree, c) if s.objective_id not in given]
            findings = lint(
                [*peers, *objectives],
                organisation=organisation(tree, team_names),
                levels=quality_levels(state),
                only=only,
            )
            return [self._finding_json(f, tree, directory) for f in findings]

    def _finding_json(self, f: Finding, tree: TreeState, directory: DirectoryState) -> Json:
        data: Json = jsonable(f)
        names = Names(directory)
        node = tree.objectives.get(f.objective_id) if f.objective_id else None
        data["objective_title"] = node.title if node else None
        data["cycle_id"] = str(node.cycle_id) if node else None
        data["owner_team_name"] = names.team(f.owner_team_id)
        data["owner_person_name"] = names.person(f.owner_person_id)
        data["description"] = _DESCRIPTIONS.get(f.check)
        data["private"] = any(
            (n := tree.objectives.get(o)) is not None and n.private
            for o in (f.objective_id, *f.related)
            if o is not None
        )
        return data

    def quality_context(self, cycle_id: UUID) -> tuple[list[ObjectiveSpec], Organisation]:
        """The cycle's objectives and the team structure, for the ledger's submission checks."""
        with self._lock:
            _, tree, _ = self._states(None)
            return specs(tree, cycle_id), organisation(tree)


def _name_owner(objective: Json, names: Names) -> None:
    objective["owner_team_name"] = names.team(objective["owner_team_id"])
    objective["owner_person_name"] = names.person(objective["owner_person_id"])

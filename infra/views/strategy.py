"""The strategy layer's read models: strategy, KPI dashboard, initiatives, strategy map, lint.

`StrategyReads` reads the views the live runner keeps (`view_strategy`: the strategy fold's state;
the tree and the directory) like every other query; as-of answers start from the time-travel
checkpoints (`TimeTravel.strategy_at`, `TimeTravel.state_at`), as the tree's do. Live answers
also fold the log's tail beyond the views' position (usually empty, or the few events the runner
has not applied yet), so an answer includes every committed command, as before. Answers are
JSON-ready dicts with names joined from the directory (`…_name` beside each person or team id).

`quality_context` gives the ledger the cycle as the read side sees it, for the submission
checks that compare an objective with its neighbours; the composition root wires it
(`infra.bootstrap.build_ledger`), the same in every process.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.application import OkrLedger
from domain.objective import Objective
from domain.quality import CHECKS, Finding, ObjectiveSpec, Organisation, lint
from infra import answer
from infra.checkpoints import TimeTravel
from infra.settings import Settings
from infra.views.codec import jsonable
from infra.views.log import LogReader, Row
from infra.views.queries import Snapshot, ViewQueries
from infra.views.render import Names
from infra.views.store import ViewStore
from projections.coach import lint_cycle, organisation, specs
from projections.directory import DirectoryFold, DirectoryState
from projections.strategy import StrategyFold, StrategyState, perspectives, quality_levels
from projections.strategy_comparison import strategy_in_cycles
from projections.strategy_dashboard import initiative_view, initiative_views, kpi_view, kpi_views
from projections.strategy_map import strategy_map
from projections.tree import TreeFold, TreeState

Json = dict[str, Any]

_DESCRIPTIONS = {check.value: text for check, text in CHECKS.items()}
_DIRECTORY = DirectoryFold()
_TREE = TreeFold()
_CORRECTED = get_topic(Objective.CheckInCorrected)
_STRATEGY = StrategyFold()
_END = 2**63 - 1
"""A position beyond any log's end."""


@dataclass(frozen=True)
class Scope:
    """The part of the tree an answer reads: none, some cycles, some objectives, or all."""

    tree: bool = True
    cycles: tuple[UUID, ...] | None = None
    objectives: tuple[UUID, ...] | None = None
    matching: str | None = None
    """Live answers: only the objectives `ViewQueries.tree_state(matching=...)` selects, and
    those with events in the log's tail (as of a position: the whole tree)."""
    mentioning: str = ""


NO_TREE = Scope(tree=False)
WHOLE_TREE = Scope()
PRIVATE = Scope(matching="private")
FOLLOWING_KPIS = Scope(matching="following_kpis")


def cycles_of(cycle_ids: Sequence[UUID]) -> Scope:
    return Scope(cycles=tuple(cycle_ids))


def _linked_objectives(state: StrategyState, initiative_ids: Sequence[UUID] | None) -> Scope:
    """The objectives whose key results the initiatives (all when None) move."""
    chosen = (
        state.initiatives.values()
        if initiative_ids is None
        else [state.initiatives[i] for i in initiative_ids if i in state.initiatives]
    )
    found = {link.objective_id: None for entry in chosen for link in entry.key_results}
    return Scope(objectives=tuple(found))


class InitiativeFilter(TypedDict, total=False):
    """Which initiatives: those moving an objective's key results, one key result, a cycle's,
    in a status (the filters combine; `projections.strategy_dashboard.initiative_views`)."""

    objective_id: UUID | None
    key_result_id: UUID | None
    cycle_id: UUID | None
    status: str | None


class StrategyReads:
    """Queries over the strategy layer, live or as of a log position, from the views."""

    def __init__(
        self,
        queries: ViewQueries,
        timetravel: TimeTravel,
        setup: Callable[[], None] | None = None,
    ) -> None:
        """`setup`: creates the views' tables if missing, before the first query."""
        self.queries = queries
        self.timetravel = timetravel
        self.log = queries.log
        self._setup = setup

    @classmethod
    def of_ledger(cls, ledger: OkrLedger, settings: Settings) -> StrategyReads:
        """Reads over the views in `ledger`'s database (creating their tables if missing)."""
        recorder: Any = ledger.recorder
        store = ViewStore(recorder.datastore)
        log = LogReader(recorder, ledger.mapper)
        return cls(
            ViewQueries(store, log),
            TimeTravel(store, log, settings.checkpoint_cache_size),
            store.create_table,
        )

    def cycles(self) -> list[tuple[UUID, str, str, str]]:
        """(id, name, phase, starts_on) of every cycle, latest start first."""
        directory, _, _ = self._states(None, NO_TREE)
        found = [
            (cycle_id, entry.name, entry.phase, entry.starts_on.isoformat())
            for cycle_id, entry in directory.cycles.items()
        ]
        return sorted(found, key=lambda c: c[3], reverse=True)

    # --------------------------------------------------------------- reading

    def _states(
        self,
        position: int | None,
        scope: Scope | Callable[[StrategyState], Scope],
    ) -> tuple[DirectoryState, TreeState, StrategyState]:
        """The live directory and the strategy layer and the tree's `scope` (given, or read
        off the strategy layer), live or as of `position` (names are shown as they are now)."""
        if self._setup is not None:
            self._setup()
            self._setup = None
        with self.queries.snapshot() as snap:
            conn = snap.conn
            directory = self.queries.directory(snap)
            if position is None:
                # Everything committed beyond the views' position, as this snapshot sees it.
                rows = self.timetravel.tail(conn, snap.position, _END)
                strategy = self.queries.strategy_state(snap)
                strategic = self.timetravel.handled(_STRATEGY, rows)
                if strategic:
                    strategy = copy.deepcopy(strategy)  # the queries' cached one is shared
                    self.timetravel.fold_handled(_STRATEGY, strategy, strategic)
                named = self.timetravel.handled(_DIRECTORY, rows)
                if named:
                    directory = copy.deepcopy(directory)  # the queries' cached one is shared
                    self.timetravel.fold_handled(_DIRECTORY, directory, named)
                chosen = scope(strategy) if callable(scope) else scope
                tree = self._live_tree(snap, chosen, rows)
                if rows:  # the answer includes the log's tail: it stands at the tail's end
                    answer.pin(rows[-1][0])
            else:
                at = max(0, min(position, self.log.head(conn)))
                answer.pin(at)
                strategy = self.timetravel.strategy_at(conn, at)
                chosen = scope(strategy) if callable(scope) else scope
                tree = (
                    self.timetravel.state_at(
                        conn,
                        at,
                        list(chosen.cycles) if chosen.cycles is not None else None,
                        objective_ids=chosen.objectives,
                        generation=snap.generation,
                    ).state.tree
                    if chosen.tree
                    else TreeState()
                )
        return directory, tree, strategy

    def _live_tree(self, snap: Snapshot, scope: Scope, rows: list[Row]) -> TreeState:
        """The views' tree of `scope` with the log's tail folded on."""
        if not scope.tree:
            return TreeState()
        tree = self.queries.tree_state(
            snap,
            scope.cycles,
            objective_ids=scope.objectives,
            every_check_in=any(row[3] == _CORRECTED for row in rows),
            matching=scope.matching,
            mentioning=scope.mentioning,
            or_objective_ids=list({row[1]: None for row in rows}),
        )
        if rows:
            fixed = scope.objectives is not None
            within = set(scope.objectives) if scope.objectives is not None else set(tree.objectives)
            cycles = set(scope.cycles) if scope.cycles is not None else None
            for logged in self.timetravel.relevant(rows, within, cycles, fixed):
                _TREE.apply(tree, logged)
            tree.cursor.position = rows[-1][0]
            tree.cursor.now = rows[-1][5] or tree.cursor.now
        return tree

    # ---------------------------------------------------------------- strategy

    def strategy(self, position: int | None = None) -> Json | None:
        directory, _, state = self._states(position, NO_TREE)
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
        _, _, state = self._states(None, NO_TREE)
        if state.strategy is None:
            return {}
        return {str(t): e.name for t, e in state.strategy.themes.items()}

    # -------------------------------------------------------------------- KPIs

    def kpis(self, position: int | None = None, include_retired: bool = False) -> list[Json]:
        directory, tree, state = self._states(
            position, lambda s: FOLLOWING_KPIS if s.kpis else NO_TREE
        )
        return [
            self._kpi_json(v, state, directory)
            for v in kpi_views(state, tree, include_retired=include_retired)
        ]

    def kpi(self, kpi_id: UUID, position: int | None = None) -> Json | None:
        directory, tree, state = self._states(
            position, lambda s: FOLLOWING_KPIS if kpi_id in s.kpis else NO_TREE
        )
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
        self, *, position: int | None = None, **which: Unpack[InitiativeFilter]
    ) -> list[Json]:
        directory, tree, state = self._states(position, lambda s: _linked_objectives(s, None))
        found = initiative_views(state, tree, **which)
        return [self._initiative_json(v, directory) for v in found]

    def initiative(self, initiative_id: UUID, position: int | None = None) -> Json | None:
        directory, tree, state = self._states(
            position, lambda s: _linked_objectives(s, [initiative_id])
        )
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
        views' tree with the log's tail, as current as the answers it filters)."""
        _, tree, _ = self._states(None, PRIVATE)
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
        mentions = Scope(matching="mentions", mentioning=f'"{key_result_id}"')
        _, tree, _ = self._states(None, mentions)
        for node in tree.objectives.values():
            if key_result_id in node.key_results:
                return node.objective_id
        return None

    # ------------------------------------------------------------ strategy map

    def strategy_map(self, cycle_id: UUID, position: int | None = None) -> Json:
        directory, tree, state = self._states(position, cycles_of([cycle_id]))
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
        directory, tree, state = self._states(position, cycles_of(cycle_ids))
        names = Names(directory)
        out = []
        for summary in strategy_in_cycles(state, tree, list(cycle_ids)):
            data: Json = jsonable(summary)
            data["cycle_name"] = names.cycle(data["cycle_id"])
            out.append(data)
        return out

    # -------------------------------------------------------------- the coach

    def quality_levels(self) -> dict[str, str]:
        _, _, state = self._states(None, NO_TREE)
        return quality_levels(state)

    def lint(
        self,
        cycle_id: UUID,
        objective_id: UUID | None = None,
        position: int | None = None,
    ) -> list[Json]:
        """The coach's findings for a cycle (or one objective of it), with names."""
        directory, tree, state = self._states(position, cycles_of([cycle_id]))
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
        cycles = list(dict.fromkeys(o.cycle_id for o in objectives))
        directory, tree, state = self._states(None, cycles_of(cycles))
        team_names = {t: e.name for t, e in directory.teams.items()}
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
        _, tree, _ = self._states(None, cycles_of([cycle_id]))
        return specs(tree, cycle_id), organisation(tree)


def _name_owner(objective: Json, names: Names) -> None:
    objective["owner_team_name"] = names.team(objective["owner_team_id"])
    objective["owner_person_name"] = names.person(objective["owner_person_id"])

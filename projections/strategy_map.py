"""The strategy map: the strategy's perspectives as rows, each with its themes, a cycle's
objectives and the KPIs, coloured, with the links between them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from statistics import fmean
from uuid import UUID

from projections.strategy import StrategyState, ThemeEntry, live_themes, perspectives
from projections.strategy_dashboard import kpi_views
from projections.tree import ObjectiveView, TreeState, objective_view

# ---------------------------------------------------------- strategy map


def colour_of(view: ObjectiveView) -> str:
    """An objective's colour: from its score once graded, else from its health; grey before
    tracking starts."""
    if view.state == "abandoned":
        return "grey"
    if view.score is not None:
        return "green" if view.score >= 0.7 else "amber" if view.score >= 0.4 else "red"
    return {"on_track": "green", "at_risk": "amber", "off_track": "red"}.get(
        view.health or "", "grey"
    )


_WEIGHT = {"green": 1.0, "amber": 0.5, "red": 0.0}


def blend(colours: Iterable[str]) -> str:
    """The colour of a group: the mean of green 1, amber 0.5, red 0 (grey ones left out)."""
    scored = [_WEIGHT[c] for c in colours if c in _WEIGHT]
    if not scored:
        return "grey"
    mean = fmean(scored)
    return "green" if mean >= 0.75 else "amber" if mean >= 0.4 else "red"


@dataclass(frozen=True)
class MapObjective:
    objective_id: UUID
    title: str
    owner_team_id: UUID | None
    owner_person_id: UUID | None
    theme_id: UUID | None
    perspective: str
    status: str
    colour: str
    progress: float | None
    score: float | None
    private: bool


@dataclass(frozen=True)
class MapKpi:
    kpi_id: UUID
    name: str
    theme_id: UUID | None
    perspective: str
    north_star: bool
    current_value: float | None
    unit: str
    colour: str


@dataclass(frozen=True)
class MapTheme:
    theme_id: UUID
    name: str
    description: str
    perspective: str
    colour: str
    objective_ids: tuple[UUID, ...]
    kpi_ids: tuple[UUID, ...]


@dataclass(frozen=True)
class MapRow:
    perspective: str
    name: str
    themes: tuple[MapTheme, ...]
    objectives: tuple[MapObjective, ...]
    kpis: tuple[MapKpi, ...]


@dataclass(frozen=True)
class MapLink:
    kind: str
    """`aligns_to` (objective → the nearest placed objective above it), `drives` (theme →
    theme, from the strategy's cause and effect), `measured_by` (objective → a KPI one of its
    key results follows)."""
    source: UUID
    target: UUID


@dataclass(frozen=True)
class StrategyMap:
    cycle_id: UUID
    mission: str
    vision: str
    rows: tuple[MapRow, ...]
    unplaced: tuple[MapObjective, ...]
    """Objectives with no perspective or theme."""
    links: tuple[MapLink, ...]


def strategy_map(state: StrategyState, tree: TreeState, cycle_id: UUID) -> StrategyMap:
    """Perspectives as rows (top first), each with its themes, objectives and KPIs."""
    themes = {t.theme_id: t for t in live_themes(state)}
    rows = perspectives(state)
    keys = {key for key, _ in rows}
    placed: dict[UUID, MapObjective] = {}
    unplaced: list[MapObjective] = []
    for objective_id in tree.cycle_objectives.get(cycle_id, []):
        node = tree.objectives[objective_id]
        if node.status == "abandoned":
            continue
        view = objective_view(tree, objective_id)
        theme = themes.get(node.theme_id) if node.theme_id else None
        perspective = theme.perspective if theme else node.perspective
        item = MapObjective(
            objective_id,
            node.title,
            node.owner_team_id,
            node.owner_person_id,
            theme.theme_id if theme else None,
            perspective or "",
            view.state,
            colour_of(view),
            view.progress,
            view.score,
            node.private,
        )
        if perspective in keys:
            placed[objective_id] = item
        else:
            unplaced.append(item)
    north = state.strategy.north_star_kpi_id if state.strategy else None
    kpis: list[MapKpi] = []
    for view_ in kpi_views(state):
        perspective = (
            themes[view_.theme_id].perspective
            if view_.theme_id in themes
            else view_.perspective or ""
        )
        if perspective in keys:
            kpis.append(
                MapKpi(
                    view_.kpi_id,
                    view_.name,
                    view_.theme_id if view_.theme_id in themes else None,
                    perspective,
                    view_.kpi_id == north,
                    view_.current_value,
                    view_.unit,
                    view_.status or "grey",
                )
            )
    out_rows = []
    for key, name in rows:
        row_objectives = tuple(o for o in placed.values() if o.perspective == key)
        row_kpis = tuple(k for k in kpis if k.perspective == key)
        row_themes = tuple(
            MapTheme(
                t.theme_id,
                t.name,
                t.description,
                key,
                blend(
                    [o.colour for o in row_objectives if o.theme_id == t.theme_id]
                    + [k.colour for k in row_kpis if k.theme_id == t.theme_id]
                ),
                tuple(o.objective_id for o in row_objectives if o.theme_id == t.theme_id),
                tuple(k.kpi_id for k in row_kpis if k.theme_id == t.theme_id),
            )
            for t in themes.values()
            if t.perspective == key
        )
        out_rows.append(MapRow(key, name, row_themes, row_objectives, row_kpis))
    return StrategyMap(
        cycle_id=cycle_id,
        mission=state.strategy.mission if state.strategy else "",
        vision=state.strategy.vision if state.strategy else "",
        rows=tuple(out_rows),
        unplaced=tuple(unplaced),
        links=tuple(_map_links(tree, placed, themes, {k.kpi_id for k in kpis})),
    )


def _map_links(
    tree: TreeState,
    placed: dict[UUID, MapObjective],
    themes: dict[UUID, ThemeEntry],
    kpi_ids: set[UUID],
) -> list[MapLink]:
    links: list[MapLink] = []
    for objective_id in placed:
        parent = tree.objectives[objective_id].parent_objective_id
        seen = {objective_id}
        while parent is not None and parent not in placed and parent not in seen:
            seen.add(parent)
            node = tree.objectives.get(parent)
            parent = node.parent_objective_id if node else None
        if parent is not None and parent in placed and parent != objective_id:
            links.append(MapLink("aligns_to", objective_id, parent))
    for theme in themes.values():
        links.extend(MapLink("drives", theme.theme_id, target) for target in theme.drives)
    for objective_id in placed:
        node = tree.objectives[objective_id]
        for kpi_id in dict.fromkeys(kr.kpi_id for kr in node.live_key_results if kr.kpi_id):
            if kpi_id in kpi_ids:
                links.append(MapLink("measured_by", objective_id, kpi_id))
    return links

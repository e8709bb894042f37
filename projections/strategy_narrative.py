"""Audit and history sentences for the strategy layer's events.

Each phraser is declared with its event's catalogue entry; `projections.catalogue` gathers
them after `projections.narrative`'s, so the audit trail, the objective histories and the replays
narrate strategy, KPI, initiative and quality-policy events
like every other: against the context as it stood before the event, with before → after values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from domain.initiative import Initiative
from domain.kpi import Kpi
from domain.objective import Objective
from domain.quality import QualityPolicy
from domain.source import describe
from domain.strategy import STRATEGY_ID, Strategy
from projections.entries import Entries
from projections.narrative import (
    Context,
    Json,
    Narration,
    about_entity,
    about_objective,
    kr_json,
    number,
    q,
)
from projections.strategy import KpiEntry, StrategyEntry, ThemeEntry

ENTRIES = Entries()
"""The catalogue entries of the strategy layer's events (and of the objectives' strategy links)."""
phrases = ENTRIES.event


def _id(value: UUID | None) -> str | None:
    return str(value) if value is not None else None


# ---------------------------------------------------------------- strategy


def _strategy(context: Context) -> StrategyEntry | None:
    return context.strategy.strategy


def _about_strategy(action: str, before: Json, after: Json) -> Narration:
    return about_entity("strategy", STRATEGY_ID, action, before, after)


def _theme(context: Context, theme_id: UUID | None) -> ThemeEntry | None:
    entry = _strategy(context)
    return entry.themes.get(theme_id) if entry and theme_id else None


def _theme_name(context: Context, theme_id: UUID | None) -> str:
    theme = _theme(context, theme_id)
    return q(theme.name) if theme else str(theme_id)


def _kpi_name(context: Context, kpi_id: UUID | None) -> str:
    kpi = context.strategy.kpis.get(kpi_id) if kpi_id else None
    return q(kpi.name) if kpi else str(kpi_id)


@phrases(Strategy.Defined)
def _defined(context: Context, e: Strategy.Defined, logged: Any) -> Narration:
    keys = ", ".join(p["name"] for p in e.perspectives)
    return _about_strategy(
        f"strategy defined with perspectives {keys}",
        {},
        {
            "mission": e.mission,
            "vision": e.vision,
            "values": list(e.values),
            "perspectives": [dict(p) for p in e.perspectives],
        },
    )


def _restated(name: str) -> Any:
    """The phraser of a restated text of the strategy (`mission`, `vision`)."""

    def phrase(context: Context, e: Any, logged: Any) -> Narration:
        old = _strategy(context)
        before = getattr(old, name) if old else ""
        return _about_strategy(f"{name} restated", {name: before}, {name: getattr(e, name)})

    return phrase


phrases(Strategy.MissionRestated)(_restated("mission"))
phrases(Strategy.VisionRestated)(_restated("vision"))


@phrases(Strategy.ValuesRestated)
def _values(context: Context, e: Strategy.ValuesRestated, logged: Any) -> Narration:
    return _listed(context, "values restated", "values", e.values, lambda s: s.values)


@phrases(Strategy.PerspectiveAdded)
def _perspective_added(context: Context, e: Strategy.PerspectiveAdded, logged: Any) -> Narration:
    return _about_strategy(f"perspective {q(e.name)} added", {}, {"perspectives": {e.key: e.name}})


def _perspective_name(context: Context, key: str) -> str:
    old = _strategy(context)
    return old.perspectives.get(key, key) if old else key


@phrases(Strategy.PerspectiveRenamed)
def _perspective_renamed(
    context: Context, e: Strategy.PerspectiveRenamed, logged: Any
) -> Narration:
    name = _perspective_name(context, e.key)
    return _about_strategy(
        f"perspective {q(name)} renamed to {q(e.name)}",
        {"perspectives": {e.key: name}},
        {"perspectives": {e.key: e.name}},
    )


@phrases(Strategy.PerspectiveRemoved)
def _perspective_removed(
    context: Context, e: Strategy.PerspectiveRemoved, logged: Any
) -> Narration:
    name = _perspective_name(context, e.key)
    return _about_strategy(f"perspective {q(name)} removed", {"perspectives": {e.key: name}}, {})


@phrases(Strategy.PerspectivesReordered)
def _reordered(context: Context, e: Strategy.PerspectivesReordered, logged: Any) -> Narration:
    return _listed(
        context, "perspectives reordered", "perspective_order", e.keys, lambda s: s.perspectives
    )


def _listed(
    context: Context,
    action: str,
    name: str,
    items: Iterable[str],
    was: Callable[[StrategyEntry], Iterable[str]],
) -> Narration:
    """A list of the strategy's restated: `action` and the new items; `name` holds the old
    list (`was` of the strategy) and the new one."""
    old = _strategy(context)
    new = list(items)
    return _about_strategy(
        f"{action}: " + ", ".join(new), {name: list(was(old)) if old else []}, {name: new}
    )


def _theme_json(name: str, description: str, perspective: str) -> Json:
    return {"name": name, "description": description, "perspective": perspective}


@phrases(Strategy.ThemeAdded)
def _theme_added(context: Context, e: Strategy.ThemeAdded, logged: Any) -> Narration:
    return _about_strategy(
        f"theme {q(e.name)} added to the {e.perspective} perspective",
        {},
        {"themes": {str(e.theme_id): _theme_json(e.name, e.description, e.perspective)}},
    )


@phrases(Strategy.ThemeRevised)
def _theme_revised(context: Context, e: Strategy.ThemeRevised, logged: Any) -> Narration:
    old = _theme(context, e.theme_id)
    parts = []
    before: Json = {}
    after: Json = {}
    for name, new in (
        ("name", e.name),
        ("description", e.description),
        ("perspective", e.perspective),
    ):
        was = getattr(old, name) if old else None
        if was != new:
            before[name], after[name] = was, new
            parts.append(
                "description changed"
                if name == "description"
                else f"{name} changed from {q(str(was))} to {q(new)}"
            )
    return _about_strategy(
        f"theme {q(old.name if old else e.name)} revised: " + "; ".join(parts),
        {"themes": {str(e.theme_id): before}},
        {"themes": {str(e.theme_id): after}},
    )


@phrases(Strategy.ThemeDrivesChanged)
def _theme_drives(context: Context, e: Strategy.ThemeDrivesChanged, logged: Any) -> Narration:
    old = _theme(context, e.theme_id)
    targets = ", ".join(_theme_name(context, t) for t in e.drives) or "nothing"
    return _about_strategy(
        f"theme {q(old.name) if old else e.theme_id} now drives {targets}",
        {"themes": {str(e.theme_id): {"drives": [str(t) for t in (old.drives if old else [])]}}},
        {"themes": {str(e.theme_id): {"drives": [str(t) for t in e.drives]}}},
    )


@phrases(Strategy.ThemeRetired)
def _theme_retired(context: Context, e: Strategy.ThemeRetired, logged: Any) -> Narration:
    return _about_strategy(
        f"theme {_theme_name(context, e.theme_id)} retired",
        {"themes": {str(e.theme_id): {"retired": False}}},
        {"themes": {str(e.theme_id): {"retired": True}}},
    )


@phrases(Strategy.NorthStarChosen)
def _north_star(context: Context, e: Strategy.NorthStarChosen, logged: Any) -> Narration:
    old = _strategy(context)
    previous = old.north_star_kpi_id if old else None
    action = (
        f"north star set to KPI {_kpi_name(context, e.kpi_id)}"
        if e.kpi_id
        else "north star withdrawn"
    )
    if previous is not None and e.kpi_id is not None:
        action += f" (was {_kpi_name(context, previous)})"
    return _about_strategy(
        action,
        {"north_star_kpi_id": _id(previous)},
        {"north_star_kpi_id": _id(e.kpi_id)},
    )


# -------------------------------------------------------------------- KPIs


def _kpi(context: Context, e: Kpi.Event) -> KpiEntry | None:
    return context.strategy.kpis.get(e.originator_id)


def _kpi_title(context: Context, e: Kpi.Event) -> str:
    old = _kpi(context, e)
    return q(old.name) if old else str(e.originator_id)


def _measurement_json(e: Kpi.MeasurementRecorded | Kpi.MeasurementCorrected) -> Json:
    return {
        "measurement_id": str(e.measurement_id),
        "period": e.period,
        "value": e.value,
        "note": e.note,
    }


def _about_kpi(e: Kpi.Event, action: str, before: Json, after: Json) -> Narration:
    return about_entity("kpi", e.originator_id, action, before, after)


def _bands(direction: str, green: float, amber: float) -> str:
    sign = "≥" if direction == "increase" else "≤"
    return f"green {sign} {number(green)}, amber {sign} {number(amber)}"


@phrases(Kpi.Defined)
def _kpi_defined(context: Context, e: Kpi.Defined, logged: Any) -> Narration:
    return _about_kpi(
        e,
        f"KPI {q(e.name)} defined in {e.unit} ({_bands(e.direction, e.green, e.amber)})",
        {},
        {
            "name": e.name,
            "description": e.description,
            "unit": e.unit,
            "direction": e.direction,
            "owner_person_id": str(e.owner_person_id),
            "thresholds": {"green": e.green, "amber": e.amber},
            "perspective": e.perspective,
            "theme_id": _id(e.theme_id),
        },
    )


@phrases(Kpi.Renamed)
def _kpi_renamed(context: Context, e: Kpi.Renamed, logged: Any) -> Narration:
    old = _kpi(context, e)
    before: Json = {}
    after: Json = {}
    if old is None or old.name != e.name:
        before["name"], after["name"] = old.name if old else None, e.name
    if old is None or old.description != e.description:
        before["description"] = old.description if old else None
        after["description"] = e.description
    action = (
        f"KPI {q(old.name)} renamed to {q(e.name)}"
        if old and old.name != e.name
        else f"description of KPI {q(e.name)} changed"
    )
    return _about_kpi(e, action, before, after)


@phrases(Kpi.OwnerChanged)
def _kpi_owner(context: Context, e: Kpi.OwnerChanged, logged: Any) -> Narration:
    old = _kpi(context, e)
    return _about_kpi(
        e,
        f"KPI {_kpi_title(context, e)} handed to a new owner",
        {"owner_person_id": str(old.owner_person_id) if old else None},
        {"owner_person_id": str(e.owner_person_id)},
    )


@phrases(Kpi.Retagged)
def _kpi_retagged(context: Context, e: Kpi.Retagged, logged: Any) -> Narration:
    old = _kpi(context, e)
    where = f"theme {_theme_name(context, e.theme_id)}" if e.theme_id else None
    where = where or (f"the {e.perspective} perspective" if e.perspective else "no perspective")
    return _about_kpi(
        e,
        f"KPI {_kpi_title(context, e)} moved to {where}",
        {
            "perspective": old.perspective if old else None,
            "theme_id": _id(old.theme_id) if old else None,
        },
        {"perspective": e.perspective, "theme_id": _id(e.theme_id)},
    )


@phrases(Kpi.ThresholdsChanged)
def _thresholds(context: Context, e: Kpi.ThresholdsChanged, logged: Any) -> Narration:
    old = _kpi(context, e)
    if old is None:
        return _about_kpi(e, "KPI thresholds changed", {}, {"green": e.green, "amber": e.amber})
    return _about_kpi(
        e,
        f"thresholds of KPI {q(old.name)} changed from {_bands(old.direction, old.green, old.amber)}"
        f" to {_bands(old.direction, e.green, e.amber)}",
        {"thresholds": {"green": old.green, "amber": old.amber}},
        {"thresholds": {"green": e.green, "amber": e.amber}},
    )


@phrases(Kpi.MeasurementRecorded)
def _measured(context: Context, e: Kpi.MeasurementRecorded, logged: Any) -> Narration:
    old = _kpi(context, e)
    unit = f" {old.unit}" if old and old.unit else ""
    return _about_kpi(
        e,
        f"KPI {_kpi_title(context, e)} measured {number(e.value)}{unit} for {e.period}",
        {},
        _measurement_json(e),
    )


@phrases(Kpi.MeasurementCorrected)
def _corrected(context: Context, e: Kpi.MeasurementCorrected, logged: Any) -> Narration:
    old = _kpi(context, e)
    wrong = (
        next((m for m in old.measurements if m.measurement_id == e.supersedes), None)
        if old
        else None
    )
    action = f"measurement of KPI {_kpi_title(context, e)} for {e.period} corrected"
    if wrong is not None:
        action += f" from {number(wrong.value)} to {number(e.value)}"
    return _about_kpi(
        e,
        action,
        {
            "measurement_id": str(e.supersedes),
            "value": wrong.value if wrong else None,
            "note": wrong.note if wrong else None,
        },
        _measurement_json(e),
    )


@phrases(Kpi.Retired)
def _kpi_retired(context: Context, e: Kpi.Retired, logged: Any) -> Narration:
    return _about_kpi(
        e, f"KPI {_kpi_title(context, e)} retired", {"retired": False}, {"retired": True}
    )


@phrases(Kpi.SourceAttached, ignored_by=("strategy", "history"))
def _kpi_source_attached(context: Context, e: Kpi.SourceAttached, logged: Any) -> Narration:
    return _about_kpi(
        e,
        f"KPI {_kpi_title(context, e)} measured from a data source: {describe(e.source)}",
        {},
        {"source_id": str(e.source_id), "source": e.source},
    )


@phrases(Kpi.SourceDetached, ignored_by=("strategy", "history"))
def _kpi_source_detached(context: Context, e: Kpi.SourceDetached, logged: Any) -> Narration:
    return _about_kpi(
        e,
        f"KPI {_kpi_title(context, e)} no longer measured from a data source",
        {},
        {"source_id": None},
    )


# ------------------------------------------------------------- initiatives


def _initiative_title(context: Context, e: Initiative.Event) -> str:
    entry = context.strategy.initiatives.get(e.originator_id)
    return q(entry.title) if entry else str(e.originator_id)


def _about_initiative(
    context: Context,
    e: Initiative.Event,
    action: str,
    before: Json,
    after: Json,
    *,
    objective_id: UUID | None = None,
    key_result_id: UUID | None = None,
) -> Narration:
    node = context.tree.objectives.get(objective_id) if objective_id else None
    return Narration(
        "initiative",
        e.originator_id,
        objective_id,
        node.cycle_id if node else None,
        key_result_id,
        action,
        before,
        after,
    )


def _kr_title(context: Context, objective_id: UUID, key_result_id: UUID) -> str:
    node = context.tree.objectives.get(objective_id)
    kr = node.key_results.get(key_result_id) if node else None
    return q(kr.title) if kr else str(key_result_id)


@phrases(Initiative.Launched)
def _launched(context: Context, e: Initiative.Launched, logged: Any) -> Narration:
    moves = ", ".join(
        _kr_title(context, k["objective_id"], k["key_result_id"]) for k in e.key_results
    )
    first = e.key_results[0] if e.key_results else None
    return _about_initiative(
        context,
        e,
        f"initiative {q(e.title)} launched to move {moves}",
        {},
        {
            "title": e.title,
            "description": e.description,
            "owner_person_id": str(e.owner_person_id),
            "status": "planned",
            "key_results": [
                {"objective_id": str(k["objective_id"]), "key_result_id": str(k["key_result_id"])}
                for k in e.key_results
            ],
        },
        objective_id=first["objective_id"] if first else None,
        key_result_id=first["key_result_id"] if first and len(e.key_results) == 1 else None,
    )


@phrases(Initiative.Retitled)
def _retitled(context: Context, e: Initiative.Retitled, logged: Any) -> Narration:
    old = context.strategy.initiatives.get(e.originator_id)
    return _about_initiative(
        context,
        e,
        f"initiative {_initiative_title(context, e)} retitled {q(e.title)}"
        if old and old.title != e.title
        else f"description of initiative {q(e.title)} changed",
        {"title": old.title if old else None, "description": old.description if old else None},
        {"title": e.title, "description": e.description},
    )


@phrases(Initiative.OwnerChanged)
def _initiative_owner(context: Context, e: Initiative.OwnerChanged, logged: Any) -> Narration:
    old = context.strategy.initiatives.get(e.originator_id)
    return _about_initiative(
        context,
        e,
        f"initiative {_initiative_title(context, e)} handed to a new owner",
        {"owner_person_id": str(old.owner_person_id) if old else None},
        {"owner_person_id": str(e.owner_person_id)},
    )


def _link_phraser(verb: str, *, linked: bool) -> Any:
    def phrase(context: Context, e: Any, logged: Any) -> Narration:
        link: Json = {
            "linked": {"objective_id": str(e.objective_id), "key_result_id": str(e.key_result_id)}
        }
        return _about_initiative(
            context,
            e,
            f"initiative {_initiative_title(context, e)} {verb}"
            f" {_kr_title(context, e.objective_id, e.key_result_id)}",
            {} if linked else link,
            link if linked else {},
            objective_id=e.objective_id,
            key_result_id=e.key_result_id,
        )

    return phrase


phrases(Initiative.KeyResultLinked)(_link_phraser("now also moves", linked=True))
phrases(Initiative.KeyResultUnlinked)(_link_phraser("no longer moves", linked=False))


def _status_phraser(verb: str, status: str) -> Any:
    def phrase(context: Context, e: Any, logged: Any) -> Narration:
        old = context.strategy.initiatives.get(e.originator_id)
        after: Json = {"status": status}
        if e.note:
            after["note"] = e.note
        return _about_initiative(
            context,
            e,
            f"initiative {_initiative_title(context, e)} {verb}",
            {"status": old.status if old else None},
            after,
        )

    return phrase


phrases(Initiative.Started)(_status_phraser("started", "in_progress"))
phrases(Initiative.Completed)(_status_phraser("done", "done"))
phrases(Initiative.Cancelled)(_status_phraser("cancelled", "cancelled"))
phrases(Initiative.Reopened)(_status_phraser("reopened", "in_progress"))


@phrases(Initiative.NoteAdded)
def _note_added(context: Context, e: Initiative.NoteAdded, logged: Any) -> Narration:
    return _about_initiative(
        context,
        e,
        f"note added to initiative {_initiative_title(context, e)}",
        {},
        {"note": e.note},
    )


# ----------------------------------------------------------- quality policy


@phrases(QualityPolicy.Adopted)
def _adopted(context: Context, e: QualityPolicy.Adopted, logged: Any) -> Narration:
    return about_entity(
        "quality_policy", e.originator_id, "quality policy adopted: every check warns", {}, {}
    )


@phrases(QualityPolicy.CheckConfigured)
def _configured(context: Context, e: QualityPolicy.CheckConfigured, logged: Any) -> Narration:
    old = context.strategy.quality.get(e.check, "warn")
    return about_entity(
        "quality_policy",
        e.originator_id,
        f"quality check {e.check} set from {old} to {e.level}",
        {"checks": {e.check: old}},
        {"checks": {e.check: e.level}},
    )


# -------------------------------------------------------------- objectives


@phrases(Objective.Themed)
def _themed(context: Context, e: Objective.Themed, logged: Any) -> Narration:
    node = context.tree.objectives.get(e.originator_id)
    title = q(node.title) if node else str(e.originator_id)
    previous = node.theme_id if node else None
    action = (
        f"{title} tagged with theme {_theme_name(context, e.theme_id)}"
        if e.theme_id
        else f"{title} no longer tagged with theme {_theme_name(context, previous)}"
    )
    return about_objective(
        context, e, action, {"theme_id": _id(previous)}, {"theme_id": _id(e.theme_id)}
    )


def _kpi_link(
    context: Context, e: Objective.Event, key_result_id: UUID, kpi_id: UUID | None
) -> Narration:
    """A key result linked to KPI `kpi_id`, or unlinked from its KPI (`kpi_id` None)."""
    node = context.tree.objectives.get(e.originator_id)
    kr = node.key_results.get(key_result_id) if node else None
    previous = kr.kpi_id if kr else None
    follows = (
        f"follows KPI {_kpi_name(context, kpi_id)}"
        if kpi_id
        else f"no longer follows KPI {_kpi_name(context, previous)}"
    )
    return about_objective(
        context,
        e,
        f"key result {q(kr.title) if kr else key_result_id} {follows}",
        kr_json(key_result_id, {"kpi_id": _id(previous)}),
        kr_json(key_result_id, {"kpi_id": _id(kpi_id)}),
        key_result_id=key_result_id,
    )


@phrases(Objective.KeyResultLinkedToKpi)
def _kpi_linked(context: Context, e: Objective.KeyResultLinkedToKpi, logged: Any) -> Narration:
    return _kpi_link(context, e, e.key_result_id, e.kpi_id)


@phrases(Objective.KeyResultUnlinkedFromKpi)
def _kpi_unlinked(
    context: Context, e: Objective.KeyResultUnlinkedFromKpi, logged: Any
) -> Narration:
    return _kpi_link(context, e, e.key_result_id, None)

"""The organisation's strategy: mission, vision, values, perspectives and strategic themes.

There is one strategy per deployment (a fixed id). It starts with the four Balanced Scorecard
perspectives, which stay editable; each strategic theme (a pillar) sits in one perspective and
may "drive" other themes, the cause-and-effect links a strategy map draws. The strategy also
names the north-star KPI. Every change after the first definition says why.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, Unpack
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from domain.base import Assigns, CommandContext, OkrAggregate
from domain.errors import (
    InvalidValue,
    bounded_text,
    clean_text,
    clean_text_or,
    require,
    require_text,
    require_value,
)

STRATEGY_ID = uuid5(NAMESPACE_URL, "okrledger:strategy")
"""The one strategy of a deployment."""

DEFAULT_PERSPECTIVES: tuple[tuple[str, str], ...] = (
    ("financial", "Financial"),
    ("customer", "Customer"),
    ("internal_process", "Internal process"),
    ("learning_growth", "Learning & growth"),
)
"""The four Balanced Scorecard perspectives, top row first (the keys objectives use)."""

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_VALUES = 20
MAX_THEMES = 50


@dataclass
class Theme:
    id: UUID
    name: str
    description: str
    perspective: str
    drives: list[UUID] = field(default_factory=list)
    """Themes this one drives (cause → effect)."""
    retired: bool = False


def perspective_key(key: str, field: str = "perspective") -> str:
    text = clean_text(key, field, multiline=False)
    require_value(
        bool(_KEY.match(text)),
        "perspective_key_invalid",
        "a perspective key is lower-case letters, digits and _ (at most 40), starting with a letter",
        field,
    )
    return text


def clean_values(values: Sequence[str]) -> list[str]:
    require_value(
        isinstance(values, list | tuple), "values_shape", "values is a list of texts", "values"
    )
    require_value(
        len(values) <= MAX_VALUES,
        "too_many_values",
        f"at most {MAX_VALUES} values",
        "values",
    )
    cleaned = [require_text(str(v), "values", max_length=200) for v in values]
    require_value(
        len({v.casefold() for v in cleaned}) == len(cleaned),
        "duplicate_value",
        "each value is listed once",
        "values",
    )
    return cleaned


def _clean_perspectives(perspectives: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for key, name in perspectives:
        out.append(
            {
                "key": perspective_key(key, "perspectives"),
                "name": require_text(name, "perspectives", max_length=100),
            }
        )
    require_value(
        bool(out), "perspectives_required", "keep at least one perspective", "perspectives"
    )
    require_value(
        len({p["key"] for p in out}) == len(out),
        "duplicate_perspective",
        "each perspective key is listed once",
        "perspectives",
    )
    return out


class StrategyStatement(TypedDict):
    """What the strategy says as a whole (`Strategy.revise`, and the ledger's `put_strategy`,
    which defines the strategy first when there is none): `themes` as `Strategy.revise` reads
    them; `perspectives` None (or left out) keeps those the strategy has."""

    mission: str
    vision: str
    values: Sequence[str]
    themes: Sequence[Mapping[str, Any]]
    perspectives: NotRequired[Sequence[tuple[str, str]] | None]


class Restatement(TypedDict, total=False):
    """The statements `Strategy.restate` changes (left out: unchanged)."""

    mission: str
    vision: str
    values: Sequence[str]


class ThemeRevision(TypedDict, total=False):
    """What `Strategy.revise_theme` changes of a theme (left out: unchanged)."""

    name: str
    description: str
    perspective: str


class Strategy(OkrAggregate):
    if TYPE_CHECKING:  # state set by events; not dataclass fields of the aggregate
        mission: str
        vision: str
        values: list[str]
        perspectives: dict[str, str]
        """Key → name, in display order (top row first)."""
        themes: dict[UUID, Theme]
        north_star_kpi_id: UUID | None

    # ------------------------------------------------------------------ events

    class Defined(OkrAggregate.Created):
        mission: str
        vision: str
        values: list[str]
        perspectives: list[dict[str, str]]

        def apply(self, strategy: Strategy) -> None:
            strategy.mission = self.mission
            strategy.vision = self.vision
            strategy.values = list(self.values)
            strategy.perspectives = {p["key"]: p["name"] for p in self.perspectives}
            strategy.themes = {}
            strategy.north_star_kpi_id = None

    class MissionRestated(Assigns):
        mission: str

    class VisionRestated(Assigns):
        vision: str

    class ValuesRestated(OkrAggregate.Event):
        values: list[str]

        def apply(self, strategy: Strategy) -> None:
            strategy.values = list(self.values)

    class PerspectiveAdded(OkrAggregate.Event):
        key: str
        name: str

        def apply(self, strategy: Strategy) -> None:
            strategy.perspectives[self.key] = self.name

    class PerspectiveRenamed(OkrAggregate.Event):
        key: str
        name: str

        def apply(self, strategy: Strategy) -> None:
            strategy.perspectives[self.key] = self.name

    class PerspectiveRemoved(OkrAggregate.Event):
        key: str

        def apply(self, strategy: Strategy) -> None:
            del strategy.perspectives[self.key]

    class PerspectivesReordered(OkrAggregate.Event):
        keys: list[str]

        def apply(self, strategy: Strategy) -> None:
            strategy.perspectives = {k: strategy.perspectives[k] for k in self.keys}

    class ThemeAdded(OkrAggregate.Event):
        theme_id: UUID
        name: str
        description: str
        perspective: str

        def apply(self, strategy: Strategy) -> None:
            strategy.themes[self.theme_id] = Theme(
                self.theme_id, self.name, self.description, self.perspective
            )

    class ThemeRevised(OkrAggregate.Event):
        theme_id: UUID
        name: str
        description: str
        perspective: str

        def apply(self, strategy: Strategy) -> None:
            theme = strategy.themes[self.theme_id]
            theme.name, theme.description = self.name, self.description
            theme.perspective = self.perspective

    class ThemeDrivesChanged(OkrAggregate.Event):
        theme_id: UUID
        drives: list[UUID]

        def apply(self, strategy: Strategy) -> None:
            strategy.themes[self.theme_id].drives = list(self.drives)

    class ThemeRetired(OkrAggregate.Event):
        theme_id: UUID

        def apply(self, strategy: Strategy) -> None:
            theme = strategy.themes[self.theme_id]
            theme.retired = True
            theme.drives = []
            for other in strategy.themes.values():
                if self.theme_id in other.drives:
                    other.drives.remove(self.theme_id)

    class NorthStarChosen(OkrAggregate.Event):
        kpi_id: UUID | None
        """None: the strategy has no north star any more."""

        def apply(self, strategy: Strategy) -> None:
            strategy.north_star_kpi_id = self.kpi_id

    # ----------------------------------------------------------- derived state

    @property
    def live_themes(self) -> list[Theme]:
        return [t for t in self.themes.values() if not t.retired]

    def theme(self, theme_id: UUID, field: str = "theme_id") -> Theme:
        """A live theme, or InvalidValue naming `field` (unknown or retired)."""
        theme = self.themes.get(theme_id)
        require_value(
            theme is not None and not theme.retired,
            "theme_not_found",
            f"theme {theme_id} is not a live theme of the strategy",
            field,
        )
        assert theme is not None
        return theme

    def require_perspective(self, key: str, field: str = "perspective") -> str:
        require_value(
            key in self.perspectives,
            "perspective_unknown",
            f"perspective must be one of {', '.join(self.perspectives)}",
            field,
        )
        return key

    # ------------------------------------------------------------- commands

    @classmethod
    def define(
        cls,
        ctx: CommandContext,
        *,
        mission: str = "",
        vision: str = "",
        values: Sequence[str] = (),
        perspectives: Sequence[tuple[str, str]] = DEFAULT_PERSPECTIVES,
        reason: str = "",
    ) -> Strategy:
        return cls._create(
            cls.Defined,
            id=STRATEGY_ID,
            mission=bounded_text(mission, "mission"),
            vision=bounded_text(vision, "vision"),
            values=clean_values(values),
            perspectives=_clean_perspectives(perspectives),
            **ctx.stamp(clean_text(reason, "reason")),
        )

    def _reason(self, reason: str) -> str:
        """Every change to a defined strategy says why (not the first definition itself)."""
        if any(isinstance(e, Strategy.Defined) for e in self.pending_events):
            return clean_text(reason, "reason")
        return require_text(reason, "reason", max_length=2000)

    def restate(
        self,
        ctx: CommandContext,
        reason: str,
        **said: Unpack[Restatement],
    ) -> None:
        """Change the statements that differ (no event for one that stays the same)."""
        why = self._reason(reason)
        mission, vision, values = said.get("mission"), said.get("vision"), said.get("values")
        if mission is not None:
            self._assign(self.MissionRestated, ctx, why, mission=bounded_text(mission, "mission"))
        if vision is not None:
            self._assign(self.VisionRestated, ctx, why, vision=bounded_text(vision, "vision"))
        if values is not None and clean_values(values) != self.values:
            self._trigger(self.ValuesRestated, ctx, why, values=clean_values(values))

    def add_perspective(self, key: str, name: str, ctx: CommandContext, reason: str) -> None:
        why = self._reason(reason)
        key_ = perspective_key(key)
        require(
            key_ not in self.perspectives,
            "perspective_exists",
            f"perspective {key_} already exists",
            "perspective",
        )
        self._trigger(
            self.PerspectiveAdded,
            ctx,
            why,
            key=key_,
            name=require_text(name, "name", max_length=100),
        )

    def rename_perspective(self, key: str, name: str, ctx: CommandContext, reason: str) -> None:
        why = self._reason(reason)
        self.require_perspective(key)
        name_ = require_text(name, "name", max_length=100)
        if name_ != self.perspectives[key]:
            self._trigger(self.PerspectiveRenamed, ctx, why, key=key, name=name_)

    def remove_perspective(self, key: str, ctx: CommandContext, reason: str) -> None:
        why = self._reason(reason)
        self.require_perspective(key)
        require(
            len(self.perspectives) > 1,
            "perspectives_required",
            "the strategy keeps at least one perspective",
            "perspective",
        )
        in_use = [t.name for t in self.live_themes if t.perspective == key]
        require(
            not in_use,
            "perspective_in_use",
            f"themes {', '.join(in_use)} sit in perspective {key}: move or retire them first",
            "perspective",
        )
        self._trigger(self.PerspectiveRemoved, ctx, why, key=key)

    def reorder_perspectives(self, keys: Sequence[str], ctx: CommandContext, reason: str) -> None:
        why = self._reason(reason)
        require_value(
            sorted(keys) == sorted(self.perspectives) and len(set(keys)) == len(keys),
            "perspective_order_invalid",
            "list every perspective once, in the new order",
            "perspectives",
        )
        if list(keys) != list(self.perspectives):
            self._trigger(self.PerspectivesReordered, ctx, why, keys=list(keys))

    def add_theme(
        self,
        name: str,
        perspective: str,
        ctx: CommandContext,
        reason: str,
        description: str = "",
    ) -> UUID:
        why = self._reason(reason)
        require_value(
            len(self.live_themes) < MAX_THEMES,
            "too_many_themes",
            f"a strategy has at most {MAX_THEMES} themes",
            "themes",
        )
        name_ = self._free_name(name, None)
        theme_id = uuid4()
        self._trigger(
            self.ThemeAdded,
            ctx,
            why,
            theme_id=theme_id,
            name=name_,
            description=clean_text(description, "description"),
            perspective=self.require_perspective(perspective),
        )
        return theme_id

    def revise_theme(
        self,
        theme_id: UUID,
        ctx: CommandContext,
        reason: str,
        **revision: Unpack[ThemeRevision],
    ) -> None:
        why = self._reason(reason)
        theme = self.theme(theme_id)
        name, perspective = revision.get("name"), revision.get("perspective")
        description = revision.get("description")
        name_ = theme.name if name is None else self._free_name(name, theme_id)
        description_ = clean_text_or(description, "description", theme.description)
        perspective_ = (
            theme.perspective if perspective is None else self.require_perspective(perspective)
        )
        if (name_, description_, perspective_) != (
            theme.name,
            theme.description,
            theme.perspective,
        ):
            self._trigger(
                self.ThemeRevised,
                ctx,
                why,
                theme_id=theme_id,
                name=name_,
                description=description_,
                perspective=perspective_,
            )

    def set_theme_drives(
        self, theme_id: UUID, drives: Sequence[UUID], ctx: CommandContext, reason: str
    ) -> None:
        """The themes `theme_id` drives (cause → effect on the strategy map)."""
        why = self._reason(reason)
        theme = self.theme(theme_id)
        targets = list(dict.fromkeys(drives))
        for target in targets:
            self.theme(target, "drives")
        require_value(
            theme_id not in targets, "theme_drives_itself", "a theme cannot drive itself", "drives"
        )
        if targets != theme.drives:
            self._trigger(self.ThemeDrivesChanged, ctx, why, theme_id=theme_id, drives=targets)

    def retire_theme(self, theme_id: UUID, ctx: CommandContext, reason: str) -> None:
        why = self._reason(reason)
        self.theme(theme_id)
        self._trigger(self.ThemeRetired, ctx, why, theme_id=theme_id)

    def choose_north_star(self, kpi_id: UUID | None, ctx: CommandContext, reason: str = "") -> None:
        """Name the north-star KPI (the caller checked it exists); None withdraws it."""
        if kpi_id == self.north_star_kpi_id:
            return
        self._trigger(self.NorthStarChosen, ctx, clean_text(reason, "reason"), kpi_id=kpi_id)

    def revise(
        self,
        ctx: CommandContext,
        reason: str,
        **statement: Unpack[StrategyStatement],
    ) -> None:
        """Make the strategy say exactly this (PUT /strategy): the differences become events.

        `themes` are `{"id"?, "name", "perspective", "description"?, "drives"?}`; a theme without
        an id is new, a live theme left out is retired; `drives` names themes by id or by name.
        A revision that breaks a rule anywhere changes nothing: it is tried on a copy first.
        """
        self._reason(reason)
        mission, vision, values = statement["mission"], statement["vision"], statement["values"]
        themes, perspectives = statement["themes"], statement.get("perspectives")

        def apply(strategy: Strategy) -> None:
            strategy.restate(ctx, reason, mission=mission, vision=vision, values=values)
            if perspectives is not None:
                wanted = _clean_perspectives(perspectives)
                keys = [p["key"] for p in wanted]
                for p in wanted:
                    if p["key"] not in strategy.perspectives:
                        strategy.add_perspective(p["key"], p["name"], ctx, reason)
                    else:
                        strategy.rename_perspective(p["key"], p["name"], ctx, reason)
                strategy._apply_themes(ctx, reason, themes, keep_perspectives=set(keys))
                for key in list(strategy.perspectives):
                    if key not in keys:
                        strategy.remove_perspective(key, ctx, reason)
                strategy.reorder_perspectives(keys, ctx, reason)
            else:
                strategy._apply_themes(
                    ctx, reason, themes, keep_perspectives=set(strategy.perspectives)
                )

        apply(copy.deepcopy(self))  # tried on a copy first: a broken rule changes nothing
        apply(self)

    def _apply_themes(
        self,
        ctx: CommandContext,
        reason: str,
        themes: Sequence[Mapping[str, Any]],
        keep_perspectives: set[str],
    ) -> None:
        require_value(
            isinstance(themes, list | tuple), "themes_shape", "themes is a list", "themes"
        )
        for i, spec in enumerate(themes):
            require_value(
                isinstance(spec, Mapping), "themes_shape", "each theme is an object", f"themes.{i}"
            )
            unknown = set(spec) - {"id", "name", "perspective", "description", "drives"}
            require_value(
                not unknown,
                "themes_shape",
                f"a theme has no {', '.join(sorted(unknown))}",
                f"themes.{i}",
            )
        ids: list[UUID] = []
        given_ids = [_theme_id(spec.get("id"), i) for i, spec in enumerate(themes)]
        require_value(
            len({i for i in given_ids if i is not None})
            == len([i for i in given_ids if i is not None]),
            "duplicate_theme",
            "each theme is listed once",
            "themes",
        )
        names = [str(spec.get("name", "")).strip().casefold() for spec in themes]
        require_value(
            len(set(names)) == len(names),
            "theme_name_taken",
            "two themes cannot share a name",
            "themes",
        )
        # Retire first, so that a name can move from a retired theme to a new one.
        for theme in self.live_themes:
            if theme.id not in given_ids:
                self.retire_theme(theme.id, ctx, reason)
        for i, spec in enumerate(themes):
            perspective = str(spec.get("perspective", ""))
            require_value(
                perspective in keep_perspectives,
                "perspective_unknown",
                f"perspective must be one of {', '.join(sorted(keep_perspectives))}",
                f"themes.{i}.perspective",
            )
            theme_id = given_ids[i]
            if theme_id is None:
                theme_id = self.add_theme(
                    str(spec.get("name", "")),
                    perspective,
                    ctx,
                    reason,
                    str(spec.get("description", "")),
                )
            else:
                self.theme(theme_id, f"themes.{i}.id")
                self.revise_theme(
                    theme_id,
                    ctx,
                    reason,
                    name=str(spec.get("name", "")),
                    description=str(spec.get("description", "")),
                    perspective=perspective,
                )
            ids.append(theme_id)
        by_name = {self.themes[t].name.casefold(): t for t in ids}
        for i, spec in enumerate(themes):
            drives = spec.get("drives") or []
            require_value(
                isinstance(drives, list | tuple),
                "themes_shape",
                "drives lists theme ids or names",
                f"themes.{i}.drives",
            )
            targets = [_drive_target(d, by_name, f"themes.{i}.drives") for d in drives]
            self.set_theme_drives(ids[i], targets, ctx, reason)

    def _free_name(self, name: str, theme_id: UUID | None) -> str:
        name_ = require_text(name, "name", max_length=200)
        taken = [
            t
            for t in self.live_themes
            if t.name.casefold() == name_.casefold() and t.id != theme_id
        ]
        require(not taken, "theme_name_taken", f"a theme is already called '{name_}'", "name")
        return name_


def _theme_id(raw: object, index: int) -> UUID | None:
    if raw is None or raw == "":
        return None
    try:
        return raw if isinstance(raw, UUID) else UUID(str(raw))
    except ValueError:
        raise InvalidValue(
            "theme_id_invalid", f"'{raw}' is not a theme id", f"themes.{index}.id"
        ) from None


def _drive_target(raw: object, by_name: dict[str, UUID], field: str) -> UUID:
    if isinstance(raw, UUID):
        return raw
    text = str(raw).strip()
    if text.casefold() in by_name:
        return by_name[text.casefold()]
    try:
        return UUID(text)
    except ValueError:
        raise InvalidValue(
            "theme_not_found", f"'{text}' names no theme of this strategy", field
        ) from None


def validate_tags(
    strategy: Strategy | None,
    perspective: str | None,
    theme_id: UUID | None,
    *,
    perspective_field: str = "perspective",
    theme_field: str = "theme_id",
) -> tuple[str | None, UUID | None]:
    """A perspective and a theme for a KPI: both known to the strategy, and consistent.

    A theme brings its perspective. Without a strategy yet, the perspective is one of the four
    Balanced Scorecard defaults and there are no themes.
    """
    if theme_id is not None:
        require_value(
            strategy is not None,
            "theme_not_found",
            "no strategy is defined yet, so there are no themes",
            theme_field,
        )
        assert strategy is not None
        theme = strategy.theme(theme_id, theme_field)
        require_value(
            perspective is None or perspective == theme.perspective,
            "theme_perspective_mismatch",
            f"theme '{theme.name}' sits in perspective {theme.perspective}",
            perspective_field,
        )
        return theme.perspective, theme_id
    if perspective is None or perspective == "":
        return None, None
    keys = list(strategy.perspectives) if strategy else [k for k, _ in DEFAULT_PERSPECTIVES]
    require_value(
        perspective in keys,
        "perspective_unknown",
        f"perspective must be one of {', '.join(keys)}",
        perspective_field,
    )
    return perspective, None

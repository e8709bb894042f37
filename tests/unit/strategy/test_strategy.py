"""The strategy: mission, vision, values, editable perspectives, themes, drives, north star."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from domain.errors import InvalidValue, RuleViolated
from domain.strategy import DEFAULT_PERSPECTIVES, STRATEGY_ID, Strategy, validate_tags
from tests.unit.builders import ADMIN, ctx, settled
from tests.unit.gwt import classes, payload, refused, when


def a_strategy(**themes: str) -> Strategy:
    """A defined strategy; `themes` maps theme names to perspectives."""
    strategy = Strategy.define(ctx(ADMIN), mission="Make goals honest", vision="Every team")
    for name, perspective in themes.items():
        strategy.add_theme(name, perspective, ctx(ADMIN), "initial themes")
    return settled(strategy)


def theme_id(strategy: Strategy, name: str) -> Any:
    return next(t.id for t in strategy.themes.values() if t.name == name)


class TestDefine:
    def test_starts_with_the_four_balanced_scorecard_perspectives(self) -> None:
        strategy = Strategy.define(
            ctx(ADMIN), mission=" Make goals honest ", values=["Candour", "Craft"]
        )
        [event] = strategy.collect_events()
        assert type(event) is Strategy.Defined
        assert strategy.id == STRATEGY_ID
        assert payload(event) == {
            "actor": ADMIN,
            "reason": "",
            "mission": "Make goals honest",
            "vision": "",
            "values": ["Candour", "Craft"],
            "perspectives": [{"key": k, "name": n} for k, n in DEFAULT_PERSPECTIVES],
        }
        assert list(strategy.perspectives) == [
            "financial",
            "customer",
            "internal_process",
            "learning_growth",
        ]

    def test_values_are_listed_once(self) -> None:
        with pytest.raises(InvalidValue) as info:
            Strategy.define(ctx(ADMIN), values=["Craft", "craft"])
        assert (info.value.rule, info.value.field) == ("duplicate_value", "values")

    def test_perspective_keys_are_slugs(self) -> None:
        with pytest.raises(InvalidValue) as info:
            Strategy.define(ctx(ADMIN), perspectives=[("Financial!", "F")])
        assert info.value.rule == "perspective_key_invalid"


class TestRestate:
    def test_only_what_changed_becomes_an_event_with_the_reason(self) -> None:
        strategy = a_strategy()
        events = when(
            strategy,
            lambda: strategy.restate(
                ctx(ADMIN), "board offsite", mission="Make goals honest", vision="Every company"
            ),
        )
        assert classes(events) == [Strategy.VisionRestated]
        assert events[0].reason == "board offsite"
        assert strategy.vision == "Every company"

    def test_a_change_needs_a_reason(self) -> None:
        strategy = a_strategy()
        refused(
            strategy,
            lambda: strategy.restate(ctx(ADMIN), " ", mission="Other"),
            "text_required",
            "reason",
        )


class TestPerspectives:
    def test_a_perspective_is_added_renamed_and_reordered(self) -> None:
        strategy = a_strategy()
        events = when(
            strategy,
            lambda: (
                strategy.add_perspective("sustainability", "Sustainability", ctx(ADMIN), "ESG"),
                strategy.rename_perspective("customer", "Customers", ctx(ADMIN), "plural"),
                strategy.reorder_perspectives(
                    [
                        "sustainability",
                        "financial",
                        "customer",
                        "internal_process",
                        "learning_growth",
                    ],
                    ctx(ADMIN),
                    "ESG first",
                ),
            ),
        )
        assert classes(events) == [
            Strategy.PerspectiveAdded,
            Strategy.PerspectiveRenamed,
            Strategy.PerspectivesReordered,
        ]
        assert next(iter(strategy.perspectives)) == "sustainability"
        assert strategy.perspectives["customer"] == "Customers"

    def test_a_perspective_with_live_themes_stays(self) -> None:
        strategy = a_strategy(**{"Profitable growth": "financial"})
        refused(
            strategy,
            lambda: strategy.remove_perspective("financial", ctx(ADMIN), "simplify"),
            "perspective_in_use",
            "perspective",
            RuleViolated,
        )

    def test_an_unused_perspective_is_removed_but_never_the_last(self) -> None:
        strategy = settled(Strategy.define(ctx(ADMIN), perspectives=[("only", "Only")]))
        refused(
            strategy,
            lambda: strategy.remove_perspective("only", ctx(ADMIN), "x"),
            "perspectives_required",
        )
        strategy = a_strategy()
        events = when(
            strategy, lambda: strategy.remove_perspective("customer", ctx(ADMIN), "merged")
        )
        assert classes(events) == [Strategy.PerspectiveRemoved]
        assert "customer" not in strategy.perspectives


class TestThemes:
    @pytest.mark.parametrize(
        ("themes", "theme", "rule", "field"),
        [
            ({}, ("Growth", "marketing", "new"), "perspective_unknown", "perspective"),
            ({"Growth": "financial"}, ("growth", "customer", "again"), "theme_name_taken", "name"),
        ],
        ids=["a_theme_sits_in_a_known_perspective", "theme_names_are_unique_among_live_themes"],
    )
    def test_adding_a_theme_is_refused(
        self, themes: dict[str, str], theme: tuple[str, str, str], rule: str, field: str
    ) -> None:
        strategy = a_strategy(**themes)
        name, perspective, reason = theme
        refused(
            strategy, lambda: strategy.add_theme(name, perspective, ctx(ADMIN), reason), rule, field
        )

    def test_drives_link_live_themes_but_not_a_theme_to_itself(self) -> None:
        strategy = a_strategy(Growth="financial", Loyalty="customer")
        growth, loyalty = theme_id(strategy, "Growth"), theme_id(strategy, "Loyalty")
        events = when(
            strategy, lambda: strategy.set_theme_drives(loyalty, [growth], ctx(ADMIN), "causal")
        )
        assert classes(events) == [Strategy.ThemeDrivesChanged]
        refused(
            strategy,
            lambda: strategy.set_theme_drives(loyalty, [loyalty], ctx(ADMIN), "x"),
            "theme_drives_itself",
            "drives",
        )
        refused(
            strategy,
            lambda: strategy.set_theme_drives(loyalty, [uuid4()], ctx(ADMIN), "x"),
            "theme_not_found",
            "drives",
        )

    def test_retiring_a_theme_drops_the_links_to_it(self) -> None:
        strategy = a_strategy(Growth="financial", Loyalty="customer")
        growth, loyalty = theme_id(strategy, "Growth"), theme_id(strategy, "Loyalty")
        strategy.set_theme_drives(loyalty, [growth], ctx(ADMIN), "causal")
        settled(strategy)
        events = when(strategy, lambda: strategy.retire_theme(growth, ctx(ADMIN), "merged"))
        assert classes(events) == [Strategy.ThemeRetired]
        assert strategy.themes[loyalty].drives == []
        assert [t.name for t in strategy.live_themes] == ["Loyalty"]
        refused(strategy, lambda: strategy.theme(growth), "theme_not_found", "theme_id")


class TestRevise:
    def test_put_semantics_new_revised_retired_and_drives_by_name(self) -> None:
        strategy = a_strategy(Growth="financial", Legacy="internal_process")
        growth = theme_id(strategy, "Growth")
        events = when(
            strategy,
            lambda: strategy.revise(
                ctx(ADMIN),
                "annual review",
                mission="Make goals honest",
                vision="Every company",
                values=["Candour"],
                themes=[
                    {"id": str(growth), "name": "Profitable growth", "perspective": "financial"},
                    {
                        "name": "Loyal customers",
                        "perspective": "customer",
                        "drives": ["Profitable growth"],
                    },
                ],
            ),
        )
        assert classes(events) == [
            Strategy.VisionRestated,
            Strategy.ValuesRestated,
            Strategy.ThemeRetired,
            Strategy.ThemeRevised,
            Strategy.ThemeAdded,
            Strategy.ThemeDrivesChanged,
        ]
        assert all(e.reason == "annual review" for e in events)
        loyal = theme_id(strategy, "Loyal customers")
        assert strategy.themes[loyal].drives == [growth]
        assert {t.name for t in strategy.live_themes} == {"Profitable growth", "Loyal customers"}

    @pytest.mark.parametrize(
        ("themes", "mission", "theme", "rule", "field"),
        [
            (
                {"Growth": "financial"},
                "New mission",
                {"name": "Growth", "perspective": "nowhere"},
                "perspective_unknown",
                "themes.0.perspective",
            ),
            (
                {},
                "",
                {"name": "A", "perspective": "financial", "colour": "red"},
                "themes_shape",
                "themes.0",
            ),
        ],
        ids=["broken anywhere, the new mission not taken either", "unknown theme fields"],
    )
    def test_a_broken_revision_is_refused_and_changes_nothing(
        self, themes: dict[str, str], mission: str, theme: dict[str, str], rule: str, field: str
    ) -> None:
        strategy = a_strategy(**themes)
        refused(
            strategy,
            lambda: strategy.revise(
                ctx(ADMIN), "oops", mission=mission, vision="", values=[], themes=[theme]
            ),
            rule,
            field,
        )

    def test_the_first_definition_needs_no_reason_later_ones_do(self) -> None:
        strategy = Strategy.define(ctx(ADMIN))
        strategy.revise(
            ctx(ADMIN),
            "",
            mission="m",
            vision="",
            values=[],
            themes=[{"name": "A", "perspective": "financial"}],
        )
        assert [t.name for t in strategy.live_themes] == ["A"]
        settled(strategy)
        refused(
            strategy,
            lambda: strategy.revise(ctx(ADMIN), "", mission="n", vision="", values=[], themes=[]),
            "text_required",
            "reason",
        )


class TestNorthStar:
    def test_choosing_the_same_north_star_again_records_nothing(self) -> None:
        strategy = a_strategy()
        kpi = uuid4()
        events = when(strategy, lambda: strategy.choose_north_star(kpi, ctx(ADMIN)))
        assert classes(events) == [Strategy.NorthStarChosen]
        assert when(strategy, lambda: strategy.choose_north_star(kpi, ctx(ADMIN))) == []


class TestTags:
    def test_a_theme_brings_its_perspective(self) -> None:
        strategy = a_strategy(Growth="financial")
        growth = theme_id(strategy, "Growth")
        assert validate_tags(strategy, None, growth) == ("financial", growth)
        with pytest.raises(InvalidValue) as info:
            validate_tags(strategy, "customer", growth)
        assert info.value.rule == "theme_perspective_mismatch"

    def test_without_a_strategy_the_default_perspectives_apply(self) -> None:
        assert validate_tags(None, "customer", None) == ("customer", None)
        with pytest.raises(InvalidValue) as info:
            validate_tags(None, None, uuid4())
        assert info.value.rule == "theme_not_found"
        with pytest.raises(InvalidValue):
            validate_tags(None, "marketing", None)

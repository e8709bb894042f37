"""The strategy layer through the in-memory application: rules that span aggregates."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.errors import InvalidValue, NotFound, OkrError, RuleViolated
from domain.initiative import InitiativeStatus, KeyResultRef
from domain.ledger.base import CommandResult
from domain.objective import Objective
from domain.quality import ObjectiveSpec, Organisation
from domain.strategy import Strategy
from tests.unit.builders import ADMIN, ALICE, BOB, CAROL, Org, an_org, ctx

THEMES = [
    {"name": "Profitable growth", "perspective": "financial"},
    {"name": "Loyal customers", "perspective": "customer", "drives": ["Profitable growth"]},
]


@pytest.fixture
def org() -> Org:
    return an_org()


def put(org: Org, mission: str = "x", vision: str = "", **more: Any) -> CommandResult:
    """The admin puts a strategy: no values and no themes unless `more` says otherwise."""
    given: dict[str, Any] = {"values": [], "themes": [], **more}
    return org.app.put_strategy(ctx(ADMIN), mission=mission, vision=vision, **given)


def with_strategy(org: Org) -> dict[str, UUID]:
    put(org, mission="m", vision="v", values=["Candour"], themes=THEMES)
    return {t.name: t.id for t in org.app.get_strategy().live_themes}


def a_kpi(org: Org, *, north_star: bool = False, unit: str = "users") -> UUID:
    return org.app.define_kpi(
        name="Weekly active users" if not north_star else "Weekly active teams",
        unit=unit,
        direction="increase",
        owner_person_id=ALICE,
        green=180,
        amber=150,
        ctx=ctx(BOB),
        north_star=north_star,
    ).id


class TestStrategy:
    def test_put_defines_then_revises_with_a_reason(self, org: Org) -> None:
        themes = with_strategy(org)
        strategy = org.app.get_strategy()
        assert strategy.themes[themes["Loyal customers"]].drives == [themes["Profitable growth"]]
        with pytest.raises(InvalidValue) as info:
            put(org, vision="v")
        assert info.value.rule == "text_required"
        result = put(org, vision="v", reason="reset", expected_version=strategy.version)
        assert result.version > strategy.version
        assert org.app.get_strategy().live_themes == []

    def test_put_honours_the_expected_version(self, org: Org) -> None:
        with_strategy(org)
        with pytest.raises(RuleViolated) as info:
            put(org, reason="r", expected_version=1)
        assert info.value.rule == "version_mismatch"

    def test_custom_perspectives_can_be_given(self, org: Org) -> None:
        put(
            org,
            mission="",
            themes=[{"name": "Green", "perspective": "planet"}],
            perspectives=[("planet", "Planet"), ("financial", "Financial")],
        )
        assert list(org.app.get_strategy().perspectives) == ["planet", "financial"]


class TestNorthStar:
    def test_one_north_star_which_moves_atomically(self, org: Org) -> None:
        first = a_kpi(org, north_star=True)
        assert org.app.get_strategy().north_star_kpi_id == first  # a strategy was started
        second = a_kpi(org, north_star=True)
        assert org.app.get_strategy().north_star_kpi_id == second

    def test_retiring_the_north_star_withdraws_it(self, org: Org) -> None:
        kpi = a_kpi(org, north_star=True)
        org.app.retire_kpi(kpi, "replaced", ctx(BOB))
        assert org.app.get_strategy().north_star_kpi_id is None
        with pytest.raises(RuleViolated) as info:
            org.app.choose_north_star(kpi, ctx(BOB))
        assert info.value.rule == "kpi_retired"

    def test_an_unknown_kpi_cannot_be_the_north_star(self, org: Org) -> None:
        with pytest.raises(NotFound):
            org.app.choose_north_star(uuid4(), ctx(BOB))

    def test_a_kpi_owner_must_be_an_active_person(self, org: Org) -> None:
        with pytest.raises(NotFound) as info:
            org.app.define_kpi(
                name="x",
                unit="u",
                direction="increase",
                owner_person_id=uuid4(),
                green=2,
                amber=1,
                ctx=ctx(BOB),
            )
        assert info.value.field == "owner_person_id"


class TestObjectivesInTheStrategy:
    def test_an_objective_is_tagged_with_a_live_theme_even_after_approval(self, org: Org) -> None:
        themes = with_strategy(org)
        objective_id, _ = org.approved_objective()
        org.app.tag_objective(objective_id, themes["Loyal customers"], ctx(ALICE))
        assert org.app.get_objective(objective_id).theme_id == themes["Loyal customers"]
        with pytest.raises(InvalidValue) as info:
            org.app.tag_objective(objective_id, uuid4(), ctx(ALICE))
        assert (info.value.rule, info.value.field) == ("theme_not_found", "theme_id")
        org.app.tag_objective(objective_id, None, ctx(ALICE), "not strategic")
        assert org.app.get_objective(objective_id).theme_id is None

    def test_a_metric_key_result_follows_a_kpi_in_the_same_unit(self, org: Org) -> None:
        objective_id, kr_id = org.approved_objective()
        kpi = a_kpi(org)
        org.app.link_key_result_to_kpi(objective_id, kr_id, kpi, ctx(ALICE))
        assert org.app.get_objective(objective_id).key_results[kr_id].kpi_id == kpi
        other = a_kpi(org, unit="EUR")
        with pytest.raises(InvalidValue) as info:
            org.app.link_key_result_to_kpi(objective_id, kr_id, other, ctx(ALICE))
        assert info.value.rule == "kpi_unit_mismatch"
        org.app.link_key_result_to_kpi(objective_id, kr_id, None, ctx(ALICE))
        assert org.app.get_objective(objective_id).key_results[kr_id].kpi_id is None

    def test_a_milestone_cannot_follow_a_kpi(self, org: Org) -> None:
        objective_id = org.objective()
        kr_id = org.app.add_key_result(
            objective_id,
            title="Shipped",
            measure="milestone",
            ctx=ctx(ALICE),  # type: ignore[arg-type]
        ).extra_id
        assert kr_id is not None
        with pytest.raises(InvalidValue) as info:
            org.app.link_key_result_to_kpi(objective_id, kr_id, a_kpi(org), ctx(ALICE))
        assert info.value.rule == "kpi_link_needs_metric"

    def test_a_check_in_taken_from_the_kpi_latest_measurement(self, org: Org) -> None:
        objective_id, kr_id = org.approved_objective()
        kpi = a_kpi(org)
        with pytest.raises(RuleViolated) as info:
            org.app.check_in_from_kpi(objective_id, kr_id, 7, ctx(ALICE))
        assert info.value.rule == "key_result_not_linked"
        org.app.link_key_result_to_kpi(objective_id, kr_id, kpi, ctx(ALICE))
        org.app.start_cycle(org.q2_id, ctx(ADMIN))
        with pytest.raises(RuleViolated) as info:
            org.app.check_in_from_kpi(objective_id, kr_id, 7, ctx(ALICE))
        assert info.value.rule == "kpi_not_measured"
        org.app.record_measurement(kpi, "2025-03", 120, ctx(ALICE))
        with pytest.raises(RuleViolated) as info:
            org.app.check_in_from_kpi(objective_id, kr_id, 7, ctx(ALICE))
        assert info.value.rule == "kpi_measurement_before_cycle"
        org.app.record_measurement(kpi, "2025-04", 140, ctx(ALICE))
        org.app.record_measurement(kpi, "2025-W19", 150, ctx(ALICE))
        org.app.check_in_from_kpi(objective_id, kr_id, 7, ctx(ALICE))
        kr = org.app.get_objective(objective_id).key_results[kr_id]
        assert kr.current is not None
        assert (kr.current.value, kr.current.effective_on) == (150, date(2025, 5, 11))
        assert kr.current.note == "From KPI 'Weekly active users', 2025-W19."

    def test_theme_and_kpi_links_survive_carry_over(self, org: Org) -> None:
        themes = with_strategy(org)
        objective_id, kr_id = org.approved_objective()
        kpi = a_kpi(org)
        org.app.tag_objective(objective_id, themes["Profitable growth"], ctx(ALICE))
        org.app.link_key_result_to_kpi(objective_id, kr_id, kpi, ctx(ALICE))
        org.app.start_cycle(org.q2_id, ctx(ADMIN))
        successor_id = org.app.carry_over(objective_id, org.q3_id, ctx(ALICE)).id
        successor = org.app.get_objective(successor_id)
        assert successor.theme_id == themes["Profitable growth"]
        assert [kr.kpi_id for kr in successor.active_key_results] == [kpi]


def _launch(org: Org, *key_results: KeyResultRef, title: str = "Checkout rebuild") -> UUID:
    """Bob launches an initiative for `key_results`; its id."""
    return org.app.launch_initiative(
        title=title, owner_person_id=BOB, key_results=list(key_results), ctx=ctx(BOB)
    ).id


class TestInitiatives:
    def test_launched_for_live_key_results_only(self, org: Org) -> None:
        objective_id, kr_id = org.approved_objective()
        initiative_id = _launch(org, KeyResultRef(objective_id, kr_id))
        assert org.app.get_initiative(initiative_id).key_results == [
            KeyResultRef(objective_id, kr_id)
        ]
        with pytest.raises(OkrError) as info:
            _launch(org, KeyResultRef(objective_id, uuid4()), title="x")
        assert info.value.rule == "key_result_not_found"
        with pytest.raises(NotFound) as info:
            _launch(org, KeyResultRef(uuid4(), kr_id), title="x")
        assert info.value.field == "key_result_ids"

    def test_update_moves_status_with_a_note_and_honours_the_version(self, org: Org) -> None:
        objective_id, kr_id = org.approved_objective()
        initiative_id = _launch(org, KeyResultRef(objective_id, kr_id))
        org.app.update_initiative(
            initiative_id, ctx(BOB), status=InitiativeStatus.IN_PROGRESS, note="kick-off"
        )
        org.app.update_initiative(initiative_id, ctx(BOB), note="half way")
        initiative = org.app.get_initiative(initiative_id)
        assert initiative.status == InitiativeStatus.IN_PROGRESS
        assert [n.text for n in initiative.notes] == ["kick-off", "half way"]
        with pytest.raises(RuleViolated) as info:
            org.app.update_initiative.expecting(1)(initiative_id, ctx(BOB), title="New")
        assert info.value.rule == "version_mismatch"


class TestQualityAtSubmission:
    def test_every_check_warns_until_configured(self, org: Org) -> None:
        assert set(org.app.quality_levels().values()) == {"warn"}
        objective_id = org.objective(title="Do better at sales")
        org.key_result(objective_id, title="More deals", unit="deals")
        org.app.submit_objective(objective_id, BOB, ctx(ALICE))  # warnings do not block

    def test_a_check_set_to_block_refuses_submission_naming_the_check(self, org: Org) -> None:
        org.app.configure_quality_check("vague_wording", "block", ctx(ADMIN), "be precise")
        objective_id = org.objective(title="Do better at sales")
        org.key_result(objective_id, title="Qualified deals", unit="deals")
        with pytest.raises(RuleViolated) as info:
            org.app.submit_objective(objective_id, BOB, ctx(ALICE))
        assert (info.value.rule, info.value.field) == ("vague_wording", "title")
        assert "Say what will be different" in info.value.message
        assert org.app.get_objective(objective_id).status.value == "draft"
        org.app.update_objective(objective_id, ctx(ALICE), title="Win the mid-market")
        org.app.submit_objective(objective_id, BOB, ctx(ALICE))

    def test_checks_across_objectives_use_the_read_side_context(self, org: Org) -> None:
        org.app.configure_quality_check("unaligned", "block", ctx(ADMIN))
        parent = org.objective(owner_team_id=org.company_id, ctx=ctx(CAROL), title="Grow")
        objective_id = org.objective()
        org.key_result(objective_id)
        org.app.submit_objective(objective_id, BOB, ctx(ALICE))  # no context: cannot tell
        org.app.withdraw_objective(objective_id, ctx(ALICE))

        def context(cycle_id: UUID) -> tuple[list[ObjectiveSpec], Organisation]:
            specs = [org.app.get_objective(o).quality_spec() for o in (parent, objective_id)]
            return specs, Organisation(team_parents={org.team_id: org.company_id})

        org.app.quality_context = context
        with pytest.raises(RuleViolated) as info:
            org.app.submit_objective(objective_id, BOB, ctx(ALICE))
        assert info.value.rule == "unaligned"
        with pytest.raises(InvalidValue) as bad:
            org.app.configure_quality_check("unaligned", "loud", ctx(ADMIN))
        assert bad.value.field == "level"


def test_the_strategy_is_one_aggregate_with_a_fixed_id(org: Org) -> None:
    with_strategy(org)
    assert isinstance(org.app.get_strategy(), Strategy)
    assert not isinstance(org.app.repository.get(org.app.get_strategy().id), Objective)

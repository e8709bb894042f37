"""KPIs: thresholds and colours, measurements per period, corrections that supersede."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from domain.errors import InvalidValue, RuleViolated
from domain.kpi import Colour, Kpi, parse_period, status_colour
from tests.unit.builders import ALICE, BOB, ctx, settled
from tests.unit.gwt import classes, created, payload, refused, when


def a_kpi(**kw: Any) -> Kpi:
    args: dict[str, Any] = {
        "name": "Net Promoter Score",
        "unit": "pts",
        "direction": "increase",
        "owner_person_id": ALICE,
        "green": 40,
        "amber": 30,
        "ctx": ctx(BOB),
    }
    args.update(kw)
    return settled(Kpi.define(**args))


def measured(*values: tuple[str, float]) -> Kpi:
    kpi = a_kpi()
    for period, value in values:
        kpi.record_measurement(period, value, ctx(ALICE))
    return settled(kpi)


class TestDefine:
    def test_a_kpi_has_a_unit_a_direction_an_owner_and_thresholds(self) -> None:
        kpi = Kpi.define(
            name=" NPS ",
            unit="pts",
            direction="increase",
            owner_person_id=ALICE,
            green=40,
            amber=30,
            ctx=ctx(BOB),
            perspective="customer",
        )
        assert created(kpi, Kpi.Defined) == {
            "actor": str(BOB),
            "reason": "",
            "name": "NPS",
            "description": "",
            "unit": "pts",
            "direction": "increase",
            "owner_person_id": ALICE,
            "green": 40.0,
            "amber": 30.0,
            "perspective": "customer",
            "theme_id": None,
        }

    @pytest.mark.parametrize(
        ("direction", "green", "amber"),
        [("increase", 30, 40), ("increase", 30, 30), ("decrease", 40, 30)],
    )
    def test_green_is_on_the_good_side_of_amber(
        self, direction: str, green: float, amber: float
    ) -> None:
        with pytest.raises(InvalidValue) as info:
            a_kpi(direction=direction, green=green, amber=amber)
        assert (info.value.rule, info.value.field) == ("thresholds_order", "thresholds.amber")

    def test_direction_unit_and_perspective_are_checked(self) -> None:
        for kw, rule in (
            ({"direction": "up"}, "direction_invalid"),
            ({"unit": " "}, "text_required"),
            ({"perspective": "marketing"}, "perspective_unknown"),
            ({"green": float("nan")}, "not_finite"),
        ):
            with pytest.raises(InvalidValue) as info:
                a_kpi(**kw)
            assert info.value.rule == rule


@pytest.mark.parametrize(
    ("direction", "value", "colour"),
    [
        ("increase", 45, Colour.GREEN),
        ("increase", 40, Colour.GREEN),
        ("increase", 35, Colour.AMBER),
        ("increase", 29.9, Colour.RED),
        ("decrease", 1.0, Colour.GREEN),
        ("decrease", 2.5, Colour.AMBER),
        ("decrease", 3.1, Colour.RED),
    ],
)
def test_status_colours(direction: str, value: float, colour: Colour) -> None:
    green, amber = (40, 30) if direction == "increase" else (1.0, 3.0)
    assert status_colour(direction, green, amber, value) == colour


@pytest.mark.parametrize(
    ("text", "name", "starts_on", "ends_on"),
    [
        ("2026-10-31", "2026-10-31", date(2026, 10, 31), date(2026, 10, 31)),
        ("2026-w44", "2026-W44", date(2026, 10, 26), date(2026, 11, 1)),
        ("2026-02", "2026-02", date(2026, 2, 1), date(2026, 2, 28)),
        ("2026-q4", "2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
        ("2025", "2025", date(2025, 1, 1), date(2025, 12, 31)),
    ],
)
def test_periods(text: str, name: str, starts_on: date, ends_on: date) -> None:
    period = parse_period(text)
    assert (period.name, period.starts_on, period.ends_on) == (name, starts_on, ends_on)


@pytest.mark.parametrize("text", ["2026-13", "2026-W60", "Q4", "October", "2026-02-30"])
def test_periods_that_are_not(text: str) -> None:
    with pytest.raises(InvalidValue) as info:
        parse_period(text)
    assert (info.value.rule, info.value.field) == ("period_invalid", "period")


class TestMeasurements:
    def test_a_measurement_is_recorded_for_a_period(self) -> None:
        kpi = a_kpi()
        events = when(
            kpi, lambda: kpi.record_measurement("2025-04", 36, ctx(ALICE), note=" survey ")
        )
        assert classes(events) == [Kpi.MeasurementRecorded]
        assert payload(events[0]) == {
            "actor": str(ALICE),
            "reason": "",
            "measurement_id": events[0].measurement_id,
            "period": "2025-04",
            "starts_on": date(2025, 4, 1),
            "ends_on": date(2025, 4, 30),
            "value": 36.0,
            "note": "survey",
        }
        assert kpi.status == Colour.AMBER

    def test_the_current_value_is_the_latest_period_not_the_latest_recorded(self) -> None:
        kpi = measured(("2025-04", 36), ("2025-03", 20))
        assert kpi.latest is not None and kpi.latest.period == "2025-04"
        assert [m.period for m in kpi.live_measurements] == ["2025-03", "2025-04"]

    def test_a_period_is_measured_once_then_corrected(self) -> None:
        kpi = measured(("2025-04", 36))
        refused(
            kpi,
            lambda: kpi.record_measurement("2025-04", 38, ctx(ALICE)),
            "period_already_measured",
            "period",
            RuleViolated,
        )

    def test_a_future_period_cannot_be_measured(self) -> None:
        kpi = a_kpi()
        refused(
            kpi,
            lambda: kpi.record_measurement("2025-06", 38, ctx(ALICE)),  # today is 2025-05-15
            "period_in_future",
            "period",
        )

    def test_a_correction_supersedes_and_keeps_the_original(self) -> None:
        kpi = measured(("2025-04", 26))
        original = next(iter(kpi.measurements))
        assert kpi.status == Colour.RED
        events = when(
            kpi, lambda: kpi.correct_measurement(original, 36, "wrong survey export", ctx(ALICE))
        )
        assert classes(events) == [Kpi.MeasurementCorrected]
        assert events[0].reason == "wrong survey export"
        assert events[0].supersedes == original
        assert kpi.measurements[original].value == 26  # kept, superseded
        assert kpi.measurements[original].superseded_by == events[0].measurement_id
        assert kpi.latest is not None and kpi.latest.value == 36
        assert kpi.status == Colour.AMBER

    def test_corrections_need_a_reason_and_the_latest_version(self) -> None:
        kpi = measured(("2025-04", 26))
        original = next(iter(kpi.measurements))
        refused(
            kpi,
            lambda: kpi.correct_measurement(original, 36, "", ctx(ALICE)),
            "text_required",
            "reason",
        )
        kpi.correct_measurement(original, 36, "export", ctx(ALICE))
        settled(kpi)
        refused(
            kpi,
            lambda: kpi.correct_measurement(original, 37, "again", ctx(ALICE)),
            "measurement_superseded",
            "measurement_id",
        )


class TestThresholds:
    def test_moving_thresholds_needs_a_reason(self) -> None:
        kpi = a_kpi()
        refused(
            kpi,
            lambda: kpi.change_thresholds(45, 35, " ", ctx(BOB)),
            "text_required",
            "reason",
        )
        events = when(kpi, lambda: kpi.change_thresholds(45, 35, "raised the bar", ctx(BOB)))
        assert classes(events) == [Kpi.ThresholdsChanged]
        assert (kpi.green, kpi.amber) == (45, 35)
        refused(
            kpi,
            lambda: kpi.change_thresholds(45, 35, "again", ctx(BOB)),
            "thresholds_unchanged",
            "thresholds",
        )

    def test_new_thresholds_recolour_the_current_value(self) -> None:
        kpi = measured(("2025-04", 42))
        assert kpi.status == Colour.GREEN
        kpi.change_thresholds(50, 41, "industry benchmark moved", ctx(BOB))
        assert kpi.status == Colour.AMBER


class TestLifecycle:
    def test_rename_hand_over_retag_record_nothing_when_nothing_changes(self) -> None:
        kpi = a_kpi()
        assert when(kpi, lambda: kpi.rename("Net Promoter Score", None, ctx(BOB))) == []
        events = when(
            kpi,
            lambda: (
                kpi.change_owner(BOB, ctx(BOB), "Alice moved teams"),
                kpi.retag("customer", None, None, ctx(BOB)),
            ),
        )
        assert classes(events) == [Kpi.OwnerChanged, Kpi.Retagged]

    def test_a_retired_kpi_refuses_changes(self) -> None:
        kpi = a_kpi()
        kpi.retire(ctx(BOB), "replaced by CSAT")
        settled(kpi)
        refused(
            kpi,
            lambda: kpi.record_measurement("2025-04", 30, ctx(ALICE)),
            "kpi_retired",
            error=RuleViolated,
        )

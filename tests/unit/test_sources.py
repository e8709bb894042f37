"""Key results that follow a data source: the definition's rules, attaching and detaching, a
fetched value as an ordinary check-in (or nothing, when unchanged), and the schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from domain.cycle import Phase
from domain.errors import InvalidValue
from domain.kpi import Kpi
from domain.objective import Objective
from domain.source import Schedule, source_actor, validate_source
from tests.unit.builders import ALICE, TODAY, an_objective, ctx
from tests.unit.gwt import classes, payload, refused, when
from tests.unit.strategy.test_kpi import a_kpi

SQL = {"kind": "sql", "connection": "warehouse", "query": "select count(*) from signups"}


def tracking() -> Any:
    return an_objective().with_kr().with_milestone().approved().in_phase(Phase.ACTIVE).build()


class TestDefinition:
    def test_a_sql_source_is_kept_in_canonical_form_with_an_hourly_default(self) -> None:
        assert validate_source(SQL) == {**SQL, "schedule": {"every": "hour"}, "confidence": 5}

    def test_an_http_json_source_names_its_secrets_never_holds_them(self) -> None:
        found = validate_source(
            {
                "kind": "http_json",
                "url": "https://metrics.example/api",
                "headers": {"Authorization": "metrics_token"},
                "expression": "data.total",
                "schedule": {"every": "day", "at": "06:30", "time_zone": "Europe/Berlin"},
            }
        )
        assert found["headers"] == {"Authorization": "metrics_token"}
        assert found["schedule"] == {"every": "day", "at": "06:30", "time_zone": "Europe/Berlin"}

    @pytest.mark.parametrize(
        ("raw", "rule", "field"),
        [
            ({"kind": "ftp"}, "kind_invalid", "kind"),
            ({**SQL, "connection": "postgresql://u:p@h/db"}, "name_invalid", "connection"),
            ({**SQL, "query": " "}, "text_required", "query"),
            ({"kind": "csv", "url": "file:///etc/passwd", "column": "n"}, "url_invalid", "url"),
            (
                {"kind": "csv", "url": "https://u:pw@host/x.csv", "column": "n"},
                "url_credentials",
                "url",
            ),
            (
                {"kind": "http_json", "url": "https://h/x", "expression": ""},
                "text_required",
                "expression",
            ),
            (
                {
                    "kind": "http_json",
                    "url": "https://h/x",
                    "expression": "a",
                    "headers": {"X-Key": "Bearer abc def"},
                },
                "name_invalid",
                "headers.X-Key",
            ),
            ({**SQL, "schedule": {"every": "week"}}, "schedule.every_invalid", "schedule.every"),
            (
                {**SQL, "schedule": {"every": "day", "at": "25:00"}},
                "schedule_at_invalid",
                "schedule.at",
            ),
            (
                {**SQL, "schedule": {"every": "day", "at": "06:00", "time_zone": "Mars/Base"}},
                "time_zone_unknown",
                "schedule.time_zone",
            ),
            ({**SQL, "confidence": 11}, "confidence_out_of_range", "confidence"),
        ],
    )
    def test_a_bad_definition_names_its_field_and_rule(
        self, raw: dict[str, Any], rule: str, field: str
    ) -> None:
        with pytest.raises(InvalidValue) as error:
            validate_source(raw)
        assert (error.value.rule, error.value.field) == (rule, field)


class TestAttaching:
    def test_a_metric_key_result_follows_a_source_with_a_reason(self) -> None:
        given = tracking()
        o, kr_id = given.objective, given.kr_ids[0]
        events = when(o, lambda: o.attach_source(given.cycle, kr_id, SQL, "in the DB", ctx(ALICE)))
        assert classes(events) == [Objective.KeyResultSourceAttached]
        assert payload(events[0])["source"]["connection"] == "warehouse"
        assert payload(events[0])["reason"] == "in the DB"
        assert given.kr().source_id == events[0].source_id

    @pytest.mark.parametrize(
        ("kr", "reason", "rule", "field"),
        [
            (1, "why", "source_needs_metric", "key_result_id"),  # the second is a milestone
            (0, " ", "text_required", "reason"),
        ],
        ids=["a_milestone_cannot_follow_a_source", "attaching_needs_a_reason"],
    )
    def test_attaching_is_refused(self, kr: int, reason: str, rule: str, field: str) -> None:
        given = tracking()
        o = given.objective
        refused(
            o,
            lambda: o.attach_source(given.cycle, given.kr_ids[kr], SQL, reason, ctx()),
            rule,
            field,
        )

    def test_detaching_stops_following_and_a_key_result_without_a_source_refuses(self) -> None:
        given = tracking()
        o, kr_id = given.objective, given.kr_ids[0]
        refused(o, lambda: o.detach_source(given.cycle, kr_id, "done", ctx()), "no_source")
        o.attach_source(given.cycle, kr_id, SQL, "in the DB", ctx())
        o.collect_events()
        events = when(o, lambda: o.detach_source(given.cycle, kr_id, "moved to Looker", ctx()))
        assert classes(events) == [Objective.KeyResultSourceDetached]
        assert given.kr().source_id is None


class TestFetchedValues:
    def _following(self, **definition: Any) -> Any:
        given = tracking()
        source_id = given.objective.attach_source(
            given.cycle, given.kr_ids[0], {**SQL, **definition}, "in the DB", ctx()
        )
        given.objective.collect_events()
        return given, source_id

    def test_a_fetched_value_is_a_check_in_by_the_source_with_the_attached_confidence(
        self,
    ) -> None:
        given, source_id = self._following(confidence=7)
        o, kr_id = given.objective, given.kr_ids[0]
        by_source = ctx(source_actor(source_id))
        events = when(
            o, lambda: o.take_fetched_value(given.cycle, kr_id, source_id, 150, by_source)
        )
        assert classes(events) == [Objective.ProgressReported]
        assert events[0].actor == f"source:{source_id}"
        assert (events[0].value, events[0].confidence, events[0].effective_on) == (150.0, 7, TODAY)

    def test_an_unchanged_value_writes_nothing(self) -> None:
        given, source_id = self._following()
        o, kr_id = given.objective, given.kr_ids[0]
        o.take_fetched_value(given.cycle, kr_id, source_id, 150, ctx(source_actor(source_id)))
        o.collect_events()
        events = when(
            o,
            lambda: o.take_fetched_value(given.cycle, kr_id, source_id, 150.0, ctx("source:x")),
        )
        assert events == []

    def test_the_owners_last_stated_confidence_stays_the_owners(self) -> None:
        given, source_id = self._following(confidence=7)
        o, kr_id = given.objective, given.kr_ids[0]
        o.check_in(given.cycle, kr_id, 120, 3, ctx(ALICE))
        o.take_fetched_value(given.cycle, kr_id, source_id, 130, ctx(source_actor(source_id)))
        o.collect_events()
        events = when(
            o,
            lambda: o.take_fetched_value(
                given.cycle, kr_id, source_id, 140, ctx(source_actor(source_id))
            ),
        )
        assert [e.confidence for e in events] == [3]

    def test_a_value_for_a_replaced_source_is_refused(self) -> None:
        given, source_id = self._following()
        o, kr_id = given.objective, given.kr_ids[0]
        o.detach_source(given.cycle, kr_id, "gone", ctx())
        o.collect_events()
        refused(
            o,
            lambda: o.take_fetched_value(given.cycle, kr_id, source_id, 1, ctx()),
            "source_detached",
        )


class TestSchedule:
    def test_hourly_is_due_once_per_hour(self) -> None:
        hourly = Schedule.of({"schedule": {"every": "hour"}})
        now = datetime(2026, 3, 1, 10, 20, tzinfo=UTC)
        assert hourly.is_due(None, now)
        assert not hourly.is_due(datetime(2026, 3, 1, 10, 0, 5, tzinfo=UTC), now)
        assert hourly.is_due(datetime(2026, 3, 1, 9, 59, tzinfo=UTC), now)

    def test_daily_is_due_after_the_local_time_in_its_zone(self) -> None:
        daily = Schedule.of(
            {"schedule": {"every": "day", "at": "06:30", "time_zone": "Europe/Berlin"}}
        )
        tried = datetime(2026, 3, 1, 5, 31, tzinfo=UTC)  # 06:31 in Berlin (CET, UTC+1)
        assert not daily.is_due(tried, datetime(2026, 3, 2, 5, 29, tzinfo=UTC))
        assert daily.is_due(tried, datetime(2026, 3, 2, 5, 30, tzinfo=UTC))
        summer = datetime(2026, 7, 1, 4, 31, tzinfo=UTC)  # 06:31 in Berlin (CEST, UTC+2)
        assert daily.last_slot(summer) == datetime(2026, 7, 1, 4, 30, tzinfo=UTC)


class TestKpiSources:
    def _following(self) -> tuple[Kpi, UUID]:
        kpi = a_kpi()
        daily = {**SQL, "schedule": {"every": "day", "at": "06:00", "time_zone": "Asia/Tokyo"}}
        source_id = kpi.attach_source(daily, "the survey tool counts it", ctx(ALICE))
        kpi.collect_events()
        return kpi, source_id

    def test_a_fetched_value_measures_the_day_then_corrects_it_and_an_unchanged_one_is_nothing(
        self,
    ) -> None:
        kpi, source_id = self._following()
        by_source = ctx(source_actor(source_id))  # 12:00 UTC: 21:00 in Tokyo, the same day
        events = when(kpi, lambda: kpi.take_fetched_value(source_id, 41, by_source))
        assert classes(events) == [Kpi.MeasurementRecorded]
        assert (events[0].period, events[0].value, events[0].actor) == (
            TODAY.isoformat(),
            41.0,
            f"source:{source_id}",
        )
        assert when(kpi, lambda: kpi.take_fetched_value(source_id, 41.0, by_source)) == []
        events = when(kpi, lambda: kpi.take_fetched_value(source_id, 43, by_source))
        assert classes(events) == [Kpi.MeasurementCorrected]
        assert events[0].reason == "fetched again from its data source"

    def test_a_kpi_measured_from_a_source_stops_with_a_reason(self) -> None:
        kpi, source_id = self._following()
        events = when(kpi, lambda: kpi.detach_source("moved to the warehouse", ctx(ALICE)))
        assert classes(events) == [Kpi.SourceDetached]
        refused(kpi, lambda: kpi.take_fetched_value(source_id, 1, ctx()), "source_detached")
        refused(kpi, lambda: kpi.detach_source("again", ctx(ALICE)), "no_source")

"""Key performance indicators: measured continuously, judged against green / amber thresholds.

A KPI is not an OKR: it has no cycle and no target to reach, only thresholds that say whether
the current value is healthy. Measurements are recorded per period (a day, an ISO week, a month,
a quarter or a year); a wrong one is corrected by a new measurement that supersedes it, never
overwritten. Moving a threshold changes how every past value is coloured, so it needs a reason.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, NotRequired, TypedDict, Unpack
from uuid import UUID, uuid4

from domain.base import Assigns, CommandContext, Immutable, OkrAggregate
from domain.errors import (
    InvalidValue,
    bounded_text,
    clean_text,
    clean_text_or,
    finite_number,
    require,
    require_choice,
    require_correctable,
    require_text,
    require_value,
)
from domain.source import (
    Schedule,
    describe,
    require_follows_a_source,
    require_still_following,
    validate_source,
)
from domain.strategy import Strategy, validate_tags


class KpiDirection(StrEnum):
    """Which way is good: `increase` (higher is better) or `decrease` (lower is better)."""

    INCREASE = "increase"
    DECREASE = "decrease"


class Colour(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


def status_colour(direction: str, green: float, amber: float, value: float | None) -> Colour | None:
    """Green at or beyond the green threshold, amber at or beyond amber, red otherwise."""
    if value is None:
        return None
    if direction == KpiDirection.INCREASE:
        return Colour.GREEN if value >= green else Colour.AMBER if value >= amber else Colour.RED
    return Colour.GREEN if value <= green else Colour.AMBER if value <= amber else Colour.RED


# ------------------------------------------------------------------ periods

_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True)
class Period:
    """A measured period: its canonical name and the days it covers (both inclusive)."""

    name: str
    starts_on: date
    ends_on: date


def parse_period(text: str, field: str = "period") -> Period:
    """`2026-10-31` (a day), `2026-W44` (ISO week), `2026-10`, `2026-Q4` or `2026`."""
    raw = str(text).strip().upper()
    try:
        if m := _DAY.match(raw):
            day = date(int(m[1]), int(m[2]), int(m[3]))
            return Period(day.isoformat(), day, day)
        if m := _WEEK.match(raw):
            monday = date.fromisocalendar(int(m[1]), int(m[2]), 1)
            return Period(f"{m[1]}-W{m[2]}", monday, monday + timedelta(days=6))
        if m := _MONTH.match(raw):
            year, month = int(m[1]), int(m[2])
            days = calendar.monthrange(year, month)[1]
            return Period(f"{year:04d}-{month:02d}", date(year, month, 1), date(year, month, days))
        if m := _QUARTER.match(raw):
            year, q = int(m[1]), int(m[2])
            first = date(year, 3 * q - 2, 1)
            last_month = 3 * q
            end = date(year, last_month, calendar.monthrange(year, last_month)[1])
            return Period(f"{year:04d}-Q{q}", first, end)
        if m := _YEAR.match(raw):
            year = int(m[1])
            return Period(f"{year:04d}", date(year, 1, 1), date(year, 12, 31))
    except ValueError:
        pass
    raise InvalidValue(
        "period_invalid",
        "period is a day (2026-10-31), an ISO week (2026-W44), a month (2026-10), "
        "a quarter (2026-Q4) or a year (2026)",
        field,
    )


# ------------------------------------------------------------- the aggregate


@dataclass(frozen=True)
class Measurement(Immutable):
    """A measured value; a correction replaces the record with one naming its successor."""

    id: UUID
    period: str
    starts_on: date
    ends_on: date
    value: float
    note: str
    recorded_at: datetime
    actor: str
    supersedes: UUID | None = None
    superseded_by: UUID | None = None
    reason: str = ""


def validate_thresholds(direction: str, green: float, amber: float) -> tuple[float, float]:
    green_ = finite_number(green, "thresholds.green")
    amber_ = finite_number(amber, "thresholds.amber")
    if direction == KpiDirection.INCREASE:
        require_value(
            green_ > amber_,
            "thresholds_order",
            "when higher is better, the green threshold is above the amber one",
            "thresholds.amber",
        )
    else:
        require_value(
            green_ < amber_,
            "thresholds_order",
            "when lower is better, the green threshold is below the amber one",
            "thresholds.amber",
        )
    return green_, amber_


class KpiDefinition(TypedDict):
    """What a KPI is defined with (`Kpi.define`, and the ledger's `define_kpi`); the
    perspective and theme are checked against the strategy."""

    name: str
    unit: str
    direction: str
    owner_person_id: UUID
    green: float
    amber: float
    description: NotRequired[str]
    perspective: NotRequired[str | None]
    theme_id: NotRequired[UUID | None]


class Measured(OkrAggregate.Event):
    """What the measurement events share: the value of one period, with a note (a correction
    also names the measurement it supersedes)."""

    measurement_id: UUID
    period: str
    starts_on: date
    ends_on: date
    value: float
    note: str


class KpiChange(TypedDict, total=False):
    """One atomic change of a KPI (the ledger's `update_kpi`, PATCH /kpis/{id}): its name,
    description and owner (None or left out: unchanged), its perspective and theme when
    `retag`, and why."""

    name: str | None
    description: str | None
    owner_person_id: UUID | None
    retag: bool
    perspective: str | None
    theme_id: UUID | None
    reason: str


class Kpi(OkrAggregate):
    if TYPE_CHECKING:  # state set by events; not dataclass fields of the aggregate
        name: str
        description: str
        unit: str
        direction: KpiDirection
        owner_person_id: UUID
        green: float
        amber: float
        perspective: str | None
        theme_id: UUID | None
        retired: bool
        measurements: dict[UUID, Measurement]
        source_id: UUID | None
        source: dict[str, Any] | None

    _shallow: ClassVar[frozenset[str]] = frozenset({"measurements"})
    """Measurements are immutable records: a command's copy copies the map, not each record."""

    # ------------------------------------------------------------------ events

    class Defined(OkrAggregate.Created):
        name: str
        description: str
        unit: str
        direction: str
        owner_person_id: UUID
        green: float
        amber: float
        perspective: str | None
        theme_id: UUID | None

        def apply(self, kpi: Kpi) -> None:
            kpi.name = self.name
            kpi.description = self.description
            kpi.unit = self.unit
            kpi.direction = KpiDirection(self.direction)
            kpi.owner_person_id = self.owner_person_id
            kpi.green = self.green
            kpi.amber = self.amber
            kpi.perspective = self.perspective
            kpi.theme_id = self.theme_id
            kpi.retired = False
            kpi.measurements = {}
            kpi.source_id = None
            kpi.source = None

    class Renamed(Assigns):
        name: str
        description: str

    class OwnerChanged(Assigns):
        owner_person_id: UUID

    class Retagged(Assigns):
        perspective: str | None
        theme_id: UUID | None

    class ThresholdsChanged(Assigns):
        green: float
        amber: float

    class MeasurementRecorded(Measured):
        def apply(self, kpi: Kpi) -> None:
            kpi.measurements[self.measurement_id] = _measurement_of(self)

    class MeasurementCorrected(Measured):
        supersedes: UUID

        def apply(self, kpi: Kpi) -> None:
            kpi.measurements[self.supersedes] = replace(
                kpi.measurements[self.supersedes], superseded_by=self.measurement_id
            )
            kpi.measurements[self.measurement_id] = _measurement_of(self, self.supersedes)

    class Retired(OkrAggregate.Event):
        def apply(self, kpi: Kpi) -> None:
            kpi.retired = True

    class SourceAttached(Assigns):
        """The KPI is measured from a data source from now on (replacing any earlier one)."""

        source_id: UUID
        source: dict[str, Any]

    class SourceDetached(OkrAggregate.Event):
        def apply(self, kpi: Kpi) -> None:
            kpi.source_id, kpi.source = None, None

    # ----------------------------------------------------------- derived state

    @property
    def live_measurements(self) -> list[Measurement]:
        """Measurements no correction superseded, oldest period first."""
        live = [m for m in self.measurements.values() if m.superseded_by is None]
        return sorted(live, key=lambda m: (m.ends_on, m.starts_on, m.recorded_at))

    @property
    def latest(self) -> Measurement | None:
        """The live measurement of the most recent period."""
        live = self.live_measurements
        return live[-1] if live else None

    @property
    def status(self) -> Colour | None:
        latest = self.latest
        return status_colour(
            self.direction, self.green, self.amber, latest.value if latest else None
        )

    # ------------------------------------------------------------- commands

    @classmethod
    def define(
        cls,
        *,
        ctx: CommandContext,
        strategy: Strategy | None = None,
        **definition: Unpack[KpiDefinition],
    ) -> Kpi:
        direction_ = require_choice(KpiDirection, definition["direction"], "direction")
        green_, amber_ = validate_thresholds(direction_, definition["green"], definition["amber"])
        perspective_, theme_id_ = validate_tags(
            strategy, definition.get("perspective"), definition.get("theme_id")
        )
        return cls._create(
            cls.Defined,
            id=uuid4(),
            name=require_text(definition["name"], "name", max_length=200),
            description=clean_text(definition.get("description", ""), "description"),
            unit=require_text(definition["unit"], "unit", max_length=40),
            direction=direction_.value,
            owner_person_id=definition["owner_person_id"],
            green=green_,
            amber=amber_,
            perspective=perspective_,
            theme_id=theme_id_,
            **ctx.stamp(),
        )

    def _require_live(self, doing: str) -> None:
        require(not self.retired, "kpi_retired", f"cannot {doing}: KPI '{self.name}' is retired")

    def rename(
        self, name: str, description: str | None, ctx: CommandContext, reason: str = ""
    ) -> None:
        self._require_live("rename it")
        name_ = require_text(name, "name", max_length=200)
        description_ = clean_text_or(description, "description", self.description)
        self._assign(self.Renamed, ctx, reason, name=name_, description=description_)

    def change_owner(self, owner_person_id: UUID, ctx: CommandContext, reason: str = "") -> None:
        self._require_live("hand it over")
        self._assign(self.OwnerChanged, ctx, reason, owner_person_id=owner_person_id)

    def retag(
        self,
        perspective: str | None,
        theme_id: UUID | None,
        strategy: Strategy | None,
        ctx: CommandContext,
        reason: str = "",
    ) -> None:
        self._require_live("retag it")
        perspective_, theme_id_ = validate_tags(strategy, perspective, theme_id)
        self._assign(self.Retagged, ctx, reason, perspective=perspective_, theme_id=theme_id_)

    def change_thresholds(
        self, green: float, amber: float, reason: str, ctx: CommandContext
    ) -> None:
        """New thresholds recolour every value, past ones included: say why."""
        self._require_live("change its thresholds")
        why = require_text(reason, "reason", max_length=2000)
        green_, amber_ = validate_thresholds(self.direction, green, amber)
        require(
            (green_, amber_) != (self.green, self.amber),
            "thresholds_unchanged",
            "these are the thresholds already",
            "thresholds",
        )
        self._trigger(self.ThresholdsChanged, ctx, why, green=green_, amber=amber_)

    def record_measurement(
        self, period: str, value: float, ctx: CommandContext, note: str = ""
    ) -> UUID:
        self._require_live("record a measurement")
        period_ = parse_period(period)
        require_value(
            period_.starts_on <= ctx.now().date(),
            "period_in_future",
            f"period {period_.name} has not started yet",
            "period",
        )
        taken = next(
            (m for m in self.live_measurements if m.period == period_.name),
            None,
        )
        require(
            taken is None,
            "period_already_measured",
            f"{period_.name} was already measured ({taken.value if taken else ''}); "
            "correct that measurement instead",
            "period",
        )
        measurement_id = uuid4()
        self._trigger(
            self.MeasurementRecorded,
            ctx,
            measurement_id=measurement_id,
            period=period_.name,
            starts_on=period_.starts_on,
            ends_on=period_.ends_on,
            value=finite_number(value, "value"),
            note=bounded_text(note, "note"),
        )
        return measurement_id

    def correct_measurement(
        self,
        measurement_id: UUID,
        value: float,
        reason: str,
        ctx: CommandContext,
        note: str | None = None,
    ) -> UUID:
        """A new measurement for the same period supersedes the wrong one, which stays."""
        self._require_live("correct a measurement")
        original = require_correctable(
            self.measurements.get(measurement_id), "measurement", "measurement", measurement_id
        )
        why = require_text(reason, "reason", max_length=2000)
        correction_id = uuid4()
        self._trigger(
            self.MeasurementCorrected,
            ctx,
            why,
            measurement_id=correction_id,
            supersedes=original.id,
            period=original.period,
            starts_on=original.starts_on,
            ends_on=original.ends_on,
            value=finite_number(value, "value"),
            note=original.note if note is None else bounded_text(note, "note"),
        )
        return correction_id

    # Data sources.

    def attach_source(self, definition: dict[str, Any], reason: str, ctx: CommandContext) -> UUID:
        """Measure the KPI from a data source (see domain/source.py): each fetch measures the
        day it happens on, in the schedule's time zone."""
        self._require_live("attach a data source")
        why = require_text(reason, "reason", max_length=2000)
        source_id = uuid4()
        self._trigger(
            self.SourceAttached, ctx, why, source_id=source_id, source=validate_source(definition)
        )
        return source_id

    def detach_source(self, reason: str, ctx: CommandContext) -> None:
        self._require_live("detach a data source")
        require_follows_a_source(self.source_id, f"KPI '{self.name}'")
        self._trigger(self.SourceDetached, ctx, require_text(reason, "reason", max_length=2000))

    def take_fetched_value(self, source_id: UUID, value: float, ctx: CommandContext) -> UUID | None:
        """A fetched value as the measurement of the day of the fetch (in the source's time
        zone); a different value later that day corrects it; the same value writes nothing."""
        self._require_live("take a fetched value")
        source = require_still_following(
            self.source_id, self.source, source_id, f"KPI '{self.name}'"
        )
        number = finite_number(value, "value")
        now = ctx.now()  # the day in the source's zone, never ahead of the UTC day
        day = min(Schedule.of(source).local_day(now), now.date()).isoformat()
        taken = next((m for m in self.live_measurements if m.period == day), None)
        note = f"Fetched from its data source ({describe(source)})."
        if taken is None:
            return self.record_measurement(day, number, ctx, note)
        if taken.value == number:
            return None
        return self.correct_measurement(
            taken.id, number, "fetched again from its data source", ctx, note
        )

    def retire(self, ctx: CommandContext, reason: str) -> None:
        self._require_live("retire it")
        self._trigger(self.Retired, ctx, require_text(reason, "reason", max_length=2000))


def _measurement_of(event: Measured, supersedes: UUID | None = None) -> Measurement:
    """The measurement a recording or correcting event adds."""
    return Measurement(
        id=event.measurement_id,
        period=event.period,
        starts_on=event.starts_on,
        ends_on=event.ends_on,
        value=event.value,
        note=event.note,
        recorded_at=event.timestamp,
        actor=event.actor,
        supersedes=supersedes,
        reason=event.reason,
    )

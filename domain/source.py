"""Data sources: where a key result (or a KPI) fetches its value, and when.

A source is a *definition*, recorded in an event when a key result starts following it: its kind
(a SQL query on a named connection, an HTTP JSON endpoint read with a JMESPath expression, or a
CSV file at a URL with a column and a row filter) and its schedule (every hour, or every day at
a local time in a time zone). Connections and secrets are *named* here and defined only in the
server's settings: no secret is ever part of a definition, an event or a request.

The rules below are the ones a definition obeys on its own; the rules that need the server's
settings (is the connection defined? the secret? does the JMESPath expression compile?) are
checked at the edge, before the command runs (``api/usecases/sources.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import InvalidValue, require, require_choice, require_text, require_value


class SourceKind(StrEnum):
    SQL = "sql"
    HTTP_JSON = "http_json"
    CSV = "csv"


class Every(StrEnum):
    HOUR = "hour"
    DAY = "day"


SOURCE_ACTOR_PREFIX = "source:"
"""A fetched value's events are recorded with the actor ``source:<source id>``."""

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,62}$")
_HEADER = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
_AT = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_QUERY_LENGTH = 10_000
DEFAULT_CONFIDENCE = 5


def source_actor(source_id: object) -> str:
    return f"{SOURCE_ACTOR_PREFIX}{source_id}"


def is_source_actor(actor: str) -> bool:
    return actor.startswith(SOURCE_ACTOR_PREFIX)


def require_follows_a_source(
    followed_id: object | None, follower: str, field: str | None = None
) -> None:
    """What detaches a source follows one (`follower`: "KPI 'Revenue'", "key result 'NPS'")."""
    require(followed_id is not None, "no_source", f"{follower} follows no data source", field)


def require_still_following(
    followed_id: object | None,
    definition: dict[str, Any] | None,
    source_id: object,
    follower: str,
) -> dict[str, Any]:
    """The definition of the source a fetched value came from, while `follower` still follows
    it (a value fetched before a detach or a replacement is refused)."""
    require(
        followed_id == source_id and definition is not None,
        "source_detached",
        f"{follower} no longer follows this source",
        "source_id",
    )
    assert definition is not None
    return definition


def _name(value: object, field: str, what: str) -> str:
    text = require_text(str(value or ""), field, max_length=63)
    require_value(
        bool(_NAME.match(text)),
        "name_invalid",
        f"{field} names a {what} defined in the settings: a letter, then letters, digits, "
        "'_', '.' or '-'",
        field,
    )
    return text


def _url(value: object, field: str) -> str:
    text = require_text(str(value or ""), field, max_length=2000)
    parts = urlsplit(text)
    require_value(
        parts.scheme in ("http", "https") and bool(parts.hostname),
        "url_invalid",
        f"{field} must be an absolute http:// or https:// URL",
        field,
    )
    require_value(
        parts.username is None and parts.password is None,
        "url_credentials",
        f"{field} must not hold credentials: put them in a named secret and send it as a header",
        field,
    )
    return text


def _schedule(raw: object) -> dict[str, str]:
    require_value(isinstance(raw, Mapping), "schedule_invalid", "schedule is an object", "schedule")
    assert isinstance(raw, Mapping)
    every = require_choice(Every, str(raw.get("every", "")), "schedule.every")
    if every == Every.HOUR:
        return {"every": every.value}
    at = str(raw.get("at") or "")
    require_value(
        bool(_AT.match(at)),
        "schedule_at_invalid",
        "schedule.at is the local time of a daily sync, HH:MM (00:00 to 23:59)",
        "schedule.at",
    )
    zone = str(raw.get("time_zone") or "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue(
            "time_zone_unknown", f"unknown time zone '{zone}'", "schedule.time_zone"
        ) from None
    return {"every": every.value, "at": at, "time_zone": zone}


def _string_map(raw: object, field: str, key_rule: re.Pattern[str], values: str) -> dict[str, str]:
    if raw is None:
        return {}
    require_value(isinstance(raw, Mapping), "map_invalid", f"{field} is an object", field)
    assert isinstance(raw, Mapping)
    out: dict[str, str] = {}
    for key, value in raw.items():
        require_value(
            isinstance(key, str) and bool(key_rule.match(key)),
            "key_invalid",
            f"{field} has an invalid key '{key}'",
            field,
        )
        if values == "secret":
            out[key] = _name(value, f"{field}.{key}", "secret")
        else:
            out[key] = require_text(str(value), f"{field}.{key}", max_length=500)
    return out


def validate_source(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A source definition in canonical form (what its event records), or InvalidValue naming
    the field (``source.<field>`` in a request) and the rule."""
    kind = require_choice(SourceKind, str(raw.get("kind", "")), "kind")
    out: dict[str, Any] = {"kind": kind.value}
    if kind == SourceKind.SQL:
        out["connection"] = _name(raw.get("connection"), "connection", "connection")
        out["query"] = require_text(
            str(raw.get("query") or ""), "query", max_length=MAX_QUERY_LENGTH, multiline=True
        )
    else:
        out["url"] = _url(raw.get("url"), "url")
        out["headers"] = _string_map(raw.get("headers"), "headers", _HEADER, "secret")
        if kind == SourceKind.HTTP_JSON:
            out["expression"] = require_text(
                str(raw.get("expression") or ""), "expression", max_length=1000
            )
        else:
            out["column"] = require_text(str(raw.get("column") or ""), "column", max_length=200)
            out["filter"] = _string_map(raw.get("filter"), "filter", re.compile(r"^.{1,200}$"), "")
    out["schedule"] = _schedule(raw.get("schedule") or {"every": "hour"})
    confidence = raw.get("confidence", DEFAULT_CONFIDENCE)
    require_value(
        isinstance(confidence, int) and not isinstance(confidence, bool) and 0 <= confidence <= 10,
        "confidence_out_of_range",
        "confidence (the one a fetched value carries until someone states one) is a whole "
        "number from 0 to 10",
        "confidence",
    )
    out["confidence"] = confidence
    return out


def describe(definition: Mapping[str, Any]) -> str:
    """A short, secret-free description: ``SQL on 'warehouse'``, ``JSON at https://…``."""
    kind = definition.get("kind")
    if kind == SourceKind.SQL:
        return f"SQL on '{definition.get('connection')}'"
    if kind == SourceKind.HTTP_JSON:
        return f"JSON at {definition.get('url')}"
    return f"CSV at {definition.get('url')}"


# ------------------------------------------------------------------ schedule


@dataclass(frozen=True)
class Schedule:
    every: Every
    at: time | None = None
    time_zone: str = "UTC"

    @classmethod
    def of(cls, definition: Mapping[str, Any]) -> Schedule:
        raw = definition.get("schedule") or {"every": "hour"}
        every = Every(raw.get("every", "hour"))
        if every == Every.HOUR:
            return cls(every)
        hours, minutes = (int(part) for part in str(raw["at"]).split(":"))
        return cls(every, time(hours, minutes), str(raw.get("time_zone") or "UTC"))

    def last_slot(self, now: datetime) -> datetime:
        """The latest scheduled instant at or before `now` (an aware datetime)."""
        if self.every == Every.HOUR:
            return now.replace(minute=0, second=0, microsecond=0)
        assert self.at is not None
        zone = ZoneInfo(self.time_zone)
        local = now.astimezone(zone)
        slot = datetime.combine(local.date(), self.at, tzinfo=zone)
        if slot > local:
            slot = datetime.combine(local.date() - timedelta(days=1), self.at, tzinfo=zone)
        return slot.astimezone(now.tzinfo)

    def local_day(self, now: datetime) -> date:
        """The calendar day `now` falls on in the schedule's time zone."""
        return now.astimezone(ZoneInfo(self.time_zone)).date()

    def is_due(self, last_attempt: datetime | None, now: datetime) -> bool:
        """Due when never tried, or when a scheduled instant passed since the last attempt."""
        return last_attempt is None or last_attempt < self.last_slot(now)

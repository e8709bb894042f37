"""Request and response bodies of the data-source routes (api/routes/sources.py): a source's
definition (docs/data-sources.md), its health, and what "sync now" did."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from api.schemas import Body, CommandResultOut, Line, Out, Text, examples

_SQL_EXAMPLE: dict[str, Any] = {
    "kind": "sql",
    "connection": "warehouse",
    "query": "SELECT count(*) FROM signups WHERE created_at >= date_trunc('quarter', now())",
    "schedule": {"every": "day", "at": "06:00", "time_zone": "Europe/Berlin"},
    "reason": "the sign-ups are counted in the warehouse",
}
_HTTP_EXAMPLE: dict[str, Any] = {
    "kind": "http_json",
    "url": "https://metrics.example.com/api/nps",
    "headers": {"Authorization": "metrics_token"},
    "expression": "data.latest.score",
    "schedule": {"every": "hour"},
    "reason": "the survey tool publishes the score",
}


class ScheduleIn(Body):
    every: Literal["hour", "day"] = Field(description="Sync every hour, or every day at `at`.")
    at: Line | None = Field(default=None, examples=["06:00"], description="HH:MM, local time.")
    time_zone: Line | None = Field(
        default=None, examples=["Europe/Berlin"], description="IANA time zone of `at` (UTC)."
    )


class SourceIn(Body):
    """A data source for a key result. `sql`: `connection` (a name from
    OKR_SOURCE_CONNECTIONS) and `query` (one row, one number); `http_json`: `url`, `headers`
    (header → a secret's name from OKR_SOURCE_SECRETS) and `expression` (JMESPath); `csv`:
    `url`, `headers`, `column` and `filter` (column → value; the last matching row counts)."""

    kind: Literal["sql", "http_json", "csv"]
    connection: Line | None = Field(default=None, max_length=63)
    query: Text | None = Field(default=None, max_length=10_000)
    url: Line | None = Field(default=None, max_length=2000)
    headers: dict[str, Line] | None = None
    expression: Line | None = Field(default=None, max_length=1000)
    column: Line | None = Field(default=None, max_length=200)
    filter: dict[str, Line] | None = None
    schedule: ScheduleIn | None = Field(default=None, description="Every hour if left out.")
    confidence: int | None = Field(
        default=None,
        ge=0,
        le=10,
        description="The confidence a fetched value carries until someone states one (5).",
    )
    reason: Text = Field(min_length=1, max_length=2000, description="Why it follows this source.")

    model_config = examples(_SQL_EXAMPLE, _HTTP_EXAMPLE)

    def definition(self) -> dict[str, Any]:
        return self.model_dump(exclude={"reason"}, exclude_none=True)


class SourceAttached(CommandResultOut):
    key_result_id: UUID
    source_id: UUID = Field(description="The source; its check-ins' actor is `source:<id>`.")


class KpiSourceAttached(CommandResultOut):
    source_id: UUID = Field(description="The source; its measurements' actor is `source:<id>`.")


class SourceHealthOut(Out):
    health: str = Field(
        examples=["never", "ok", "failing", "waiting"],
        description="`waiting`: fetched, but the key result takes no check-in now.",
    )
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_value: float | None = None
    last_sha256: str | None = None
    last_rule: str | None = Field(default=None, description="The rule the last failure broke.")
    last_error: str | None = None
    failing_since: datetime | None = None
    failures: int = 0


class SourceOut(Out):
    objective_id: UUID
    key_result_id: UUID
    source_id: UUID
    actor: str = Field(description="The actor of the check-ins it writes.")
    definition: dict[str, Any] = Field(description="Secret-free: secrets are named, not held.")
    description: str
    health: SourceHealthOut


class KpiSourceOut(Out):
    kpi_id: UUID
    source_id: UUID
    actor: str = Field(description="The actor of the measurements it records.")
    definition: dict[str, Any] = Field(description="Secret-free: secrets are named, not held.")
    description: str
    health: SourceHealthOut


class SyncOut(Out):
    source_id: UUID
    health: Literal["ok"]
    value: float | None
    written: bool = Field(description="False: the value in force was that value already.")
    written_id: UUID | None = Field(
        default=None, description="The check-in (or the KPI's measurement) written."
    )
    position: int | None = Field(default=None, description="Where the write landed.")

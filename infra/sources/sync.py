"""Syncing key results and KPIs with their data sources: on demand ("sync now") and on their
schedule.

A sync fetches the source's value and hands it to the ledger as a check-in (for a KPI: the
measurement of the day, corrected if the value changes later that day) whose actor is the
source (`source:<id>`) and whose provenance records the source, the fetch time and the SHA-256
of what was fetched; an unchanged value writes nothing (the domain decides, against the value in
force). A failing fetch never raises out of the scheduler: the source's health and last error
are kept in the plain table `okrledger_source_state` (machinery, not a decision: no event).

**One writer per source.** Each sync holds its source's row in that table (`SELECT … FOR
UPDATE`) from before the fetch until its health is written, so several `okr serve` processes
(and a "sync now" beside the scheduler) never fetch and write the same source at once: the
scheduler skips a row another process holds (`SKIP LOCKED`) and re-checks under the lock that
the source is still due; "sync now" waits for the row, then finds the value already in force.

**Telling the owner.** A failing source is a row whose `health` is `failing`, with the time
it started failing, how many fetches failed in a row and the last error (`SourceSync.failing`).
The sync that records the transition to failing writes one `source_failing` notice per owner to
the notifier's outbox in the same transaction (and the one that records the recovery one
`source_recovered`), with ids from the failure's `failing_since`, so retries and other
processes tell each owner once per failure; the notifier sends them as any notice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import IntegrityError
from eventsourcing.postgres import PostgresDatastore, PostgresRecorder
from eventsourcing.utils import get_topic
from psycopg.sql import SQL, Literal

from domain.application import CommandResult, OkrLedger
from domain.base import CommandContext
from domain.cycle import Phase
from domain.errors import OkrError, RuleViolated
from domain.kpi import Kpi
from domain.objective import Objective, Status
from domain.source import Schedule, describe, source_actor
from infra.notify.store import NoticeStore, notice_store_of
from infra.repeating import Repeating
from infra.settings import Settings
from infra.sources.fetch import SourceFailure, fetch
from infra.tables import CreatedOnce, OnePer, execute, qualified
from projections.notices import Notice, source_notices
from projections.staleness import SourceProblem

log = logging.getLogger(__name__)

TABLE = "okrledger_source_state"
TOPICS = (
    get_topic(Objective.KeyResultSourceAttached),
    get_topic(Objective.KeyResultSourceDetached),
    get_topic(Kpi.SourceAttached),
    get_topic(Kpi.SourceDetached),
)

Clock = Callable[[], datetime]


class Health:
    NEVER = "never"
    """Attached, not fetched yet."""
    OK = "ok"
    FAILING = "failing"
    """The last fetch gave no number (timeout, HTTP error, SQL error, not a number …)."""
    WAITING = "waiting"
    """The value was fetched but the key result takes no check-in now (a draft objective, a
    cycle in planning or closed)."""


@dataclass(frozen=True)
class SourceState:
    """A source's health, as the table keeps it."""

    source_id: UUID
    aggregate_id: UUID
    """The objective whose key result follows the source, or the KPI."""
    key_result_id: UUID | None
    """None for a KPI's source."""
    health: str
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_value: float | None
    last_sha256: str | None
    last_rule: str | None
    last_error: str | None
    failing_since: datetime | None
    failures: int

    def as_json(self) -> dict[str, Any]:
        def instant(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "source_id": str(self.source_id),
            "health": self.health,
            "last_attempt_at": instant(self.last_attempt_at),
            "last_success_at": instant(self.last_success_at),
            "last_value": self.last_value,
            "last_sha256": self.last_sha256,
            "last_rule": self.last_rule,
            "last_error": self.last_error,
            "failing_since": instant(self.failing_since),
            "failures": self.failures,
        }


@dataclass(frozen=True)
class Followed:
    """A key result (of an objective) or a KPI that follows a source."""

    aggregate_id: UUID
    key_result_id: UUID | None
    """None: the aggregate is a KPI."""
    source_id: UUID
    definition: dict[str, Any]


@dataclass(frozen=True)
class SyncOutcome:
    source_id: UUID
    health: str
    value: float | None = None
    result: CommandResult | None = None
    """The check-in written; None when the value was unchanged (or nothing was fetched)."""
    rule: str | None = None
    error: str | None = None
    sha256: str | None = None
    """SHA-256 of what was fetched, when something was."""


class SourceSync:
    """Syncs key results with their sources, over the event store's own connection pool."""

    def __init__(self, ledger: OkrLedger, settings: Settings, clock: Clock | None = None) -> None:
        recorder = ledger.recorder
        assert isinstance(recorder, PostgresRecorder), "data sources need the PostgreSQL store"
        self.ledger = ledger
        self.settings = settings
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.datastore: PostgresDatastore = recorder.datastore
        self._table = qualified(self.datastore, TABLE)
        self._tables = CreatedOnce(
            self.datastore,
            self._table,
            SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                "source_id uuid PRIMARY KEY, aggregate_id uuid NOT NULL, "
                "key_result_id uuid, health text NOT NULL, "
                "last_attempt_at timestamptz, last_success_at timestamptz, "
                "last_value double precision, last_sha256 text, last_rule text, "
                "last_error text, failing_since timestamptz, "
                "failures integer NOT NULL DEFAULT 0)"
            ).format(self._table),
        )
        self._lock = threading.Lock()
        self._position: int | None = None
        self._candidates: set[UUID] = set()
        self.notices: NoticeStore | None = notice_store_of(recorder)

    # ------------------------------------------------------------------ table

    def create_table(self) -> None:
        self._tables.ensure()

    def states(self, source_ids: list[UUID]) -> dict[UUID, SourceState]:
        if not source_ids:
            return {}
        self.create_table()
        with self.datastore.get_connection() as conn:
            rows = conn.execute(
                SQL("SELECT * FROM {} WHERE source_id = ANY(%s)").format(self._table),
                (source_ids,),
            ).fetchall()
        return {row["source_id"]: SourceState(**row) for row in rows}

    def failing(self) -> list[SourceState]:
        """Every failing source, the longest failing first (the notifier's seam)."""
        self.create_table()
        with self.datastore.get_connection() as conn:
            rows = conn.execute(
                SQL("SELECT * FROM {} WHERE health = %s ORDER BY failing_since").format(
                    self._table
                ),
                (Health.FAILING,),
            ).fetchall()
        return [SourceState(**row) for row in rows]

    # -------------------------------------------------------------- followers

    def followed(self) -> list[Followed]:
        """Every live key result that follows a source (reads the log's attach and detach
        events from where the previous call stopped, then the objectives they name)."""
        with self._lock:
            recorder = self.ledger.recorder
            head = recorder.max_notification_id()
            while head is not None and (self._position or 0) < head:
                page = recorder.select_notifications(
                    start=self._position,
                    limit=1000,
                    stop=head,
                    topics=TOPICS,
                    inclusive_of_start=self._position is None,
                )
                self._candidates.update(UUID(str(n.originator_id)) for n in page)
                if len(page) < 1000:
                    self._position = head  # read up to the head: next time, only what is new
                    break
                self._position = page[-1].id
            candidates = sorted(self._candidates)
        found = []
        for aggregate_id in candidates:
            aggregate: object = self.ledger.repository.get(aggregate_id)
            if isinstance(aggregate, Kpi):
                if aggregate.source_id is not None and aggregate.source is not None:
                    found.append(
                        Followed(aggregate_id, None, aggregate.source_id, aggregate.source)
                    )
                continue
            assert isinstance(aggregate, Objective)
            for kr in aggregate.key_results.values():
                if kr.source_id is not None and kr.source is not None and not kr.removed:
                    found.append(Followed(aggregate_id, kr.id, kr.source_id, kr.source))
        return found

    def _trackable(self, followed: Followed) -> bool:
        """Whether the key result (or KPI) takes a value now: the scheduler skips it if not."""
        if followed.key_result_id is None:
            return not self.ledger.get_kpi(followed.aggregate_id).retired
        objective = self.ledger.get_objective(followed.aggregate_id)
        cycle = self.ledger.get_cycle(objective.cycle_id)
        return objective.status == Status.APPROVED and cycle.phase in (Phase.ACTIVE, Phase.GRADING)

    # ------------------------------------------------------------------- sync

    def sync_due(self) -> list[SyncOutcome]:
        """One scheduler round: sync every source whose scheduled time has come (skipping
        those another process is syncing, and key results that take no check-in now)."""
        outcomes = []
        for followed in self.followed():
            try:
                if not self._trackable(followed):
                    continue
                outcome = self._sync(followed, scheduled=True)
            except Exception:  # one source's bug never stops the others
                log.exception("data source %s: the sync failed", followed.source_id)
                continue
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def sync_now(self, objective_id: UUID, key_result_id: UUID) -> SyncOutcome:
        """Sync one key result now, whatever its schedule (waits for a sync running
        elsewhere, which then leaves this one nothing to write)."""
        kr = self.ledger.get_objective(objective_id).key_result(key_result_id)
        if kr.source_id is None or kr.source is None:
            raise RuleViolated(
                "no_source", f"key result '{kr.title}' follows no data source", "key_result_id"
            )
        outcome = self._sync(Followed(objective_id, kr.id, kr.source_id, kr.source))
        assert outcome is not None
        return outcome

    def sync_kpi_now(self, kpi_id: UUID) -> SyncOutcome:
        """Measure a KPI from its source now, whatever the schedule."""
        kpi = self.ledger.get_kpi(kpi_id)
        if kpi.source_id is None or kpi.source is None:
            raise RuleViolated("no_source", f"KPI '{kpi.name}' follows no data source")
        outcome = self._sync(Followed(kpi_id, None, kpi.source_id, kpi.source))
        assert outcome is not None
        return outcome

    def _sync(self, followed: Followed, *, scheduled: bool = False) -> SyncOutcome | None:
        self.create_table()
        if self.notices is not None:
            self.notices.setup()
        wait = self.settings.source_timeout_seconds * 2 + 5
        execute(
            self.datastore,
            SQL(
                "INSERT INTO {} (source_id, aggregate_id, key_result_id, health) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (source_id) DO NOTHING"
            ).format(self._table),
            (followed.source_id, followed.aggregate_id, followed.key_result_id, Health.NEVER),
        )
        with self.datastore.get_connection() as conn, conn.transaction():
            conn.execute(SQL("SET LOCAL lock_timeout = {}").format(Literal(int(wait * 1000))))
            try:
                row = conn.execute(
                    SQL("SELECT * FROM {} WHERE source_id = %s FOR UPDATE").format(self._table)
                    + (SQL(" SKIP LOCKED") if scheduled else SQL("")),
                    (followed.source_id,),
                ).fetchone()
            except psycopg.errors.LockNotAvailable:
                raise RuleViolated(
                    "sync_running", "this source is being synced already; try again shortly"
                ) from None
            if row is None:
                return None  # another process is syncing it right now
            state = SourceState(**row)
            now = self.clock()
            if scheduled and not Schedule.of(followed.definition).is_due(
                state.last_attempt_at, now
            ):
                return None
            outcome = self._fetch_and_take(followed, now)
            self._record(conn, state, outcome, now)
            self._tell_owners(conn, followed, state, outcome, now)
            return outcome

    def _fetch_and_take(self, followed: Followed, now: datetime) -> SyncOutcome:
        source_id = followed.source_id
        try:
            fetched = fetch(followed.definition, self.settings, now)
        except SourceFailure as failure:
            return SyncOutcome(source_id, Health.FAILING, rule=failure.rule, error=failure.message)
        except Exception as error:  # a fetch never crashes the caller
            log.exception("data source %s: the fetch failed unexpectedly", source_id)
            return SyncOutcome(
                source_id, Health.FAILING, rule="source_failed", error=type(error).__name__
            )
        ctx = CommandContext(
            actor=source_actor(source_id),
            provenance={
                "source_id": str(source_id),
                "source": describe(followed.definition),
                "kind": str(followed.definition.get("kind")),
                "fetched_at": fetched.fetched_at.isoformat(),
                "sha256": fetched.sha256,
            },
        )
        for attempt in (1, 2):
            try:
                result = self._take(followed, fetched.value, ctx)
            except IntegrityError:  # someone checked in at the same instant: read again
                if attempt == 2:
                    return SyncOutcome(
                        source_id,
                        Health.FAILING,
                        fetched.value,
                        rule="concurrent_write",
                        error="the key result changed while the value was written",
                    )
                continue
            except OkrError as refusal:
                return SyncOutcome(
                    source_id,
                    Health.WAITING,
                    fetched.value,
                    rule=refusal.rule,
                    error=refusal.message,
                    sha256=fetched.sha256,
                )
            return SyncOutcome(source_id, Health.OK, fetched.value, result, sha256=fetched.sha256)
        raise AssertionError("unreachable")

    def _take(self, followed: Followed, value: float, ctx: CommandContext) -> CommandResult | None:
        if followed.key_result_id is None:
            return self.ledger.take_kpi_fetched_value(
                followed.aggregate_id, followed.source_id, value, ctx
            )
        return self.ledger.take_fetched_value(
            followed.aggregate_id, followed.key_result_id, followed.source_id, value, ctx
        )

    def _record(self, conn: Any, state: SourceState, outcome: SyncOutcome, now: datetime) -> None:
        failing = outcome.health == Health.FAILING
        conn.execute(
            SQL(
                "UPDATE {} SET health = %s, last_attempt_at = %s, "
                "last_success_at = CASE WHEN %s THEN last_success_at ELSE %s END, "
                "last_value = COALESCE(%s, last_value), "
                "last_sha256 = COALESCE(%s, last_sha256), last_rule = %s, last_error = %s, "
                "failing_since = CASE WHEN %s THEN COALESCE(failing_since, %s) END, "
                "failures = CASE WHEN %s THEN failures + 1 ELSE 0 END "
                "WHERE source_id = %s"
            ).format(self._table),
            (
                outcome.health,
                now,
                failing,
                now,
                outcome.value,
                outcome.sha256,
                outcome.rule,
                outcome.error,
                failing,
                now,
                failing,
                state.source_id,
            ),
        )

    def _tell_owners(
        self, conn: Any, followed: Followed, state: SourceState, outcome: SyncOutcome, now: datetime
    ) -> None:
        """On the transition to failing, `source_failing` to the owners; on the way back,
        `source_recovered` (in the caller's transaction, beside the health it records)."""
        if self.notices is None:
            return
        failing = outcome.health == Health.FAILING
        if failing and state.failing_since is None:
            kind, since = "source_failing", now
        elif not failing and state.failing_since is not None:
            kind, since = "source_recovered", state.failing_since
        else:
            return
        notices = self.source_notices(kind, followed, since, outcome)
        with conn.cursor() as curs:
            self.notices.insert(curs, notices)

    def source_notices(
        self, kind: str, followed: Followed, since: datetime, outcome: SyncOutcome
    ) -> list[Notice]:
        """The notices a source's failure (or recovery) gives: a key result's owner (the
        owning person, or the owning team's managers), a KPI's owner. The error is the fetch's
        own words, which never hold a connection URL or a secret."""
        data: dict[str, str] = {}
        if kind == "source_failing":
            data = {"rule": outcome.rule or "", "error": outcome.error or ""}
        if followed.key_result_id is None:
            kpi = self.ledger.get_kpi(followed.aggregate_id)
            recipients = [kpi.owner_person_id]
            objective_id = None
            link = f"/kpis/{kpi.id}"
            data |= {"kpi_id": str(kpi.id), "what": f"KPI “{kpi.name}”"}
        else:
            objective = self.ledger.get_objective(followed.aggregate_id)
            if objective.owner_person_id is not None:
                recipients = [objective.owner_person_id]
            elif objective.owner_team_id is not None:
                recipients = sorted(self.ledger.get_team(objective.owner_team_id).managers)
            else:
                recipients = []
            kr = objective.key_results.get(followed.key_result_id)
            objective_id = objective.id
            link = f"/objectives/{objective.id}"
            data |= {"key_result_id": str(followed.key_result_id)}
            if kr is not None:
                data["what"] = f"key result “{kr.title}”"
        return source_notices(
            kind,
            recipients,
            source_id=followed.source_id,
            failing_since=since.isoformat(),
            position=self.ledger.recorder.max_notification_id() or 0,
            objective_id=objective_id,
            link=link,
            data=data,
        )


# ------------------------------------------------------------------ processes

_SYNCS: OnePer[OkrLedger, SourceSync] = OnePer()


def source_sync_of(ledger: OkrLedger, settings: Settings) -> SourceSync:
    """The one `SourceSync` of a ledger in this process."""
    return _SYNCS.get(ledger, lambda: SourceSync(ledger, settings))


class SourceScheduler(Repeating):
    """`okr serve`'s chore: every `source_interval_seconds`, sync the sources that are due."""

    def __init__(self, sync: SourceSync, interval: float) -> None:
        super().__init__("okr-source-scheduler", interval)
        self.sync = sync

    def round(self) -> None:
        self.sync.sync_due()


def start_source_scheduler(ledger: OkrLedger, settings: Settings) -> SourceScheduler | None:
    """The scheduler (None when `source_interval_seconds` is 0). With no source defined, a
    round reads the log's few new attach events and nothing else."""
    if not settings.source_interval_seconds or not isinstance(ledger.recorder, PostgresRecorder):
        return None
    scheduler = SourceScheduler(source_sync_of(ledger, settings), settings.source_interval_seconds)
    scheduler.start()
    return scheduler


def source_problems(ledger: OkrLedger, settings: Settings) -> list[SourceProblem]:
    """The failing sources key results still follow, as `/stale` lists them (none where the
    store is not PostgreSQL)."""
    if not isinstance(ledger.recorder, PostgresRecorder):
        return []

    def still_followed(state: SourceState) -> UUID | None:
        """The key result, if it still follows this source."""
        if state.key_result_id is None:
            return None
        kr = ledger.get_objective(state.aggregate_id).key_results.get(state.key_result_id)
        return kr.id if kr is not None and kr.source_id == state.source_id else None

    return [
        SourceProblem(
            source_id=state.source_id,
            objective_id=state.aggregate_id,
            key_result_id=key_result_id,
            rule=state.last_rule,
            error=state.last_error,
            failing_since=state.failing_since,
            failures=state.failures,
        )
        for state in source_sync_of(ledger, settings).failing()
        if (key_result_id := still_followed(state)) is not None
    ]

"""Check-in reminders: which reminders time alone makes due, decided by a pure function.

Given the state of the log (`RemindersState`: cycles, approved key results and their latest
check-in, teams, who is inactive), each person's time zone and an instant `now`, `due_reminders`
says which reminders are due. The scheduler (`infra/notify/reminders.py`) only runs it and
writes what it returns to the notifier's outbox; a notice's id is a uuid5 of its kind,
recipient, key result and period, so running it twice, or in several processes, writes once.

The rules (issue 17, docs/notifications.md "Reminders"):

- A cycle's check-in **periods** follow its cadence in whole weeks (weekly 7 days, biweekly 14,
  monthly 35: the cadence's days rounded up to weeks, so a period always starts on a Monday),
  counted from the Monday on or before the cycle starts. A period begins at 09:00 local time on its first day in the
  recipient's own time zone (`ReminderPolicy.at`), so a weekly cycle reminds on Monday morning
  wherever the person is, on either side of a daylight-saving change.
- At the start of a period, each owner of an approved key result of an active cycle that had
  **no check-in during the whole previous period** gets `check_in_due` (a check-in dated in
  the previous period or since, even minutes before the reminder, skips it; a key result
  approved during the previous period is not yet due).
- `grace_days` after the start (09:00 local), still without a check-in: `check_in_overdue`
  to the same owners; `2 × grace_days` after: `check_in_escalated` to the team's managers
  (of the owning team; for a person's objective, of the teams the person belongs to). A stage
  that would fall into the next period is not sent (that period starts over).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5
from zoneinfo import ZoneInfo

from domain.cycle import Cadence, Cycle, Phase
from domain.objective import Objective
from domain.person import Person
from domain.scoring import progress, weighted_mean
from projections.base import Logged
from projections.changes import added_key_results, edited_key_results, removed_key_results
from projections.notices import UPDATES, NoticesState, ObjectiveFacts, managers_of_owner
from projections.staleness import (
    StaleKeyResult,
    StalenessFold,
    StalenessState,
    WatchedCycle,
    WatchedObjective,
    stale_key_results,
)

REMINDER_KINDS = ("check_in_due", "check_in_overdue", "check_in_escalated")
PHASE_KINDS = ("planning_opened", "grading_opened", "grading_due")


@dataclass(frozen=True, slots=True)
class ReminderPolicy:
    grace_days: int = 2
    """Days after a period's start before the second reminder (twice as many: the manager)."""
    at: time = time(9, 0)
    """The local time of day a period starts and reminders go out."""
    default_time_zone: str = "UTC"
    """The time zone of people who chose none."""


@dataclass
class RemindersState:
    """What deciding reminders needs, folded from the log by `remember`."""

    position: int = 0
    staleness: StalenessState = field(default_factory=StalenessState)
    people: NoticesState = field(default_factory=NoticesState)
    """Teams (members, managers) and who is deactivated or forgotten."""
    time_zones: dict[UUID, str] = field(default_factory=dict)
    """The time zone each person chose ("" or absent: the deployment's default)."""
    cycle_names: dict[UUID, str] = field(default_factory=dict)
    graded: set[UUID] = field(default_factory=set)
    """Objectives graded (they have no grading left to do)."""
    phase_since: dict[UUID, datetime] = field(default_factory=dict)
    """Cycle id → when its current phase began (the commit time of the event)."""
    moving: dict[UUID, MovingObjective] = field(default_factory=dict)
    """What the digest's movement needs per objective (see "the weekly digest" below)."""


_STALENESS = StalenessFold()


def remember(state: RemindersState, logged: Logged) -> None:
    """Move `state` past one event (events at or before its position change nothing)."""
    if logged.position <= state.position:
        return
    _STALENESS.apply(state.staleness, logged)
    event = logged.event
    update = UPDATES.get(type(event))
    if update is not None:
        update(state.people, event)
    if isinstance(event, Person.NotificationPreferencesChanged):
        state.time_zones[event.originator_id] = event.time_zone
    elif isinstance(event, Cycle.Planned):
        state.cycle_names[event.originator_id] = event.name
    elif isinstance(event, Objective.Graded):
        state.graded.add(event.originator_id)
    if isinstance(event, Cycle.Planned | Cycle.Started | Cycle.GradingOpened | Cycle.Reopened):
        state.phase_since[event.originator_id] = logged.recorded_at
    if type(event) in _MOVES:
        _move(state.moving, event, logged.recorded_at)
    state.people.position = logged.position
    state.position = logged.position


@dataclass(frozen=True, slots=True)
class Reminder:
    """One reminder due: who, about which key result, for which period, at which stage."""

    kind: str
    recipient_id: UUID
    objective_id: UUID
    key_result_id: UUID
    period_start: date
    """The first day of the period without a check-in (local to the recipient)."""
    owner_id: UUID | None = None
    """For an escalation about a person's objective: that person."""

    @property
    def id(self) -> UUID:
        return reminder_id(self.kind, self.recipient_id, self.key_result_id, self.period_start)

    @property
    def link(self) -> str:
        return f"/objectives/{self.objective_id}"

    @property
    def data(self) -> dict[str, str]:
        data = {"key_result_id": str(self.key_result_id), "period": self.period_start.isoformat()}
        if self.owner_id is not None:
            data["owner_id"] = str(self.owner_id)
        return data


def reminder_id(kind: str, recipient_id: UUID, key_result_id: UUID, period_start: date) -> UUID:
    """Deterministic: a reminder decided twice (or by two schedulers) has one id."""
    return uuid5(
        NAMESPACE_URL,
        f"okrledger:reminder:{kind}:{recipient_id}:{key_result_id}:{period_start.isoformat()}",
    )


def period_anchor(cycle: WatchedCycle) -> date:
    """The first day of the cycle's first period: the Monday on or before its start."""
    return cycle.starts_on - timedelta(days=cycle.starts_on.weekday())


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """`at` o'clock local time on `day`, as an instant in UTC."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def period_length(cycle: WatchedCycle) -> timedelta:
    """The cadence's days rounded up to whole weeks."""
    return timedelta(weeks=-(-Cadence(cycle.cadence).days // 7))


def latest_period_start(
    cycle: WatchedCycle, zone: ZoneInfo, now: datetime, at: time
) -> date | None:
    """The first day of the latest period that has begun by `now` (local `at` o'clock on it),
    or None before the second period (a reminder is about a whole period gone by)."""
    days = period_length(cycle).days
    anchor = period_anchor(cycle)
    today = now.astimezone(zone).date()
    index = (today - anchor).days // days
    start = anchor + timedelta(days=index * days)
    if now < local_instant(start, at, zone):
        index -= 1
        start -= timedelta(days=days)
    return start if index >= 1 else None


def _owners(state: RemindersState, objective: WatchedObjective) -> list[UUID]:
    if objective.owner_person_id is not None:
        return [objective.owner_person_id]
    if objective.owner_team_id is not None:
        return list(state.people.teams.get(objective.owner_team_id, {}))
    return []


def _managers(state: RemindersState, objective: WatchedObjective) -> list[UUID]:
    facts = ObjectiveFacts(objective.owner_team_id, objective.owner_person_id)
    return managers_of_owner(state.people, facts)


def due_reminders(
    state: RemindersState,
    time_zones: Mapping[UUID, str],
    now: datetime,
    policy: ReminderPolicy = ReminderPolicy(),
) -> list[Reminder]:
    """The reminders due at `now` (see the module's docstring); `time_zones` maps people to
    their IANA zone ("" or absent: the policy's default). Sorted by kind, recipient, key result."""
    zones: dict[str, ZoneInfo] = {}

    def zone_of(person: UUID) -> ZoneInfo:
        name = time_zones.get(person) or policy.default_time_zone
        if name not in zones:
            zones[name] = ZoneInfo(name)
        return zones[name]

    found: dict[UUID, Reminder] = {}
    inactive = state.people.inactive
    grace = timedelta(days=policy.grace_days)
    for objective in state.staleness.objectives.values():
        cycle = state.staleness.cycles.get(objective.cycle_id)
        if (
            cycle is None
            or cycle.phase != Phase.ACTIVE.value
            or objective.approved_on is None
            or objective.abandoned
        ):
            continue
        length = period_length(cycle)
        since = max(cycle.starts_on, objective.approved_on)
        stages: list[tuple[str, UUID, timedelta, UUID | None]] = [
            ("check_in_due", person, timedelta(0), None) for person in _owners(state, objective)
        ]
        stages += [
            ("check_in_overdue", person, grace, None) for person in _owners(state, objective)
        ]
        stages += [
            ("check_in_escalated", manager, 2 * grace, objective.owner_person_id)
            for manager in _managers(state, objective)
        ]
        for kind, person, after, owner in stages:
            if person in inactive or (owner is not None and owner in inactive):
                continue
            zone = zone_of(person)
            start = latest_period_start(cycle, zone, now, policy.at)
            if start is None or after >= length:
                continue
            previous = start - length
            if previous > cycle.ends_on or since > previous:
                continue
            if now < local_instant(start + after, policy.at, zone):
                continue
            for kr in objective.key_results.values():
                if kr.removed or (
                    kr.last_check_in_on is not None and kr.last_check_in_on >= previous
                ):
                    continue
                reminder = Reminder(
                    kind, person, objective.objective_id, kr.key_result_id, previous, owner
                )
                found[reminder.id] = reminder
    return sorted(found.values(), key=lambda r: (r.kind, str(r.recipient_id), str(r.key_result_id)))


# ---------------------------------------------------------------- cycle phases


@dataclass(frozen=True, slots=True)
class PhaseNotice:
    """A cycle's phase asks someone to act: plan, or grade an objective."""

    kind: str
    recipient_id: UUID
    cycle_id: UUID
    cycle_name: str
    objective_id: UUID | None = None

    @property
    def id(self) -> UUID:
        return uuid5(
            NAMESPACE_URL,
            f"okrledger:phase:{self.kind}:{self.recipient_id}:{self.cycle_id}:{self.objective_id}",
        )

    @property
    def link(self) -> str:
        if self.objective_id is None:
            return f"/objectives/new?cycle={self.cycle_id}"
        return f"/objectives/{self.objective_id}"

    @property
    def data(self) -> dict[str, str]:
        return {"cycle_id": str(self.cycle_id), "cycle": self.cycle_name}


def phase_notices(
    state: RemindersState,
    time_zones: Mapping[UUID, str],
    now: datetime,
    policy: ReminderPolicy = ReminderPolicy(),
) -> list[PhaseNotice]:
    """Who a cycle's phase asks to act at `now`:

    - `planning_opened`: a cycle in planning → the managers of every team (they plan theirs);
    - `grading_opened`: a cycle in grading → the owners of each approved objective not graded;
    - `grading_due`: `grace_days` after the cycle's last day, 09:00 in the owner's time zone,
      the cycle active or grading → the owners of each approved objective still not graded.

    One of each per (person, cycle, objective), however often it is asked."""
    found: dict[UUID, PhaseNotice] = {}
    inactive = state.people.inactive
    managers = {
        person
        for members in state.people.teams.values()
        for person, role in members.items()
        if role == "manager"
    }
    for cycle_id, planned in state.staleness.cycles.items():
        name = state.cycle_names.get(cycle_id, "")
        if planned.phase == Phase.PLANNING.value:
            for person in managers - inactive:
                notice = PhaseNotice("planning_opened", person, cycle_id, name)
                found[notice.id] = notice
    for objective in state.staleness.objectives.values():
        cycle = state.staleness.cycles.get(objective.cycle_id)
        if (
            cycle is None
            or objective.approved_on is None
            or objective.abandoned
            or objective.objective_id in state.graded
            or cycle.phase not in (Phase.ACTIVE.value, Phase.GRADING.value)
        ):
            continue
        name = state.cycle_names.get(objective.cycle_id, "")
        for person in _owners(state, objective):
            if person in inactive:
                continue
            kinds = ["grading_opened"] if cycle.phase == Phase.GRADING.value else []
            zone = ZoneInfo(time_zones.get(person) or policy.default_time_zone)
            due = cycle.ends_on + timedelta(days=policy.grace_days)
            if now >= local_instant(due, policy.at, zone):
                kinds.append("grading_due")
            for kind in kinds:
                notice = PhaseNotice(kind, person, objective.cycle_id, name, objective.objective_id)
                found[notice.id] = notice
    return sorted(found.values(), key=lambda n: (n.kind, str(n.recipient_id), str(n.objective_id)))


# ---------------------------------------------------------------- the weekly digest

MOVEMENT_KEPT = timedelta(days=15)
"""How far back the movement's memory reaches: a week and a day, and some."""


@dataclass(slots=True)
class CheckInRecord:
    effective_on: date
    recorded_at: datetime
    value: float
    confidence: int
    superseded_at: datetime | None = None
    """When a correction replaced it (it was in force until then, if it was the latest)."""


@dataclass(slots=True)
class MovingKeyResult:
    measure: str
    direction: str
    baseline: float | None
    target: float | None
    weight: float
    removed: bool = False
    check_ins: dict[UUID, CheckInRecord] = field(default_factory=dict)
    """Check-ins recorded in the last `MOVEMENT_KEPT`, and the one in force before them."""


@dataclass(slots=True)
class MovingObjective:
    key_results: dict[UUID, MovingKeyResult] = field(default_factory=dict)
    changes: list[tuple[datetime, str]] = field(default_factory=list)
    """(when, "approved" | "amended" | "graded") in the last `MOVEMENT_KEPT`."""


def in_force(kr: MovingKeyResult, at: datetime) -> CheckInRecord | None:
    """The check-in in force at `at` as it was known then: recorded by then and not yet
    superseded, the latest effective one (the later recorded on a tie)."""
    known = [
        c
        for c in kr.check_ins.values()
        if c.recorded_at <= at and (c.superseded_at is None or c.superseded_at > at)
    ]
    return max(known, key=lambda c: (c.effective_on, c.recorded_at), default=None)


_PRUNE_FROM = 8
"""Check-ins a key result remembers before the ones older than `MOVEMENT_KEPT` are dropped."""


def _forget_old(kr: MovingKeyResult, now: datetime) -> None:
    cutoff = now - MOVEMENT_KEPT
    keep = in_force(kr, cutoff)
    for check_in_id, c in list(kr.check_ins.items()):
        if c.recorded_at <= cutoff and c is not keep:
            del kr.check_ins[check_in_id]


def _move(moving: dict[UUID, MovingObjective], event: Any, at: datetime) -> None:
    objective = moving.get(event.originator_id)
    if objective is None:
        objective = moving[event.originator_id] = MovingObjective()
    krs = objective.key_results
    kind = type(event)
    change = ""
    if kind is Objective.ProgressReported or kind is Objective.CheckInCorrected:
        kr = krs[event.key_result_id]
        if kind is Objective.CheckInCorrected and event.supersedes in kr.check_ins:
            kr.check_ins[event.supersedes].superseded_at = at
        kr.check_ins[event.check_in_id] = CheckInRecord(
            event.effective_on, at, event.value, event.confidence
        )
        if len(kr.check_ins) > _PRUNE_FROM:
            _forget_old(kr, at)
    elif kind is Objective.KeyResultAdded:
        krs[event.key_result_id] = MovingKeyResult(
            event.measure, event.direction, event.baseline, event.target, event.weight
        )
    elif kind is Objective.KeyResultRetargeted:
        krs[event.key_result_id].baseline = event.baseline
        krs[event.key_result_id].target = event.target
    elif kind is Objective.KeyResultReweighted:
        krs[event.key_result_id].weight = event.weight
    elif kind is Objective.KeyResultRemoved:
        krs[event.key_result_id].removed = True
    elif kind is Objective.Approved:
        change = "approved"
    elif kind is Objective.CounterProposalAccepted or kind is Objective.AmendmentApproved:
        change = "approved" if kind is Objective.CounterProposalAccepted else "amended"
        for kr_id, edits in edited_key_results(event.changes).items():
            for name in ("measure", "direction", "baseline", "target", "weight"):
                if name in edits:
                    setattr(krs[kr_id], name, edits[name])
        for added in added_key_results(event.changes):
            krs[added.key_result_id] = MovingKeyResult(
                added.measure, added.direction, added.baseline, added.target, added.weight
            )
        for kr_id in removed_key_results(event.changes):
            krs[kr_id].removed = True
    elif kind is Objective.Graded:
        change = "graded"
    if change:
        kept = [(t, c) for t, c in objective.changes[-_CHANGES_KEPT:] if t > at - MOVEMENT_KEPT]
        objective.changes = [*kept, (at, change)]


_CHANGES_KEPT = 16
"""State changes an objective remembers at most (a digest lists those of one week)."""

_MOVES: frozenset[type[Any]] = frozenset(
    {
        Objective.KeyResultAdded,
        Objective.KeyResultRetargeted,
        Objective.KeyResultReweighted,
        Objective.KeyResultRemoved,
        Objective.ProgressReported,
        Objective.CheckInCorrected,
        Objective.Approved,
        Objective.CounterProposalAccepted,
        Objective.AmendmentApproved,
        Objective.Graded,
    }
)
"""The events the movement follows (by exact type: `isinstance` on event classes is slow)."""


def _progress_at(objective: MovingObjective, at: datetime) -> float | None:
    pairs = []
    for kr in objective.key_results.values():
        if kr.removed:
            continue
        current = in_force(kr, at)
        value = current.value if current else None
        pairs.append((progress(kr.measure, kr.direction, kr.baseline, kr.target, value), kr.weight))
    return weighted_mean(pairs)


def _confidence_at(objective: MovingObjective, at: datetime) -> float | None:
    found = [
        c.confidence
        for kr in objective.key_results.values()
        if not kr.removed and (c := in_force(kr, at)) is not None
    ]
    return round(sum(found) / len(found), 1) if found else None


@dataclass(frozen=True, slots=True)
class Movement:
    """How one of a person's objectives moved between `since` and `until`. Progress is
    measured against the key results' definitions now (the movement is that of check-ins);
    confidence is the mean of the key results' confidences in force."""

    objective_id: UUID
    title: str
    progress_then: float | None
    progress_now: float | None
    confidence_then: float | None
    confidence_now: float | None
    changes: tuple[str, ...]

    @property
    def moved(self) -> bool:
        return (
            self.progress_then != self.progress_now
            or self.confidence_then != self.confidence_now
            or bool(self.changes)
        )

    @property
    def progress_delta(self) -> float:
        return (self.progress_now or 0.0) - (self.progress_then or 0.0)

    @property
    def link(self) -> str:
        return f"/objectives/{self.objective_id}"


def movement_for(
    state: RemindersState, person_id: UUID, since: datetime, until: datetime
) -> list[Movement]:
    """The movement from `since` to `until` of each objective the person owns, alone or with
    a team (approved or approved during the week, not abandoned, its cycle not closed), by
    title. Only `MOVEMENT_KEPT` back from the latest check-in is remembered."""
    teams = state.people.teams
    found: list[Movement] = []
    for watched in state.staleness.objectives.values():
        if not (
            watched.owner_person_id == person_id
            or (
                watched.owner_team_id is not None
                and person_id in teams.get(watched.owner_team_id, {})
            )
        ):
            continue
        cycle = state.staleness.cycles.get(watched.cycle_id)
        objective = state.moving.get(watched.objective_id)
        if (
            cycle is None
            or objective is None
            or watched.approved_on is None
            or watched.abandoned
            or cycle.phase == Phase.CLOSED.value
        ):
            continue
        found.append(
            Movement(
                watched.objective_id,
                watched.title,
                _progress_at(objective, since),
                _progress_at(objective, until),
                _confidence_at(objective, since),
                _confidence_at(objective, until),
                tuple(c for t, c in objective.changes if since < t <= until),
            )
        )
    return sorted(found, key=lambda m: (m.title, str(m.objective_id)))


def digest_week(zone: ZoneInfo, now: datetime, at: time) -> date | None:
    """The Monday whose weekly digest is due at `now`: from `at` o'clock local time that Monday
    for one day (a scheduler down all that day skips the week; what it held waits for the
    next), else None."""
    local = now.astimezone(zone)
    monday = local.date() - timedelta(days=local.weekday())
    start = local_instant(monday, at, zone)
    return monday if start <= now < start + timedelta(days=1) else None


def digest_id(person_id: UUID, monday: date) -> UUID:
    """One digest per person and week, whoever sends it."""
    return uuid5(NAMESPACE_URL, f"okrledger:digest:{person_id}:{monday.isoformat()}")


def stale_for(state: RemindersState, person_id: UUID, today: date) -> list[StaleKeyResult]:
    """The stale key results (`projections.staleness`) the person owns, alone or with a team."""
    teams = state.people.teams
    return [
        stale
        for stale in stale_key_results(state.staleness, today=today)
        if stale.owner_person_id == person_id
        or (stale.owner_team_id is not None and person_id in teams.get(stale.owner_team_id, {}))
    ]

"""Check-in reminders decided by the pure `projections.reminders.due_reminders`: one per owner
per period, none after a check-in, escalation after the grace, 09:00 local on both sides of a
daylight-saving change."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.notices import NoticesState
from projections.reminders import (
    ReminderPolicy,
    RemindersState,
    due_reminders,
    latest_period_start,
    phase_notices,
)
from projections.staleness import (
    StalenessState,
    WatchedCycle,
    WatchedKeyResult,
    WatchedObjective,
)

BERLIN = "Europe/Berlin"


class Org:
    """A weekly cycle from Monday 2027-01-04 to 2027-12-26; a team (manager `boss`, member
    `ann`) and `bob`, each owning one approved objective with one key result."""

    def __init__(self, cadence: str = "weekly", starts_on: date = date(2027, 1, 4)) -> None:
        self.cycle = uuid4()
        self.team = uuid4()
        self.boss, self.ann, self.bob = uuid4(), uuid4(), uuid4()
        self.state = RemindersState(
            staleness=StalenessState(
                cycles={self.cycle: WatchedCycle(starts_on, date(2027, 12, 26), cadence, "active")}
            ),
            people=NoticesState(teams={self.team: {self.boss: "manager", self.ann: "member"}}),
        )
        self.kr: dict[UUID, UUID] = {}
        self.objective: dict[UUID, UUID] = {}
        for person in (self.ann, self.bob):
            objective, kr = uuid4(), uuid4()
            self.objective[person], self.kr[person] = objective, kr
            self.state.staleness.objectives[objective] = WatchedObjective(
                objective,
                self.cycle,
                "o",
                None,
                person,
                approved_on=starts_on,
                key_results={kr: WatchedKeyResult(kr, "kr")},
            )

    def check_in(self, person: UUID, on: date) -> None:
        objective = self.state.staleness.objectives[self.objective[person]]
        objective.key_results[self.kr[person]].last_check_in_on = on

    def due(self, now: datetime, zones: dict[UUID, str] | None = None, **policy: object) -> set:
        return {
            (r.kind, r.recipient_id, r.period_start)
            for r in due_reminders(self.state, zones or {}, now, ReminderPolicy(**policy))  # type: ignore[arg-type]
        }


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_nothing_is_due_in_the_first_period() -> None:
    org = Org()
    assert org.due(utc(2027, 1, 10, 23, 0)) == set()


def test_a_week_without_a_check_in_is_due_on_monday_at_nine() -> None:
    org = Org()
    assert org.due(utc(2027, 1, 11, 8, 59)) == set()
    assert org.due(utc(2027, 1, 11, 9, 0)) == {
        ("check_in_due", org.ann, date(2027, 1, 4)),
        ("check_in_due", org.bob, date(2027, 1, 4)),
    }


def test_one_reminder_per_owner_per_week_and_none_after_a_check_in() -> None:
    org = Org()
    seen: set = set()
    now = utc(2027, 1, 4)
    while now < utc(2027, 2, 1, 12):  # four weeks, every hour
        if now.date() == date(2027, 1, 20):  # Wednesday of the third week: ann checks in
            org.check_in(org.ann, date(2027, 1, 20))
        seen |= {r for r in org.due(now, grace_days=2) if r[0] == "check_in_due"}
        now += timedelta(hours=1)
    weeks = [date(2027, 1, 4), date(2027, 1, 11), date(2027, 1, 18), date(2027, 1, 25)]
    # one each Monday (11, 18, 25 January, 1 February) about the week before
    assert sorted(p for _, who, p in seen if who == org.bob) == weeks
    # ann's check-in on the 20th covers the week of the 18th: the Monday after brings nothing
    # for it, and the week after is a new week without one.
    assert sorted(p for _, who, p in seen if who == org.ann) == [weeks[0], weeks[1], weeks[3]]


def test_a_check_in_just_before_the_reminder_skips_it() -> None:
    org = Org()
    org.check_in(org.bob, date(2027, 1, 11))  # Monday morning, before 09:00
    assert ("check_in_due", org.bob, date(2027, 1, 4)) not in org.due(utc(2027, 1, 11, 9))


def test_overdue_after_the_grace_then_the_manager() -> None:
    org = Org()
    monday = utc(2027, 1, 11, 9)
    assert {k for k, who, _ in org.due(monday, grace_days=2) if who == org.ann} == {"check_in_due"}
    wednesday = org.due(monday + timedelta(days=2), grace_days=2)
    assert ("check_in_overdue", org.ann, date(2027, 1, 4)) in wednesday
    assert not any(k == "check_in_escalated" for k, _, _ in wednesday)
    friday = org.due(monday + timedelta(days=4), grace_days=2)
    assert ("check_in_escalated", org.boss, date(2027, 1, 4)) in friday
    # bob belongs to no team: nobody to escalate to
    assert {who for k, who, _ in friday if k == "check_in_escalated"} == {org.boss}
    org.check_in(org.ann, date(2027, 1, 14))
    assert not any(who == org.ann for _, who, _ in org.due(monday + timedelta(days=4)))
    assert not any(k == "check_in_escalated" for k, _, _ in org.due(monday + timedelta(days=4)))


def test_inactive_people_are_not_reminded() -> None:
    org = Org()
    org.state.people.inactive.add(org.bob)
    assert {who for _, who, _ in org.due(utc(2027, 1, 11, 9))} == {org.ann}


def test_nine_oclock_berlin_on_both_sides_of_the_march_change() -> None:
    org = Org()
    zones = {org.ann: BERLIN, org.bob: BERLIN}
    # Monday 22 March 2027 (CET, UTC+1): 09:00 is 08:00 UTC.
    assert not any(p == date(2027, 3, 15) for *_, p in org.due(utc(2027, 3, 22, 7, 59), zones))
    assert any(p == date(2027, 3, 15) for *_, p in org.due(utc(2027, 3, 22, 8, 0), zones))
    # Summer time starts Sunday 28 March: Monday 29 March 09:00 CEST is 07:00 UTC.
    assert not any(p == date(2027, 3, 22) for *_, p in org.due(utc(2027, 3, 29, 6, 59), zones))
    assert any(p == date(2027, 3, 22) for *_, p in org.due(utc(2027, 3, 29, 7, 0), zones))


def test_nine_oclock_berlin_on_both_sides_of_the_october_change() -> None:
    org = Org()
    zones = {org.ann: BERLIN}
    # Monday 25 October 2027 (CEST, UTC+2): 09:00 is 07:00 UTC.
    assert (
        "check_in_due",
        org.ann,
        date(2027, 10, 18),
    ) not in org.due(utc(2027, 10, 25, 6, 59), zones)
    assert ("check_in_due", org.ann, date(2027, 10, 18)) in org.due(utc(2027, 10, 25, 7), zones)
    # Winter time from Sunday 31 October: Monday 1 November 09:00 CET is 08:00 UTC.
    assert ("check_in_due", org.ann, date(2027, 10, 25)) not in org.due(
        utc(2027, 11, 1, 7, 59), zones
    )
    assert ("check_in_due", org.ann, date(2027, 10, 25)) in org.due(utc(2027, 11, 1, 8), zones)
    # bob, without a zone, is reminded at 09:00 UTC (the default)
    assert ("check_in_due", org.bob, date(2027, 10, 25)) not in org.due(utc(2027, 11, 1, 8), zones)
    assert ("check_in_due", org.bob, date(2027, 10, 25)) in org.due(utc(2027, 11, 1, 9), zones)


ZONES = st.sampled_from(["UTC", BERLIN, "America/New_York", "Asia/Kolkata", "Pacific/Auckland"])
INSTANTS = st.datetimes(
    min_value=datetime(2027, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(
    now=INSTANTS,
    zone=ZONES,
    cadence=st.sampled_from(["weekly", "biweekly", "monthly"]),
    checked=st.one_of(st.none(), st.dates(date(2027, 1, 1), date(2027, 12, 31))),
)
def test_due_exactly_when_the_whole_previous_period_passed_without_a_check_in(
    now: datetime, zone: str, cadence: str, checked: date | None
) -> None:
    org = Org(cadence)
    if checked is not None:
        org.check_in(org.bob, checked)
    due = [r for r in org.due(now, {org.bob: zone}) if r[:2] == ("check_in_due", org.bob)]
    start = latest_period_start(
        org.state.staleness.cycles[org.cycle], ZoneInfo(zone), now, ReminderPolicy().at
    )
    if start is None or start - timedelta(days=len_of(cadence)) > date(2027, 12, 26):
        assert due == []
        return
    previous = start - timedelta(days=len_of(cadence))
    # the period starts on a Monday at 09:00 local, and has begun
    assert previous.weekday() == 0 and start.weekday() == 0
    began = datetime.combine(start, ReminderPolicy().at, tzinfo=ZoneInfo(zone))
    assert began <= now < began + timedelta(days=len_of(cadence), hours=1)
    expected = checked is None or checked < previous
    assert due == ([("check_in_due", org.bob, previous)] if expected else [])


@settings(max_examples=100, deadline=None)
@given(now=INSTANTS, zone=ZONES)
def test_deciding_twice_gives_the_same_ids(now: datetime, zone: str) -> None:
    org = Org()
    first = due_reminders(org.state, {org.ann: zone}, now)
    again = due_reminders(org.state, {org.ann: zone}, now)
    assert [r.id for r in first] == [r.id for r in again]
    assert len({r.id for r in first}) == len(first)


def len_of(cadence: str) -> int:
    return {"weekly": 7, "biweekly": 14, "monthly": 35}[cadence]


def _phases(org: Org, now: datetime, zones: dict[UUID, str] | None = None) -> set:
    return {
        (n.kind, n.recipient_id, n.objective_id)
        for n in phase_notices(org.state, zones or {}, now, ReminderPolicy(grace_days=2))
    }


def test_cycle_phases_ask_those_with_work_to_do() -> None:
    org = Org()
    cycle = org.state.staleness.cycles[org.cycle]
    cycle.phase = "planning"
    assert _phases(org, utc(2027, 1, 1)) == {("planning_opened", org.boss, None)}
    cycle.phase = "active"
    assert _phases(org, utc(2027, 12, 1)) == set()
    cycle.phase = "grading"
    ann_o, bob_o = org.objective[org.ann], org.objective[org.bob]
    assert _phases(org, utc(2027, 12, 27)) == {
        ("grading_opened", org.ann, ann_o),
        ("grading_opened", org.bob, bob_o),
    }
    org.state.graded.add(bob_o)
    # due two days after the last day (26 December), 09:00 local: Berlin an hour before UTC
    zones = {org.ann: BERLIN}
    assert ("grading_due", org.ann, ann_o) not in _phases(org, utc(2027, 12, 28, 7, 59), zones)
    assert _phases(org, utc(2027, 12, 28, 8), zones) == {
        ("grading_opened", org.ann, ann_o),
        ("grading_due", org.ann, ann_o),
    }


def test_phase_notices_have_one_id_each() -> None:
    org = Org()
    org.state.staleness.cycles[org.cycle].phase = "grading"
    first = phase_notices(org.state, {}, utc(2028, 1, 1))
    assert [n.id for n in first] == [n.id for n in phase_notices(org.state, {}, utc(2028, 2, 1))]
    assert len({n.id for n in first}) == len(first) == 4

"""A small organisation's first quarter, driven through the in-memory application.

Acme (Ada manages it) has a Platform team (Ben manages, Cy is a member). Q1 2025 runs from
1 January to 31 March, weekly check-ins, 0–1 scoring:

- Dec  9  Ada drafts O1 "Become the default OKR tool" for Acme: KR1 "Weekly active teams"
          (increase 10 → 40 teams, weight 2), KR2 "Public API launched" (milestone, weight 1);
          submits it to Ben.
- Dec 10  Ben approves O1. Ben drafts O2 "Make the platform boringly reliable" for Platform,
          aligned to KR1: KR3 "Core API availability" (at least 99.9 %), KR4 "Mean time to
          recover" (decrease 60 → 30 minutes); submits it to Ada.
- Dec 11  Ada requests changes; Ben retargets KR4 to 20 minutes and resubmits.
- Dec 12  Ada approves O2. Cy drafts O3 "Learn the tracing stack" (aspirational, private, owned
          by Cy, aligned to O2): KR5 "Tracing talk given" (milestone); submits it to Ben.
- Dec 13  Ben counter-proposes renaming KR5 "Tracing talk given at a meetup"; Cy accepts.
- Jan  1  The cycle starts.
- Jan 10  Check-ins: KR1 16 (confidence 7), KR3 99.95 (8), KR4 50 (5).
- Jan 17  KR1 22 (6). Jan 18: Ada corrects it to 20 ("counted our own test teams").
- Jan 20  Ada proposes lowering KR1's target to 32 ("the market is smaller than we thought").
- Jan 21  Ben approves the amendment ("fair, the data supports it").
- Jan 24  KR4 40 (8).
- Apr  1  Grading opens. Apr 2: KR1..KR4 graded from progress (0.5, 0, 1, 0.5); O2 graded 0.8.
- Apr  5  The cycle closes.

Times are fixed; each command is one minute after the previous one on its day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from eventsourcing.persistence import Notification

from domain.application import OkrLedger
from domain.base import CommandContext
from domain.cycle import Cadence, Scoring
from domain.objective import Kind, Perspective
from domain.scoring import Direction
from domain.team import MemberRole
from projections.base import Fold, Logged, S, fold
from tests.steps import draft, metric, milestone

ADMIN = "admin"
Q1_START = date(2025, 1, 1)
Q1_END = date(2025, 3, 31)


class Ledger:
    """The in-memory application with a controlled clock, and its log as `Logged` events."""

    def __init__(
        self,
        start: datetime = datetime(2024, 12, 2, 9, 0, tzinfo=UTC),
        env: dict[str, str] | None = None,
    ) -> None:
        self.app = OkrLedger(env={"PERSISTENCE_MODULE": "eventsourcing.popo", **(env or {})})
        self.clock = start

    def by(self, actor: UUID | str, on: date | None = None) -> CommandContext:
        """A context for `actor`, one minute after the last one (or at 09:00 on `on`)."""
        if on is not None and on > self.clock.date():
            self.clock = datetime(on.year, on.month, on.day, 9, 0, tzinfo=UTC)
        else:
            self.clock += timedelta(minutes=1)
        return CommandContext(actor=str(actor), at=self.clock)

    @property
    def position(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def log(self) -> list[Logged]:
        logged: list[Logged] = []
        start = 1
        while True:
            page = self.app.notification_log.select(start=start, limit=10)
            if not page:
                return logged
            logged.extend(Logged.of(n.id, self.app.mapper.to_domain_event(n)) for n in page)
            start = page[-1].id + 1

    def fold(self, a_fold: Fold[S], up_to: int | None = None) -> S:
        return fold(a_fold, self.log(), up_to=up_to)


@dataclass
class Cast:
    """Who a story plays with (Ada, Ben, Cy; Acme, Platform; Q1) and the ledger it is told in."""

    ledger: Ledger
    ada: UUID
    ben: UUID
    cy: UUID
    acme: UUID
    platform: UUID
    q1: UUID


@dataclass
class Story(Cast):
    o1: UUID
    o2: UUID
    o3: UUID
    kr1: UUID
    kr2: UUID
    kr3: UUID
    kr4: UUID
    kr5: UUID
    amendment: UUID
    check_ins: dict[str, UUID] = field(default_factory=dict)
    at: dict[str, int] = field(default_factory=dict)
    """Log positions after named moments."""


@dataclass(frozen=True)
class Org:
    """Ada manages Acme; Ben manages Platform (under Acme), where Cy is a member; Q1 is planned."""

    ada: UUID
    ben: UUID
    cy: UUID
    acme: UUID
    platform: UUID
    q1: UUID


def organisation(ledger: Ledger) -> Org:
    app, by = ledger.app, ledger.by
    ada = app.register_person("Ada Lovelace", "ada@acme.example", by(ADMIN)).id
    ben = app.register_person("Ben Okafor", "ben@acme.example", by(ADMIN)).id
    cy = app.register_person("Cy Young", "cy@acme.example", by(ADMIN)).id
    acme = app.form_team("Acme", by(ADMIN)).id
    platform = app.form_team("Platform", by(ADMIN), parent_id=acme).id
    app.add_team_member(acme, ada, MemberRole.MANAGER, by(ADMIN))
    app.add_team_member(platform, ben, MemberRole.MANAGER, by(ADMIN))
    app.add_team_member(platform, cy, MemberRole.MEMBER, by(ADMIN))
    q1 = app.plan_cycle(
        "Q1 2025", Q1_START, Q1_END, by(ADMIN), cadence=Cadence.WEEKLY, scoring=Scoring.SCALE
    ).id
    return Org(ada, ben, cy, acme, platform, q1)


def organised() -> tuple[Ledger, Org]:
    """A fresh ledger with the organisation in it, and the organisation."""
    ledger = Ledger()
    return ledger, organisation(ledger)


def quarter_notifications() -> tuple[OkrLedger, list[Notification]]:
    """A first quarter's application and every notification its story wrote (events of more
    than ten types): what the event codecs are checked against."""
    app = first_quarter().ledger.app
    notifications = app.recorder.select_notifications(start=1, limit=10_000)
    assert len({n.topic for n in notifications}) > 10
    return app, notifications


def first_quarter() -> Story:
    ledger, org = organised()
    app, by = ledger.app, ledger.by
    ada, ben, cy, acme, platform, q1 = org.ada, org.ben, org.cy, org.acme, org.platform, org.q1
    at = {"organised": ledger.position}

    o1 = draft(
        app,
        by(ada, date(2024, 12, 9)),
        q1,
        "Become the default OKR tool",
        perspective=Perspective.CUSTOMER,
        owner_team_id=acme,
    )
    kr1 = metric(
        app,
        by(ada),
        o1,
        "Weekly active teams",
        10,
        40,
        unit="teams",
        direction=Direction.INCREASE,
        weight=2,
    )
    kr2 = milestone(app, by(ada), o1, "Public API launched")
    at["o1_drafted"] = ledger.position
    app.submit_objective(o1, ben, by(ada))
    at["o1_submitted"] = ledger.position
    app.approve_objective(o1, by(ben, date(2024, 12, 10)))

    o2 = draft(
        app,
        by(ben),
        q1,
        "Make the platform boringly reliable",
        owner_team_id=platform,
        parent_objective_id=o1,
        parent_key_result_id=kr1,
    )
    kr3 = metric(
        app,
        by(ben),
        o2,
        "Core API availability",
        None,
        99.9,
        unit="%",
        direction=Direction.AT_LEAST,
    )
    kr4 = metric(
        app,
        by(ben),
        o2,
        "Mean time to recover",
        60,
        30,
        unit="minutes",
        direction=Direction.DECREASE,
    )
    app.submit_objective(o2, ada, by(ben))
    app.request_changes(
        o2, "MTTR of 30 minutes is what we have on a good day", by(ada, date(2024, 12, 11))
    )
    app.update_key_result(o2, kr4, by(ben), target=20)
    app.submit_objective(o2, ada, by(ben))
    app.approve_objective(o2, by(ada, date(2024, 12, 12)))

    o3 = draft(
        app,
        by(cy),
        q1,
        "Learn the tracing stack",
        Kind.ASPIRATIONAL,
        owner_person_id=cy,
        parent_objective_id=o2,
        private=True,
    )
    kr5 = milestone(app, by(cy), o3, "Tracing talk given")
    app.submit_objective(o3, ben, by(cy))
    app.counter_propose(
        o3,
        {"key_results": {str(kr5): {"title": "Tracing talk given at a meetup"}}},
        "make it public",
        by(ben, date(2024, 12, 13)),
    )
    at["o3_countered"] = ledger.position
    app.accept_counter_proposal(o3, by(cy))
    at["negotiated"] = ledger.position

    app.start_cycle(q1, by(ADMIN, date(2025, 1, 1)))
    check_ins = {
        "kr1_jan10": app.check_in(o1, kr1, 16, 7, by(ada, date(2025, 1, 10))).extra_id,
        "kr3_jan10": app.check_in(o2, kr3, 99.95, 8, by(ben)).extra_id,
        "kr4_jan10": app.check_in(o2, kr4, 50, 5, by(ben), note="two long outages").extra_id,
        "kr1_jan17": app.check_in(o1, kr1, 22, 6, by(ada, date(2025, 1, 17))).extra_id,
    }
    at["jan17"] = ledger.position
    check_ins["kr1_jan17_fixed"] = app.correct_check_in(
        o1,
        kr1,
        check_ins["kr1_jan17"],
        20,
        "counted our own test teams",
        by(ada, date(2025, 1, 18)),
    ).extra_id
    at["corrected"] = ledger.position
    amendment = app.propose_amendment(
        o1,
        {"key_results": {str(kr1): {"target": 32}}},
        "the market is smaller than we thought",
        by(ada, date(2025, 1, 20)),
    ).extra_id
    at["amendment_proposed"] = ledger.position
    app.approve_amendment(o1, amendment, by(ben, date(2025, 1, 21)), "fair, the data supports it")
    check_ins["kr4_jan24"] = app.check_in(o2, kr4, 40, 8, by(ben, date(2025, 1, 24))).extra_id
    at["jan24"] = ledger.position

    app.open_grading(q1, by(ADMIN, date(2025, 4, 1)))
    for objective, kr, actor in ((o1, kr1, ada), (o1, kr2, ada), (o2, kr3, ben), (o2, kr4, ben)):
        app.grade_key_result(objective, kr, by(actor, date(2025, 4, 2)))
    app.grade_objective(o2, by(ben), score=0.8, comment="availability mattered most")
    at["graded"] = ledger.position
    app.close_cycle(q1, by(ADMIN, date(2025, 4, 5)))
    at["closed"] = ledger.position

    assert kr1 and kr2 and kr3 and kr4 and kr5 and amendment
    return Story(
        ledger,
        ada,
        ben,
        cy,
        acme,
        platform,
        q1,
        o1,
        o2,
        o3,
        kr1,
        kr2,
        kr3,
        kr4,
        kr5,
        amendment,
        check_ins,
        at,
    )

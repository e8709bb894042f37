"""The demo organisation: three quarters of OKR history loaded through the application's commands.

"Acme" has a company team, four teams under it, two sub-teams and about twenty people. The two
quarters before the one containing ``today`` are planned, negotiated, tracked week by week,
graded and closed; the current quarter is active. Everything goes through ``OkrLedger`` commands
with a simulated clock, so the history looks like a real one: negotiations in the planning weeks
before each quarter, check-ins every Friday (some late, some wrong and corrected), amendments that
move targets, carry-overs that keep key-result lineage across quarters, grades and reflections.

The story runs from an agenda: each scheduled action is a callable due at a simulated instant,
executed in time order, and may schedule follow-ups (a correction the Monday after a typo, an
approval two days after a submission). The clock only moves forward, and every value comes from
a ``random.Random(seed)``, so the same seed issues the same commands with the same values.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from domain.application import OkrLedger
from domain.base import CommandContext
from domain.cycle import Cadence, Scoring
from domain.initiative import InitiativeStatus, KeyResultRef
from domain.objective import Kind, Perspective
from domain.scoring import Direction, Measure, clamp, progress
from domain.team import MemberRole
from infra.chain import importing_history

DEFAULT_TODAY = date(2026, 11, 24)
ADMIN_EMAIL = "demo-admin@acme.example"

# --------------------------------------------------------------------------- the summary


@dataclass(frozen=True)
class PlantedWeakOkr:
    """A deliberately weak OKR, for a quality coach to find."""

    kind: str
    """task_kr | vague_wording | too_many_key_results | owner_overloaded | metric_without_measure"""
    note: str
    objective_id: UUID | None = None
    key_result_id: UUID | None = None
    owner_person_id: UUID | None = None


@dataclass(frozen=True)
class DemoSummary:
    already_loaded: bool
    admin_person_id: UUID
    cycle_ids: tuple[UUID, ...] = ()
    """Oldest first; the last one is the active cycle."""
    cycle_names: tuple[str, ...] = ()
    people: int = 0
    teams: int = 0
    cycles: int = 0
    objectives: int = 0
    key_results: int = 0
    check_ins: int = 0
    corrections: int = 0
    amendments: int = 0
    carry_overs: int = 0
    events_written: int = 0
    planted: tuple[PlantedWeakOkr, ...] = ()
    themes: int = 0
    kpis: int = 0
    measurements: int = 0
    initiatives: int = 0
    north_star_kpi_id: UUID | None = None

    @property
    def active_cycle_id(self) -> UUID | None:
        return self.cycle_ids[-1] if self.cycle_ids else None


# ------------------------------------------------------------------------------ the cast

_DOMAIN = "acme.example"


@dataclass(frozen=True)
class _PersonSpec:
    key: str
    name: str
    team: str | None
    """Home team; managers are also members of the parent team."""
    manager: bool = False
    joins_in: int = 0
    """The story cycle (0, 1, 2) in which the person joins."""

    @property
    def email(self) -> str:
        if self.key == "admin":
            return ADMIN_EMAIL
        first, last = self.name.lower().split(" ", 1)
        return f"{first}.{last.replace(' ', '')}@{_DOMAIN}"


PEOPLE: tuple[_PersonSpec, ...] = (
    _PersonSpec("admin", "Dana Whitfield", None),
    _PersonSpec("maya", "Maya Chen", "acme", manager=True),
    _PersonSpec("tom", "Tom Okafor", "acme"),
    _PersonSpec("priya", "Priya Raman", "platform", manager=True),
    _PersonSpec("lukas", "Lukas Weber", "platform"),
    _PersonSpec("aiko", "Aiko Tanaka", "platform"),
    _PersonSpec("sam", "Sam Rivera", "platform"),
    _PersonSpec("lena", "Lena Fischer", "platform"),
    _PersonSpec("omar", "Omar Haddad", "sre", manager=True),
    _PersonSpec("jonas", "Jonas Berg", "sre"),
    _PersonSpec("elena", "Elena Petrova", "growth", manager=True),
    _PersonSpec("kwame", "Kwame Mensah", "growth"),
    _PersonSpec("sofia", "Sofia Rossi", "growth"),
    _PersonSpec("ben", "Ben Carter", "growth"),
    _PersonSpec("yuki", "Yuki Sato", "growth"),
    _PersonSpec("carlos", "Carlos Mendes", "sales", manager=True),
    _PersonSpec("hannah", "Hannah Schmidt", "sales"),
    _PersonSpec("noah", "Noah Williams", "sales"),
    _PersonSpec("diego", "Diego Alvarez", "sales"),
    _PersonSpec("ingrid", "Ingrid Larsen", "emea", manager=True),
    _PersonSpec("pierre", "Pierre Dubois", "emea"),
    _PersonSpec("grace", "Grace Kim", "people", manager=True),
    _PersonSpec("ravi", "Ravi Patel", "people"),
    _PersonSpec("fatima", "Fatima Zahra", "people"),
    _PersonSpec("mei", "Mei Lin", "growth", joins_in=1),
)
_PEOPLE = {p.key: p for p in PEOPLE}

TEAMS: tuple[tuple[str, str, str | None], ...] = (
    ("acme", "Acme", None),
    ("platform", "Platform", "acme"),
    ("sre", "Site Reliability", "platform"),
    ("growth", "Growth", "acme"),
    ("sales", "Sales", "acme"),
    ("emea", "Sales EMEA", "sales"),
    ("people", "People", "acme"),
)
_TEAM_PARENT = {key: parent for key, _, parent in TEAMS}
_TEAM_MANAGER = {p.team: p.key for p in PEOPLE if p.manager and p.team}


# ------------------------------------------------------------------ objectives to plant


@dataclass(frozen=True)
class _KrSpec:
    title: str | tuple[str, ...]
    """One title, or one per story cycle (milestones change from quarter to quarter)."""
    measure: Measure = Measure.METRIC
    direction: Direction = Direction.INCREASE
    baseline: float | None = None
    target: float | None = None
    unit: str = ""
    weight: float = 1.0
    decimals: int = 0
    trend: float = 0.6
    """How far baseline and target move each quarter, as a share of the span (0: resets)."""
    spread: float | None = None
    """For at_least / at_most: how far values wander around the target."""
    cycles: tuple[int, ...] | None = None
    weak: str | None = None
    per_cycle: tuple[tuple[float, float], ...] | None = None
    """Explicit (baseline, target) per story cycle, for measures with a ceiling."""

    def title_for(self, q: int) -> str:
        return (
            self.title if isinstance(self.title, str) else self.title[min(q, len(self.title) - 1)]
        )

    def values_for(self, q: int) -> tuple[float | None, float | None]:
        if self.measure == Measure.MILESTONE:
            return None, None
        if self.per_cycle is not None:
            return self.per_cycle[min(q, len(self.per_cycle) - 1)]
        b, t = self.baseline, self.target
        assert t is not None
        if self.direction == Direction.INCREASE and b is not None:
            shift = (t - b) * self.trend * q
            b, t = b + shift, t + shift
        elif self.direction == Direction.DECREASE and b is not None and b > 0:
            factor = (t / b) ** (self.trend * q)
            b, t = b * factor, t * factor
        b = _round(b, self.decimals) if b is not None else None
        t = _round(t, self.decimals)
        if b is not None and b == t:
            t = b + (10**-self.decimals) * (1 if self.direction == Direction.INCREASE else -1)
        return b, t


def _metric(
    title: str,
    baseline: float,
    target: float,
    unit: str,
    *,
    down: bool = False,
    decimals: int = 0,
    weight: float = 1.0,
    trend: float = 0.6,
    cycles: tuple[int, ...] | None = None,
    weak: str | None = None,
    per_cycle: tuple[tuple[float, float], ...] | None = None,
) -> _KrSpec:
    return _KrSpec(
        title,
        Measure.METRIC,
        Direction.DECREASE if down else Direction.INCREASE,
        baseline,
        target,
        unit,
        weight,
        decimals,
        trend,
        cycles=cycles,
        weak=weak,
        per_cycle=per_cycle,
    )


def _bound(
    title: str,
    target: float,
    unit: str,
    spread: float,
    *,
    at_most: bool = False,
    decimals: int = 0,
    weight: float = 1.0,
) -> _KrSpec:
    return _KrSpec(
        title,
        Measure.METRIC,
        Direction.AT_MOST if at_most else Direction.AT_LEAST,
        None,
        target,
        unit,
        weight,
        decimals,
        0.0,
        spread,
    )


def _milestone(
    title: str | tuple[str, ...],
    *,
    weight: float = 1.0,
    cycles: tuple[int, ...] | None = None,
    weak: str | None = None,
) -> _KrSpec:
    return _KrSpec(title, Measure.MILESTONE, weight=weight, cycles=cycles, weak=weak)


@dataclass(frozen=True)
class _ObjSpec:
    key: str
    title: str
    owner: str
    """"team:<key>" or "person:<key>"."""
    kind: Kind
    krs: tuple[_KrSpec, ...]
    parent: str | None = None
    parent_kr: int | None = None
    perspective: Perspective | None = None
    description: str = ""
    cycles: tuple[int, ...] = (0, 1, 2)
    carry: bool = False
    """Drafted in its first cycle only, then carried over from quarter to quarter."""
    private: bool = False
    late: tuple[int, str] | None = None
    """(days after the cycle starts, "in_review" | "draft"): drafted late, left undecided."""
    weak: str | None = None
    weak_note: str = ""

    @property
    def owner_key(self) -> str:
        return self.owner.split(":", 1)[1]

    @property
    def team_owned(self) -> bool:
        return self.owner.startswith("team:")


C, A = Kind.COMMITTED, Kind.ASPIRATIONAL
FIN, CUS = Perspective.FINANCIAL, Perspective.CUSTOMER
INT, LRN = Perspective.INTERNAL_PROCESS, Perspective.LEARNING_GROWTH

OBJECTIVES: tuple[_ObjSpec, ...] = (
    # The company.
    _ObjSpec(
        "revenue",
        "Grow recurring revenue profitably",
        "team:acme",
        C,
        (
            _metric("Annual recurring revenue", 12.0, 15.0, "M EUR", decimals=2, weight=2),
            _bound("Gross margin", 72, "%", 4, decimals=1),
            _metric("Net revenue retention", 104, 110, "%", decimals=1, trend=0.3),
        ),
        perspective=FIN,
        description="Revenue that compounds: new logos, expansion, and margin we can keep.",
    ),
    _ObjSpec(
        "customers",
        "Delight customers with a product they can rely on",
        "team:acme",
        C,
        (
            _metric("Net Promoter Score", 31, 40, "pts", trend=0.4),
            _bound("Monthly availability of the core API", 99.9, "%", 0.12, decimals=2),
            _metric("p95 time to resolve support tickets", 30, 18, "h", down=True, decimals=1),
        ),
        perspective=CUS,
    ),
    _ObjSpec(
        "talent",
        "Build a company people want to join and stay at",
        "team:acme",
        A,
        (
            _metric("Employee NPS", 12, 30, "pts", trend=0.4),
            _bound("Regretted attrition, annualised", 5, "%", 3, at_most=True, decimals=1),
            _metric("Engineers hired", 0, 6, "hires", trend=0),
        ),
        perspective=LRN,
    ),
    # Teams.
    _ObjSpec(
        "reliability",
        "Make the platform boringly reliable",
        "team:platform",
        C,
        (
            _bound("Availability of the core API", 99.95, "%", 0.1, decimals=3),
            _metric("p95 API latency", 420, 250, "ms", down=True),
            _metric("Payment flows on the new message queue", 0, 12, "flows", trend=0),
            _metric("On-call pages per month", 60, 25, "pages", down=True),
        ),
        parent="customers",
        parent_kr=1,
        perspective=INT,
    ),
    _ObjSpec(
        "cloud_cost",
        "Halve cloud cost per customer",
        "team:platform",
        A,
        (
            _metric(
                "Cloud cost per active customer", 38, 19, "EUR", down=True, decimals=2, trend=0.4
            ),
            _milestone(
                (
                    "Autoscaling on every stateless service",
                    "Batch jobs on spot instances",
                    "Storage tiering for cold data",
                )
            ),
        ),
        parent="revenue",
        parent_kr=1,
        perspective=FIN,
    ),
    _ObjSpec(
        "recovery",
        "Recover from incidents fast",
        "team:sre",
        C,
        (
            _metric("Mean time to recover", 95, 45, "min", down=True),
            _metric(
                "Critical alerts with a runbook",
                40,
                70,
                "%",
                per_cycle=((40, 70), (62, 85), (80, 95)),
            ),
            _metric("Game days run", 0, 3, "game days", trend=0),
        ),
        parent="reliability",
        parent_kr=0,
        perspective=INT,
    ),
    _ObjSpec(
        "conversion",
        "Turn trials into paying customers",
        "team:growth",
        C,
        (
            _metric("Trial-to-paid conversion", 8.5, 12, "%", decimals=1, weight=2),
            _metric("Activation rate in the first week", 34, 45, "%", decimals=1),
            _milestone(
                (
                    "Self-serve checkout live for all trials",
                    "Annual plans in self-serve checkout",
                    "Checkout localised for DE and FR",
                )
            ),
        ),
        parent="revenue",
        parent_kr=0,
        perspective=CUS,
    ),
    _ObjSpec(
        "channel",
        "Open a new acquisition channel",
        "team:growth",
        A,
        (
            _milestone("Referral programme launched"),
            _metric("Sign-ups from referrals", 0, 400, "sign-ups", trend=0),
            _metric("Partner-sourced pipeline", 0, 0.5, "M EUR", decimals=2, trend=0),
        ),
        parent="revenue",
        parent_kr=0,
        perspective=CUS,
        cycles=(0, 1),
        carry=True,
    ),
    _ObjSpec(
        "midmarket",
        "Win the mid-market",
        "team:sales",
        C,
        (
            _metric("New ARR from mid-market", 0, 1.8, "M EUR", decimals=2, weight=2, trend=0),
            _metric("Win rate", 18, 25, "%", decimals=1),
            _metric("Median sales cycle", 64, 45, "days", down=True),
        ),
        parent="revenue",
        parent_kr=0,
        perspective=FIN,
    ),
    _ObjSpec(
        "dach",
        "Land our first enterprise customers in DACH",
        "team:emea",
        A,
        (
            _metric("Enterprise logos signed in DACH", 0, 5, "logos", trend=0),
            _metric("Qualified DACH pipeline", 0.4, 2.0, "M EUR", decimals=2),
        ),
        parent="midmarket",
        parent_kr=0,
        perspective=FIN,
    ),
    _ObjSpec(
        "hiring",
        "Hire great engineers quickly",
        "team:people",
        C,
        (
            _metric("Median time to hire", 52, 35, "days", down=True),
            _bound("Offer acceptance rate", 80, "%", 12),
            _metric("Engineers hired", 0, 6, "hires", trend=0),
        ),
        parent="talent",
        parent_kr=2,
        perspective=LRN,
    ),
    _ObjSpec(
        "leaders",
        "Grow leaders from within",
        "team:people",
        A,
        (
            _milestone(
                (
                    "Manager training programme launched",
                    "First manager cohort graduated",
                    "Second manager cohort graduated",
                )
            ),
            _bound("Internal promotions", 4, "promotions", 3),
        ),
        parent="talent",
        parent_kr=0,
        perspective=LRN,
    ),
    # People.
    _ObjSpec(
        "queue",
        "Move payments onto the new message queue",
        "person:lukas",
        C,
        (
            _metric("Payment flows migrated", 0, 12, "flows", weight=2, trend=0),
            _bound("Consumer lag at p99", 5, "s", 4, at_most=True, decimals=1),
            _milestone(
                (
                    "Dual-write running in production",
                    "Old queue in read-only mode",
                    "Old queue decommissioned",
                )
            ),
        ),
        parent="reliability",
        parent_kr=2,
        perspective=INT,
        carry=True,
    ),
    _ObjSpec(
        "latency",
        "Make latency visible and fixable",
        "person:aiko",
        C,
        (
            _metric(
                "Endpoints with distributed tracing",
                20,
                60,
                "%",
                per_cycle=((20, 60), (55, 85), (80, 95)),
            ),
            _metric("p95 latency of the search endpoint", 900, 400, "ms", down=True),
            _bound("Error-budget burn rate", 1.0, "x", 0.6, at_most=True, decimals=2),
        ),
        parent="reliability",
        parent_kr=1,
    ),
    _ObjSpec(
        "idle",
        "Stop paying for idle machines",
        "person:sam",
        C,
        (
            _metric("Idle instances", 140, 20, "instances", down=True, trend=0.3),
            _milestone(
                (
                    "Tagging policy enforced in CI",
                    "Rightsizing report automated",
                    "Idle-instance reaper in production",
                )
            ),
        ),
        parent="cloud_cost",
        parent_kr=0,
    ),
    _ObjSpec(
        "runbooks",
        "A tested runbook for every critical alert",
        "person:jonas",
        C,
        (
            _metric(
                "Critical alerts with a tested runbook",
                30,
                60,
                "%",
                per_cycle=((30, 60), (55, 80), (75, 95)),
            ),
            _milestone(
                (
                    "Runbook review part of the on-call handover",
                    "Runbooks linked from every alert",
                    "Runbook drills in every game day",
                )
            ),
        ),
        parent="recovery",
        parent_kr=1,
    ),
    _ObjSpec(
        "oncall",
        "Make on-call sustainable",
        "person:omar",
        C,
        (
            _metric(
                "Out-of-hours pages per engineer per week", 4.5, 1.5, "pages", down=True, decimals=1
            ),
            _bound("On-call satisfaction", 7, "/10", 2, decimals=1),
        ),
        parent="recovery",
        parent_kr=0,
    ),
    _ObjSpec(
        "onboarding",
        "An onboarding that activates",
        "person:kwame",
        C,
        (
            _metric("Onboarding checklist completion", 41, 60, "%", decimals=1),
            _metric("Time to first value", 3.2, 1.5, "days", down=True, decimals=1),
            _milestone(
                (
                    "Interactive product tour live",
                    "Personalised onboarding e-mails",
                    "In-app checklist v2",
                )
            ),
        ),
        parent="conversion",
        parent_kr=1,
    ),
    _ObjSpec(
        "checkout",
        "A self-serve checkout that converts",
        "person:sofia",
        C,
        (
            _milestone(
                (
                    "Checkout beta for 10% of trials",
                    "Checkout for annual plans",
                    "Localised checkout in DE and FR",
                )
            ),
            _metric("Checkout conversion", 20, 35, "%", decimals=1, trend=0.3),
            _metric(
                "Make checkout feel smoother",
                0,
                1,
                "",
                trend=0,
                cycles=(2,),
                weak="metric_without_measure",
            ),
        ),
        parent="conversion",
        parent_kr=2,
    ),
    _ObjSpec(
        "experiments",
        "Run activation experiments every week",
        "person:ben",
        A,
        (
            _metric("Experiments shipped", 0, 8, "experiments", trend=0),
            _metric("Activation lift from winning experiments", 0, 3, "pts", decimals=1, trend=0),
        ),
        parent="conversion",
        parent_kr=1,
        cycles=(0, 1),
    ),
    _ObjSpec(
        "experiments_mei",
        "Make activation experiments routine",
        "person:mei",
        A,
        (
            _metric("Experiments shipped", 0, 10, "experiments", trend=0),
            _metric("Activation lift from winning experiments", 0, 3, "pts", decimals=1, trend=0),
        ),
        parent="conversion",
        parent_kr=1,
        cycles=(2,),
    ),
    _ObjSpec(
        "pipeline",
        "Build a mid-market pipeline we can trust",
        "person:hannah",
        C,
        (
            _metric("Qualified opportunities", 10, 35, "opportunities", trend=0),
            _metric("Demos held", 20, 60, "demos", trend=0),
            _metric("Pipeline coverage", 2.0, 3.5, "x", decimals=1, trend=0),
            _milestone("Hold a weekly pipeline review meeting", cycles=(2,), weak="task_kr"),
        ),
        parent="midmarket",
        parent_kr=0,
    ),
    _ObjSpec(
        "cycle_time",
        "Shorten the sales cycle",
        "person:noah",
        C,
        (
            _metric("Median days from demo to signature", 64, 50, "days", down=True),
            _metric("Proposal turnaround", 5, 2, "days", down=True, decimals=1),
            _milestone(
                (
                    "Proposal templates in the CRM",
                    "E-signature for every contract",
                    "Pre-approved legal clauses",
                )
            ),
        ),
        parent="midmarket",
        parent_kr=2,
    ),
    _ObjSpec(
        "doors",
        "Open doors with DACH enterprises",
        "person:pierre",
        A,
        (
            _metric("Meetings with DACH CIOs", 0, 20, "meetings", trend=0),
            _milestone(("German-language deck and contract ready", "First DACH reference call")),
        ),
        parent="dach",
        parent_kr=1,
        cycles=(1, 2),
        carry=True,
    ),
    _ObjSpec(
        "emea_team",
        "Build the EMEA sales team",
        "person:ingrid",
        C,
        (
            _metric("Account executives ramped", 0, 3, "AEs", trend=0),
            _bound("Quota attainment of ramped AEs", 80, "%", 20),
        ),
        parent="dach",
        parent_kr=0,
        perspective=LRN,
    ),
    _ObjSpec(
        "candidates",
        "A hiring pipeline engineering can rely on",
        "person:ravi",
        C,
        (
            _metric("Qualified engineering candidates", 30, 90, "candidates", trend=0),
            _metric("Interviews per offer", 8, 5, "interviews", down=True, decimals=1),
            _bound("Candidate experience score", 4.5, "/5", 0.5, decimals=2),
        ),
        parent="hiring",
        parent_kr=0,
    ),
    _ObjSpec(
        "restructure",
        "Restructure the People team around the employee journey",
        "person:grace",
        C,
        (
            _milestone("New People team structure agreed"),
            _milestone("Role descriptions rewritten"),
        ),
        parent="leaders",
        cycles=(1,),
        private=True,
    ),
    _ObjSpec(
        "deploys",
        "Deploy without anyone noticing",
        "person:lena",
        C,
        (
            _metric("Deploys causing downtime", 9, 1, "deploys", down=True, trend=0),
            _milestone(
                (
                    "Blue-green deploys for the API",
                    "Blue-green deploys for the workers",
                    "Database migrations without locks",
                )
            ),
            _metric("Time to roll back", 25, 5, "min", down=True, trend=0.3),
        ),
        parent="reliability",
        parent_kr=3,
        perspective=INT,
    ),
    _ObjSpec(
        "website",
        "Make the website convert",
        "person:yuki",
        C,
        (
            _metric("Visitor-to-trial conversion", 2.1, 3.0, "%", decimals=2, trend=0.4),
            _metric("Landing page load time", 3.4, 1.5, "s", down=True, decimals=1, trend=0.3),
            _milestone(("New pricing page live", "Comparison pages live", "Case-study hub live")),
        ),
        parent="conversion",
        parent_kr=0,
        perspective=CUS,
    ),
    _ObjSpec(
        "expansion",
        "Expand our existing mid-market accounts",
        "person:diego",
        C,
        (
            _metric("Expansion ARR", 0, 0.4, "M EUR", decimals=2, trend=0),
            _metric("Accounts with a success plan", 10, 40, "accounts", trend=0),
            _bound("Gross churn, monthly", 1.5, "%", 1, at_most=True, decimals=1),
        ),
        parent="midmarket",
        parent_kr=0,
        perspective=FIN,
    ),
    _ObjSpec(
        "new_hires",
        "Give every new hire a great first month",
        "person:fatima",
        C,
        (
            _bound("New-hire onboarding satisfaction", 8.5, "/10", 1.5, decimals=1),
            _metric(
                "New hires productive within 30 days",
                50,
                75,
                "%",
                per_cycle=((50, 75), (65, 85), (75, 90)),
            ),
            _milestone(
                (
                    "Onboarding buddy programme running",
                    "Onboarding portal live",
                    "Role-specific onboarding tracks",
                )
            ),
        ),
        parent="talent",
        parent_kr=0,
        perspective=LRN,
    ),
    _ObjSpec(
        "bench",
        "Grow the Platform team's bench",
        "person:priya",
        A,
        (
            _metric("Senior engineers hired into Platform", 0, 2, "hires", trend=0),
            _milestone(
                (
                    "Platform career ladder published",
                    "Staff engineer role defined",
                    "Tech-lead rotation running",
                )
            ),
        ),
        parent="talent",
        parent_kr=2,
        perspective=LRN,
    ),
    _ObjSpec(
        "forecast",
        "A sales forecast we can bank on",
        "person:carlos",
        C,
        (
            _metric("Forecast accuracy", 70, 85, "%", per_cycle=((70, 85), (80, 90), (85, 95))),
            _milestone(
                (
                    "CRM hygiene rules enforced",
                    "Weekly forecast call with finance",
                    "Forecast model in the BI tool",
                )
            ),
        ),
        parent="revenue",
        parent_kr=0,
        perspective=FIN,
    ),
    _ObjSpec(
        "okr_process",
        "Run the OKR process like clockwork",
        "person:tom",
        C,
        (
            _metric(
                "Objectives approved before the quarter starts",
                70,
                90,
                "%",
                per_cycle=((70, 90), (85, 95), (90, 98)),
            ),
            _bound("Key results checked in every week", 85, "%", 10),
            _milestone(
                (
                    "OKR guide published",
                    "Grading calibration session held",
                    "Quarterly retro template in use",
                )
            ),
        ),
        parent="talent",
        parent_kr=0,
        perspective=INT,
    ),
    # Deliberately weak OKRs in the active quarter, for a quality coach.
    _ObjSpec(
        "excellence",
        "Platform excellence",
        "team:platform",
        C,
        (
            _metric("Deploys per day", 6, 12, "deploys", trend=0),
            _metric("Change failure rate", 12, 6, "%", down=True, trend=0),
            _metric("CI build time", 14, 8, "min", down=True, trend=0),
            _metric("Test coverage", 62, 75, "%", trend=0),
            _metric("Open security findings", 40, 10, "findings", down=True, trend=0),
            _metric("Documentation pages updated", 0, 30, "pages", trend=0),
            _bound("Developer satisfaction", 7.5, "/10", 1.5, decimals=1),
        ),
        parent="customers",
        cycles=(2,),
        weak="too_many_key_results",
        weak_note="seven key results on one objective",
    ),
    _ObjSpec(
        "sales_better",
        "Do better at sales",
        "person:noah",
        C,
        (
            _milestone("Be more proactive with customers"),
            _metric("More deals", 10, 15, "deals", trend=0),
        ),
        parent="midmarket",
        cycles=(2,),
        weak="vague_wording",
        weak_note="vague objective and key result wording ('do better', 'be more proactive')",
    ),
    *(
        _ObjSpec(
            key,
            title,
            "person:aiko",
            C,
            krs,
            parent="excellence",
            cycles=(2,),
            weak="owner_overloaded",
            weak_note="one person owns six objectives in the active quarter",
        )
        for key, title, krs in (
            (
                "tracing_docs",
                "Document the tracing setup",
                (
                    _milestone("Tracing guide published"),
                    _metric("Teams using the guide", 0, 5, "teams", trend=0),
                ),
            ),
            (
                "mentoring",
                "Mentor two junior engineers",
                (
                    _milestone("Mentoring plans agreed"),
                    _bound("Mentee satisfaction", 8, "/10", 2, decimals=1),
                ),
            ),
            (
                "flaky",
                "Cut flaky tests",
                (
                    _metric("Flaky tests", 45, 10, "tests", down=True, trend=0),
                    _milestone("Flaky-test quarantine in CI"),
                ),
            ),
            (
                "meetup",
                "Talk about our tracing at a meetup",
                (_milestone("Talk accepted"), _milestone("Talk given")),
            ),
            (
                "dashboards",
                "Generate the latency dashboards from code",
                (
                    _milestone("Dashboards generated from code"),
                    _metric("Hand-made dashboards left", 24, 0, "dashboards", down=True, trend=0),
                ),
            ),
        )
    ),
    # Left undecided in the active quarter: the approval inbox is not empty.
    _ObjSpec(
        "growth_analyst",
        "Give Growth its own analyst",
        "person:elena",
        C,
        (
            _milestone("Growth analyst hired"),
            _metric("Self-serve dashboards used weekly", 2, 8, "dashboards", trend=0),
        ),
        parent="hiring",
        parent_kr=2,
        cycles=(2,),
        late=(48, "in_review"),
    ),
    _ObjSpec(
        "campus",
        "Put Acme on the map at three universities",
        "person:ravi",
        A,
        (
            _metric("Campus events held", 0, 3, "events", trend=0),
            _metric("Graduate applications", 0, 60, "applications", trend=0),
        ),
        parent="talent",
        parent_kr=2,
        cycles=(2,),
        late=(50, "in_review"),
    ),
    _ObjSpec(
        "winback",
        "Win back churned customers",
        "person:kwame",
        A,
        (
            _metric("Churned customers reactivated", 0, 25, "customers", trend=0),
            _milestone("Win-back e-mail sequence live"),
        ),
        parent="revenue",
        parent_kr=2,
        cycles=(2,),
        late=(52, "draft"),
    ),
)
_SPECS = {s.key: s for s in OBJECTIVES}


# -------------------------------------------------------------- the strategy layer

MISSION = "Help every team see why its work matters, and whether it worked."
VISION = "The default way mid-sized companies set, track and learn from their goals."
VALUES = ("Candour over comfort", "Outcomes over output", "Small teams, clear owners")
THEMES: tuple[tuple[str, str, str, list[str]], ...] = (
    ("Profitable growth", "financial", "Revenue that compounds, at a margin we keep.", []),
    (
        "Customers who stay",
        "customer",
        "Trials that convert and customers who renew.",
        ["Profitable growth"],
    ),
    (
        "A platform nobody notices",
        "internal_process",
        "Fast, reliable and cheap to run.",
        ["Customers who stay"],
    ),
    (
        "People who grow",
        "learning_growth",
        "Hire well, grow leaders, keep the people we have.",
        ["A platform nobody notices"],
    ),
)
THEME_OF: dict[str, str] = {
    **dict.fromkeys(
        ("revenue", "cloud_cost", "midmarket", "dach", "expansion", "forecast"),
        "Profitable growth",
    ),
    **dict.fromkeys(
        ("customers", "conversion", "channel", "onboarding", "checkout", "website"),
        "Customers who stay",
    ),
    **dict.fromkeys(
        ("reliability", "recovery", "queue", "latency", "idle", "runbooks", "oncall", "deploys"),
        "A platform nobody notices",
    ),
    **dict.fromkeys(
        ("talent", "hiring", "leaders", "emea_team", "new_hires", "bench"), "People who grow"
    ),
}
"""Objectives (by spec key) and their strategic theme; the rest stay untagged."""


@dataclass(frozen=True)
class _KpiSpec:
    key: str
    name: str
    unit: str
    direction: str
    green: float
    amber: float
    owner: str
    theme: str
    start: float
    drift: float
    """Change per month."""
    noise: float
    decimals: int = 0
    key_result: str | None = None
    """Key results with this title follow the KPI."""
    ceiling: float | None = None
    description: str = ""
    note: str = ""


NORTH_STAR = "arr"
KPIS: tuple[_KpiSpec, ...] = (
    _KpiSpec(
        "arr",
        "Annual recurring revenue",
        "M EUR",
        "increase",
        green=15.0,
        amber=13.0,
        owner="maya",
        theme="Profitable growth",
        start=11.4,
        drift=0.35,
        noise=0.08,
        decimals=2,
        key_result="Annual recurring revenue",
        description="The north star: what customers pay us every year.",
        note="From the finance close.",
    ),
    _KpiSpec(
        "nps",
        "Net Promoter Score",
        "pts",
        "increase",
        green=40,
        amber=30,
        owner="elena",
        theme="Customers who stay",
        start=29,
        drift=1.0,
        noise=2.0,
        key_result="Net Promoter Score",
        note="Monthly in-app survey.",
    ),
    _KpiSpec(
        "trial_to_paid",
        "Trial-to-paid conversion",
        "%",
        "increase",
        green=12,
        amber=9,
        owner="elena",
        theme="Customers who stay",
        start=9.0,
        drift=0.55,
        noise=0.25,
        decimals=1,
        key_result="Trial-to-paid conversion",
    ),
    _KpiSpec(
        "availability",
        "Core API availability",
        "%",
        "increase",
        green=99.9,
        amber=99.5,
        owner="priya",
        theme="A platform nobody notices",
        start=99.6,
        drift=-0.02,
        noise=0.04,
        decimals=2,
        ceiling=100.0,
    ),
    _KpiSpec(
        "cloud_cost",
        "Cloud cost per active customer",
        "EUR",
        "decrease",
        green=25,
        amber=32,
        owner="priya",
        theme="Profitable growth",
        start=36,
        drift=-1.1,
        noise=0.6,
        decimals=2,
        key_result="Cloud cost per active customer",
    ),
    _KpiSpec(
        "enps",
        "Employee NPS",
        "pts",
        "increase",
        green=30,
        amber=15,
        owner="grace",
        theme="People who grow",
        start=14,
        drift=2.8,
        noise=2.0,
        key_result="Employee NPS",
        note="Quarterly pulse, monthly sample.",
    ),
)


@dataclass(frozen=True)
class _InitiativeSpec:
    q: int
    """The story cycle it runs in."""
    title: str
    owner: str
    key_results: tuple[tuple[str, int], ...]
    """(objective spec key, index of the key result in that cycle)."""
    launch_day: int
    steps: tuple[tuple[int, InitiativeStatus | None, str], ...] = ()
    """(days after the cycle starts, new status or None for a note, note or reason)."""
    description: str = ""


_STARTED, _DONE, _CANCELLED = (
    InitiativeStatus.IN_PROGRESS,
    InitiativeStatus.DONE,
    InitiativeStatus.CANCELLED,
)
INITIATIVES: tuple[_InitiativeSpec, ...] = (
    _InitiativeSpec(
        1,
        "Manager training programme",
        "grace",
        (("leaders", 0),),
        4,
        ((6, _STARTED, "First cohort of eight managers."), (70, _DONE, "Cohort graduated.")),
    ),
    _InitiativeSpec(
        1,
        "Spot instances for batch jobs",
        "sam",
        (("cloud_cost", 0), ("idle", 0)),
        5,
        ((7, _STARTED, ""), (40, _DONE, "Every batch job on spot since week six.")),
    ),
    _InitiativeSpec(
        1,
        "Partner programme pilot",
        "carlos",
        (("channel", 2),),
        5,
        (
            (9, _STARTED, "Three agencies signed up for the pilot."),
            (30, _CANCELLED, "Partner interest too thin to justify the effort; revisit next year."),
        ),
    ),
    _InitiativeSpec(
        2,
        "Self-serve checkout rebuild",
        "sofia",
        (("conversion", 0), ("checkout", 1)),
        3,
        ((4, _STARTED, "Design review done."), (25, None, "Beta live for 10% of trials.")),
        description="Replace the sales-assisted checkout with a self-serve one.",
    ),
    _InitiativeSpec(
        2,
        "Chaos game days",
        "omar",
        (("recovery", 0),),
        6,
        ((8, _STARTED, "First game day: the queue failover."),),
    ),
    _InitiativeSpec(2, "Pricing page redesign", "kwame", (("conversion", 1),), 10),
    _InitiativeSpec(
        2,
        "Tracing everywhere",
        "aiko",
        (("latency", 0),),
        3,
        ((3, _STARTED, ""), (45, _DONE, "Every public endpoint traced.")),
    ),
)


# ----------------------------------------------------------------------------- texts

NOTES_UP = (
    "Good week, ahead of plan.",
    "The fix shipped on Tuesday; numbers are moving.",
    "Momentum from the launch is holding.",
    "Two big wins this week.",
    "Trending the right way.",
)
NOTES_FLAT = (
    "No movement this week.",
    "Waiting on a dependency from another team.",
    "Holiday week, little progress.",
    "Steady; nothing new to report.",
)
NOTES_DOWN = (
    "Slipped: an incident ate most of the week.",
    "Blocked by the vendor; escalated.",
    "Lost a deal we counted on.",
    "Worse than expected; digging into why.",
)
REFLECTIONS_HIGH = (
    "We hit this because we cut scope early and protected focus time.",
    "Good quarter. The weekly check-ins kept us honest about risks.",
    "Delivered. Next time we will set a more ambitious target.",
)
REFLECTIONS_MID = (
    "Decent progress, but we underestimated the integration work.",
    "We lost three weeks to an unplanned migration; the rest went to plan.",
    "The target was right; our first two attempts were not.",
)
REFLECTIONS_LOW = (
    "We did not get there. The dependency on another team was never resolved.",
    "Wrong bet: the metric did not move with the work we did.",
    "Too many objectives for the people we had; we will commit to fewer.",
)
OVERRIDE_COMMENTS = (
    "The dashboard undercounts enterprise accounts; the real figure is higher.",
    "Reached the number, but only by discounting heavily; not a real success.",
    "The last week's data is missing from the warehouse; graded on the finance report.",
    "Most of the gain came from a one-off deal; grading it lower.",
)


def _round(value: float, decimals: int) -> float:
    return float(round(value, decimals))


# ----------------------------------------------------------------------- the mirror


@dataclass
class _Kr:
    """What the story remembers about a key result, to produce plausible check-ins."""

    id: UUID
    lineage_id: UUID
    title: str
    measure: Measure
    direction: Direction
    baseline: float | None
    target: float | None
    unit: str
    decimals: int
    spread: float
    cumulative: bool
    final: float
    shape: float
    stall_week: int | None
    p: float = 0.0
    confidence: int = 6
    last_value: float | None = None
    done: bool = False

    @property
    def metric_moves(self) -> bool:
        return self.measure == Measure.METRIC and self.direction in (
            Direction.INCREASE,
            Direction.DECREASE,
        )


@dataclass
class _Obj:
    spec: _ObjSpec
    q: int
    id: UUID
    author: str
    approver: str
    krs: list[_Kr]
    status: str = "draft"
    carried_from: _Obj | None = None
    amended: bool = False


@dataclass
class _Cycle:
    q: int
    name: str
    starts_on: date
    ends_on: date
    id: UUID | None = None
    objectives: list[_Obj] = field(default_factory=list)
    corrections: int = 0


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _previous_quarter(start: date) -> date:
    return _quarter_start(start - timedelta(days=1))


def _quarter_end(start: date) -> date:
    next_start = _quarter_start(start + timedelta(days=95))
    return next_start - timedelta(days=1)


def _fridays(starts_on: date, ends_on: date) -> list[date]:
    first = starts_on + timedelta(days=(4 - starts_on.weekday()) % 7)
    return [first + timedelta(weeks=w) for w in range((ends_on - first).days // 7 + 1)]


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), UTC)


# ------------------------------------------------------------------------- the story


class _Story:
    def __init__(self, app: OkrLedger, seed: int, today: date) -> None:
        self.app = app
        self.rng = random.Random(seed)
        self.jitter = random.Random(seed * 7919 + 17)
        """Timing only, so changing the timing never changes a value."""
        self.cutoff = _at(today, 0)
        """Nothing happens on `today` itself: the story ends the day before."""
        self.now = datetime.min.replace(tzinfo=UTC)
        self.agenda: list[tuple[datetime, int, Callable[[], None]]] = []
        self.seq = 0

        active = _quarter_start(today)
        starts = [_previous_quarter(_previous_quarter(active)), _previous_quarter(active), active]
        self.cycles = [
            _Cycle(q, f"Q{(s.month - 1) // 3 + 1} {s.year}", s, _quarter_end(s))
            for q, s in enumerate(starts)
        ]
        if (today - active).days < 14:
            msg = "the demo needs today to be at least two weeks into its quarter"
            raise ValueError(msg)

        self.advance_import_clock: Callable[[datetime], None] = lambda _: None
        # Moves the history-import commit clock along with the story (see infra.chain).
        self.person_ids = {p.key: app.person_id_for(p.email) for p in PEOPLE}
        self.team_ids: dict[str, UUID] = {}
        self.members: dict[str, list[str]] = {key: [] for key, _, _ in TEAMS}
        self.active_people: list[str] = []
        self.objectives: dict[tuple[int, str], _Obj] = {}
        self.planted: list[PlantedWeakOkr] = []
        self.counts = {
            "people": 0,
            "teams": 0,
            "cycles": 0,
            "objectives": 0,
            "key_results": 0,
            "check_ins": 0,
            "corrections": 0,
            "amendments": 0,
            "carry_overs": 0,
            "themes": 0,
            "kpis": 0,
            "measurements": 0,
            "initiatives": 0,
        }
        # The strategy layer draws from its own generators, so the OKR story stays as it was.
        self.strategy_rng = random.Random(seed * 104_729 + 3)
        self.strategy_jitter = random.Random(seed * 31 + 7)
        self.theme_ids: dict[str, UUID] = {}
        self.kpi_ids: dict[str, UUID] = {}
        self.measured_months: set[str] = set()

    # ---------------------------------------------------------------- the machinery

    def schedule(self, when: datetime, action: Callable[[], None]) -> None:
        self.seq += 1
        heapq.heappush(self.agenda, (when, self.seq, action))

    def later(self, days: float, hour: int, action: Callable[[], None]) -> None:
        """Schedule `action` some days after the current instant, at about `hour` o'clock."""
        day = (self.now + timedelta(days=days)).date()
        self.schedule(_at(day, hour, self.jitter.randrange(0, 50)), action)

    def run(self) -> None:
        while self.agenda:
            when, _, action = heapq.heappop(self.agenda)
            if when >= self.cutoff:
                continue  # still popped, so later follow-ups past the cutoff vanish too
            self.now = max(when, self.now + timedelta(seconds=1))
            action()

    def ctx(self, actor: str) -> CommandContext:
        """A command context for `actor` (a person key) at the next tick of the clock."""
        self.now += timedelta(seconds=self.jitter.randrange(20, 180))
        self.advance_import_clock(self.now)
        return CommandContext(actor=str(self.person_ids[actor]), at=self.now)

    def pid(self, key: str) -> UUID:
        return self.person_ids[key]

    # ------------------------------------------------------------------ the plot

    def plot(self) -> None:
        first = self.cycles[0]
        self.schedule(_at(first.starts_on - timedelta(days=30), 8), self.found_organisation)
        for cycle in self.cycles:
            self.plot_cycle(cycle)
        c0, c1 = self.cycles[0], self.cycles[1]
        # People come and go; a team gets a new name; a closed quarter is reopened once.
        self.schedule(_at(c1.starts_on + timedelta(days=12), 10), self.rename_people_team)
        self.schedule(_at(c1.starts_on + timedelta(days=33), 9), self.mei_joins)
        self.schedule(_at(c1.starts_on + timedelta(days=44), 11), self.ben_leaves)
        self.schedule(_at(c0.ends_on + timedelta(days=20), 10), self.reopen_first_cycle)
        self.plot_strategy()

    def plot_cycle(self, cycle: _Cycle) -> None:
        s, e = cycle.starts_on, cycle.ends_on
        self.schedule(_at(s - timedelta(days=24), 9), lambda: self.plan_cycle(cycle))
        stage_day = {0: -23, 1: -21, 2: -19, 3: -16}
        specs = [sp for sp in OBJECTIVES if cycle.q in sp.cycles]
        scenarios = self.scenarios(cycle, specs)
        for i, spec in enumerate(specs):
            first_cycle = cycle.q == spec.cycles[0]
            if spec.carry and not first_cycle:
                self.schedule(
                    _at(s - timedelta(days=18), 10 + i % 6), self.carry_action(cycle, spec)
                )
                continue
            if spec.late is not None:
                when = _at(s + timedelta(days=spec.late[0]), 10 + i % 5)
            else:
                day = stage_day[self.stage(spec)] + (i % 4 if self.stage(spec) == 3 else 0)
                when = _at(s + timedelta(days=day), 10 + i % 6, 5 * (i % 10))
            scenario = spec.late[1] if spec.late else scenarios[spec.key]
            self.schedule(when, self.draft_action(cycle, spec, scenario))
        self.schedule(_at(s, 7), lambda: self.start_cycle(cycle))
        for week, friday in enumerate(_fridays(s, e), start=1):
            self.schedule(_at(friday, 15), self.check_in_action(cycle, week))
        for k in range(4 + (1 if cycle.q == 2 else 0)):
            when = _at(s + timedelta(days=33 + 5 * k), 11)
            self.schedule(when, self.amendment_action(cycle, k))
        if cycle.q == 1:
            self.schedule(_at(s + timedelta(days=40), 14), self.abandon_channel)
        if cycle.q < 2:
            self.schedule(_at(e + timedelta(days=1), 8), lambda: self.open_grading(cycle))
            self.schedule(_at(e + timedelta(days=1), 10), lambda: self.final_numbers(cycle))
            self.schedule(_at(e + timedelta(days=2), 9), lambda: self.grade_all(cycle))
            self.schedule(_at(e + timedelta(days=7), 10), lambda: self.adjust_grades(cycle))
            self.schedule(_at(e + timedelta(days=9), 17), lambda: self.close_cycle(cycle))

    def stage(self, spec: _ObjSpec) -> int:
        if not spec.team_owned:
            return 3
        parent = _TEAM_PARENT[spec.owner_key]
        return 0 if parent is None else (1 if parent == "acme" else 2)

    def scenarios(self, cycle: _Cycle, specs: list[_ObjSpec]) -> dict[str, str]:
        """How each objective's negotiation goes; every kind occurs in every cycle."""
        keys = [
            sp.key for sp in specs if sp.late is None and not (sp.carry and cycle.q != sp.cycles[0])
        ]
        n = len(keys)
        kinds = (
            ["counter_accept"] * max(2, n // 8)
            + ["counter_revise"] * max(2, n // 10)
            + ["changes"] * max(2, n // 8)
            + ["withdraw"]
        )
        kinds = kinds[:n] + ["approve"] * (n - len(kinds))
        self.rng.shuffle(kinds)
        return dict(zip(keys, kinds, strict=True))

    # ------------------------------------------------------------ organisation

    def found_organisation(self) -> None:
        app = self.app
        app.register_person("Dana Whitfield", ADMIN_EMAIL, self.ctx("admin"))
        self.counts["people"] += 1
        for person in PEOPLE:
            if person.key != "admin" and person.joins_in == 0:
                self.register(person)
        for key, name, parent in TEAMS:
            parent_id = self.team_ids[parent] if parent else None
            result = app.form_team(name, self.ctx("admin"), parent_id=parent_id)
            self.team_ids[key] = result.id
            self.counts["teams"] += 1
        for person in PEOPLE:
            if person.team and person.joins_in == 0:
                self.join(person)

    def register(self, person: _PersonSpec) -> None:
        self.app.register_person(person.name, person.email, self.ctx("admin"))
        self.counts["people"] += 1

    def join(self, person: _PersonSpec) -> None:
        assert person.team is not None
        role = MemberRole.MANAGER if person.manager else MemberRole.MEMBER
        self.app.add_team_member(
            self.team_ids[person.team], self.pid(person.key), role, self.ctx("admin")
        )
        self.members[person.team].append(person.key)
        parent = _TEAM_PARENT[person.team]
        if person.manager and parent is not None:
            self.app.add_team_member(
                self.team_ids[parent], self.pid(person.key), MemberRole.MEMBER, self.ctx("admin")
            )
            self.members[parent].append(person.key)

    def rename_people_team(self) -> None:
        self.app.rename_team(self.team_ids["people"], "Talent", self.ctx("admin"))

    def mei_joins(self) -> None:
        mei = _PEOPLE["mei"]
        self.register(mei)
        self.join(mei)

    def ben_leaves(self) -> None:
        obj = self.objectives.get((1, "experiments"))
        if obj is not None and obj.status == "approved":
            self.app.update_objective(
                obj.id,
                self.ctx("elena"),
                reassign=True,
                owner_person_id=self.pid("mei"),
                reason="Ben left Acme; Mei takes over the activation experiments.",
            )
            obj.author = "mei"
            obj.spec = replace(obj.spec, owner="person:mei")
        self.app.remove_team_member(self.team_ids["growth"], self.pid("ben"), self.ctx("admin"))
        self.members["growth"].remove("ben")
        self.app.deactivate_person(
            self.pid("ben"), "Left Acme at the end of August.", self.ctx("admin")
        )

    # ------------------------------------------------------------------ cycles

    def plan_cycle(self, cycle: _Cycle) -> None:
        result = self.app.plan_cycle(
            cycle.name,
            cycle.starts_on,
            cycle.ends_on,
            self.ctx("admin"),
            cadence=Cadence.WEEKLY,
            scoring=Scoring.SCALE,
        )
        cycle.id = result.id
        self.counts["cycles"] += 1

    def start_cycle(self, cycle: _Cycle) -> None:
        assert cycle.id is not None
        self.app.start_cycle(cycle.id, self.ctx("admin"))

    def open_grading(self, cycle: _Cycle) -> None:
        assert cycle.id is not None
        self.app.open_grading(cycle.id, self.ctx("admin"))

    def close_cycle(self, cycle: _Cycle) -> None:
        assert cycle.id is not None
        self.app.close_cycle(cycle.id, self.ctx("admin"))

    def reopen_first_cycle(self) -> None:
        """A grade was wrong after closing: reopen with a reason, fix it, close again."""
        cycle = self.cycles[0]
        assert cycle.id is not None
        self.app.reopen_cycle(
            cycle.id,
            "The Sales EMEA grade was entered before the last deal was booked.",
            self.ctx("admin"),
        )
        obj = self.objectives.get((0, "dach"))
        if obj is not None and obj.status == "approved":
            kr = obj.krs[0]
            score = _round(clamp(self.kr_progress(kr) + 0.2), 1)
            self.app.grade_key_result(
                obj.id,
                kr.id,
                self.ctx(obj.approver),
                score=score,
                comment="Regraded: the Munich contract was signed on the last day of the quarter.",
            )
            self.app.grade_objective(
                obj.id,
                self.ctx(obj.approver),
                comment="Recomputed after the key result was regraded.",
            )
        self.app.close_cycle(cycle.id, self.ctx("admin"))

    # --------------------------------------------------------------- objectives

    def owner_of(self, spec: _ObjSpec) -> tuple[str, str]:
        """(author, approver) as person keys: who drafts it and who approves it."""
        if spec.team_owned:
            team = spec.owner_key
            if team == "acme":
                return "tom", "maya"
            parent = _TEAM_PARENT[team]
            assert parent is not None
            return _TEAM_MANAGER[team], _TEAM_MANAGER[parent]
        person = _PEOPLE[spec.owner_key]
        assert person.team is not None
        if person.manager:
            parent = _TEAM_PARENT[person.team]
            return person.key, _TEAM_MANAGER[parent] if parent else "maya"
        return person.key, _TEAM_MANAGER[person.team]

    def parent_ids(self, cycle: _Cycle, spec: _ObjSpec) -> tuple[UUID | None, UUID | None]:
        if spec.parent is None:
            return None, None
        parent = self.objectives.get((cycle.q, spec.parent))
        if parent is None or parent.status == "abandoned":
            return None, None
        kr_id = parent.krs[spec.parent_kr].id if spec.parent_kr is not None else None
        return parent.id, kr_id

    def draft_action(self, cycle: _Cycle, spec: _ObjSpec, scenario: str) -> Callable[[], None]:
        def action() -> None:
            assert cycle.id is not None
            author, approver = self.owner_of(spec)
            parent_id, parent_kr_id = self.parent_ids(cycle, spec)
            result = self.app.draft_objective(
                cycle_id=cycle.id,
                title=spec.title,
                kind=spec.kind,
                ctx=self.ctx(author),
                owner_team_id=self.team_ids[spec.owner_key] if spec.team_owned else None,
                owner_person_id=None if spec.team_owned else self.pid(spec.owner_key),
                description=spec.description,
                perspective=spec.perspective,
                parent_objective_id=parent_id,
                parent_key_result_id=parent_kr_id,
                private=spec.private,
            )
            obj = _Obj(spec, cycle.q, result.id, author, approver, [])
            self.objectives[(cycle.q, spec.key)] = obj
            cycle.objectives.append(obj)
            self.counts["objectives"] += 1
            for kr_spec in spec.krs:
                if kr_spec.cycles is None or cycle.q in kr_spec.cycles:
                    self.add_kr(cycle, obj, kr_spec)
            self.place_in_strategy(obj)
            if spec.weak and spec.weak != "owner_overloaded":
                self.planted.append(PlantedWeakOkr(spec.weak, spec.weak_note, objective_id=obj.id))
            elif spec.weak == "owner_overloaded" and not any(
                p.kind == spec.weak for p in self.planted
            ):
                self.planted.append(
                    PlantedWeakOkr(
                        spec.weak, spec.weak_note, owner_person_id=self.pid(spec.owner_key)
                    )
                )
            self.negotiate(obj, scenario)

        return action

    def add_kr(self, cycle: _Cycle, obj: _Obj, spec: _KrSpec) -> None:
        baseline, target = spec.values_for(cycle.q)
        result = self.app.add_key_result(
            obj.id,
            title=spec.title_for(cycle.q),
            measure=spec.measure,
            ctx=self.ctx(obj.author),
            baseline=baseline,
            target=target,
            unit=spec.unit,
            direction=spec.direction,
            weight=spec.weight,
        )
        assert result.extra_id is not None
        kr = self.mirror_kr(obj, spec, result.extra_id, result.extra_id, baseline, target)
        obj.krs.append(kr)
        self.counts["key_results"] += 1
        if spec.weak:
            note = {
                "task_kr": "a key result that reads as a task, not an outcome",
                "metric_without_measure": "a metric key result with no unit and a 0 → 1 'target'",
            }.get(spec.weak, spec.weak)
            self.planted.append(
                PlantedWeakOkr(spec.weak, note, objective_id=obj.id, key_result_id=result.extra_id)
            )

    def mirror_kr(
        self,
        obj: _Obj,
        spec: _KrSpec | None,
        kr_id: UUID,
        lineage_id: UUID,
        baseline: float | None,
        target: float | None,
        *,
        measure: Measure | None = None,
        direction: Direction | None = None,
        title: str = "",
        unit: str = "",
    ) -> _Kr:
        """Draw how this key result will move over the quarter: where it ends, whether it stalls."""
        rng = self.rng
        measure = measure or (spec.measure if spec else Measure.METRIC)
        direction = direction or (spec.direction if spec else Direction.INCREASE)
        if obj.spec.kind == Kind.ASPIRATIONAL:
            final = rng.uniform(0.35, 0.95)
        else:
            final = rng.uniform(0.55, 1.1)
        if obj.spec.carry and obj.q < max(obj.spec.cycles):
            final = min(final, rng.uniform(0.5, 0.85))  # unfinished: it carries over
        stall: int | None = None
        roll = rng.random()
        if roll < 0.12:
            stall = rng.randint(2, 6)  # the owner stops checking in
        elif roll < 0.14:
            stall = 0  # never checked in
        span = abs((target or 1.0) - (baseline or 0.0))
        spread = spec.spread if spec and spec.spread is not None else max(span * 0.1, 0.1)
        return _Kr(
            id=kr_id,
            lineage_id=lineage_id,
            title=spec.title_for(obj.q) if spec else title,
            measure=measure,
            direction=direction,
            baseline=baseline,
            target=target,
            unit=spec.unit if spec else unit,
            decimals=spec.decimals if spec else 1,
            spread=spread,
            cumulative=bool(spec and spec.trend == 0 and direction == Direction.INCREASE),
            final=final,
            shape=rng.uniform(0.7, 1.5),
            stall_week=stall,
            confidence=rng.randint(5, 8),
        )

    # -------------------------------------------------------------- negotiation

    def negotiate(self, obj: _Obj, scenario: str) -> None:
        """Submit now; the approver and the contributor answer over the next days."""
        if scenario == "draft":
            return
        app = self.app
        app.submit_objective(obj.id, self.pid(obj.approver), self.ctx(obj.author))
        obj.status = "in_review"
        if scenario == "in_review":
            return

        def approve() -> None:
            app.approve_objective(obj.id, self.ctx(obj.approver))
            obj.status = "approved"

        def resubmit_then_approve() -> None:
            app.submit_objective(obj.id, self.pid(obj.approver), self.ctx(obj.author))
            self.later(1, 9, approve)

        if scenario == "approve":
            self.later(1 + self.jitter.random(), 10, approve)
        elif scenario == "changes":

            def request() -> None:
                kr = self.pick_metric(obj)
                comment = (
                    f"'{kr.title}' needs a baseline we can verify; where does it come from?"
                    if kr
                    else "Please make the key results measurable."
                )
                app.request_changes(obj.id, comment, self.ctx(obj.approver))
                self.later(1, 11, revise)

            def revise() -> None:
                kr = self.pick_metric(obj)
                if kr is not None:
                    app.update_key_result(
                        obj.id,
                        kr.id,
                        self.ctx(obj.author),
                        title=f"{kr.title} (from the BI dashboard)",
                        reason="Named the data source, as asked.",
                    )
                    kr.title = f"{kr.title} (from the BI dashboard)"
                else:
                    app.update_objective(
                        obj.id, self.ctx(obj.author), description="Scope agreed with the team."
                    )
                resubmit_then_approve()

            self.later(1, 14, request)
        elif scenario in ("counter_accept", "counter_revise"):
            countered: list[tuple[_Kr, float]] = []  # (key result, proposed target)

            def counter() -> None:
                kr = self.pick_metric(obj)
                if kr is None:
                    approve()
                    return
                assert kr.baseline is not None and kr.target is not None
                span = kr.target - kr.baseline
                factor = self.rng.choice((1.2, 1.3, 0.85))
                proposed = _round(kr.baseline + span * factor, kr.decimals)
                if proposed == kr.target:
                    proposed = kr.target + (1 if span > 0 else -1)
                app.counter_propose(
                    obj.id,
                    {"key_results": {str(kr.id): {"target": proposed}}},
                    "Let's aim for a bolder target here."
                    if factor > 1
                    else "This target is not realistic with the people we have.",
                    self.ctx(obj.approver),
                )
                countered.append((kr, proposed))
                self.later(1, 10, accept if scenario == "counter_accept" else meet_halfway)

            def accept() -> None:
                kr, proposed = countered[0]
                app.accept_counter_proposal(obj.id, self.ctx(obj.author))
                kr.target = proposed
                obj.status = "approved"

            def meet_halfway() -> None:
                kr, proposed = countered[0]
                assert kr.target is not None
                halfway = _round((kr.target + proposed) / 2, kr.decimals)
                if halfway in (kr.target, proposed):
                    halfway = proposed
                app.update_key_result(
                    obj.id,
                    kr.id,
                    self.ctx(obj.author),
                    target=halfway,
                    reason="Met the counter-proposal halfway.",
                )
                kr.target = halfway
                resubmit_then_approve()

            self.later(1, 15, counter)
        elif scenario == "withdraw":

            def withdraw() -> None:
                app.withdraw_objective(obj.id, self.ctx(obj.author))
                app.update_objective(
                    obj.id,
                    self.ctx(obj.author),
                    description=obj.spec.description or "Reworded after a first review.",
                )
                resubmit_then_approve()

            self.later(0.2, 16, withdraw)

    def pick_metric(self, obj: _Obj) -> _Kr | None:
        candidates = [kr for kr in obj.krs if kr.metric_moves]
        return candidates[0] if candidates else None

    # ------------------------------------------------------------------ carry-over

    def carry_action(self, cycle: _Cycle, spec: _ObjSpec) -> Callable[[], None]:
        def action() -> None:
            source = self.objectives.get((cycle.q - 1, spec.key))
            if source is None or source.status != "approved":
                return
            assert cycle.id is not None
            result = self.app.carry_over(source.id, cycle.id, self.ctx(source.author))
            self.counts["carry_overs"] += 1
            self.counts["objectives"] += 1
            author, approver = self.owner_of(spec)
            obj = _Obj(spec, cycle.q, result.id, author, approver, [], carried_from=source)
            self.objectives[(cycle.q, spec.key)] = obj
            cycle.objectives.append(obj)
            by_title = {k.title_for(source.q): k for k in spec.krs}
            for kr in self.app.get_objective(result.id).active_key_results:
                kr_spec = by_title.get(kr.title)
                mirrored = self.mirror_kr(
                    obj,
                    kr_spec,
                    kr.id,
                    kr.lineage_id,
                    kr.baseline,
                    kr.target,
                    measure=kr.measure,
                    direction=kr.direction,
                    title=kr.title,
                    unit=kr.unit,
                )
                mirrored.title = kr.title
                obj.krs.append(mirrored)
                self.counts["key_results"] += 1
            carried = {k.title for k in obj.krs}
            for kr_spec in spec.krs:
                fresh = not isinstance(kr_spec.title, str)
                if fresh and kr_spec.title_for(cycle.q) not in carried:
                    self.add_kr(cycle, obj, kr_spec)
            parent_id, parent_kr_id = self.parent_ids(cycle, spec)
            if parent_id is not None:
                self.app.update_objective(
                    obj.id,
                    self.ctx(author),
                    realign=True,
                    parent_objective_id=parent_id,
                    parent_key_result_id=parent_kr_id,
                )
            self.negotiate(obj, "approve")

        return action

    def abandon_channel(self) -> None:
        obj = self.objectives.get((1, "channel"))
        if obj is None or obj.status != "approved":
            return
        self.app.abandon_objective(
            obj.id,
            "The referral partner pulled out; the budget moves to self-serve checkout.",
            self.ctx("elena"),
        )
        obj.status = "abandoned"

    # ----------------------------------------------------------------- tracking

    def tracked(self, cycle: _Cycle) -> list[_Obj]:
        return [o for o in cycle.objectives if o.status == "approved"]

    def reporter(self, obj: _Obj) -> str:
        if not obj.spec.team_owned:
            return obj.author
        team = obj.spec.owner_key
        candidates = [m for m in self.members[team] if m != "ben"] or [obj.author]
        return self.rng.choice(candidates)

    def check_in_action(self, cycle: _Cycle, week: int) -> Callable[[], None]:
        weeks = len(_fridays(cycle.starts_on, cycle.ends_on))

        def action() -> None:
            friday = self.now.date()
            for obj in self.tracked(cycle):
                for kr in obj.krs:
                    if kr.stall_week is not None and week > kr.stall_week:
                        continue
                    self.advance(kr, week, weeks)
                    roll = self.rng.random()
                    if roll < 0.1:
                        continue  # skipped this week
                    late = roll < 0.18
                    typo = self.rng.random() < 0.012 or (week == 2 and cycle.corrections == 0)
                    value, confidence, note = self.reading(kr, week, weeks)
                    if late:
                        self.later(
                            3, 9, self.report(obj, kr, value, confidence, note, friday, typo)
                        )
                    else:
                        self.report(obj, kr, value, confidence, note, friday, typo)()
                    if typo:
                        cycle.corrections += 1

        return action

    def advance(self, kr: _Kr, week: int, weeks: int) -> None:
        """One step of the key result's random walk towards where it will end up."""
        expected = kr.final * (week / weeks) ** kr.shape
        kr.p += (expected - kr.p) * 0.6 + self.rng.gauss(0, 0.05)
        kr.p = max(-0.15, min(1.2, kr.p))
        pace = kr.p / max(week / weeks, 0.08)
        feels = clamp(2 + 7 * min(pace, 1.15), 0, 10)
        drift = 1 if feels > kr.confidence + 0.5 else -1 if feels < kr.confidence - 0.5 else 0
        noise = self.rng.choices((-1, 0, 1), weights=(2, 6, 2))[0]
        kr.confidence = int(clamp(kr.confidence + drift + noise, 0, 10))

    def reading(self, kr: _Kr, week: int, weeks: int) -> tuple[float, int, str]:
        if kr.measure == Measure.MILESTONE:
            kr.done = kr.done or kr.p >= 0.95
            value = 1.0 if kr.done else 0.0
        elif kr.direction in (Direction.INCREASE, Direction.DECREASE):
            assert kr.baseline is not None and kr.target is not None
            value = _round(kr.baseline + kr.p * (kr.target - kr.baseline), kr.decimals)
            if kr.cumulative and kr.last_value is not None:
                value = max(value, kr.last_value)
        else:
            assert kr.target is not None
            sign = 1 if kr.direction == Direction.AT_LEAST else -1
            value = _round(kr.target + sign * (kr.p - 0.85) * kr.spread, kr.decimals)
        ceiling = 100.0 if kr.unit == "%" and (kr.target or 0.0) <= 100.0 else value
        value = max(0.0, min(value, ceiling))
        previous = kr.last_value
        kr.last_value = value
        note = ""
        if self.rng.random() < 0.6:
            moved = 0.0 if previous is None else value - previous
            if kr.direction in (Direction.DECREASE, Direction.AT_MOST):
                moved = -moved
            pool = NOTES_UP if moved > 0 else NOTES_DOWN if moved < 0 else NOTES_FLAT
            note = self.rng.choice(pool)
        return value, kr.confidence, note

    def report(
        self,
        obj: _Obj,
        kr: _Kr,
        value: float,
        confidence: int,
        note: str,
        effective_on: date,
        typo: bool,
    ) -> Callable[[], None]:
        def action() -> None:
            if obj.status != "approved":
                return
            entered = value
            if typo:
                entered = (1.0 - value) if kr.measure == Measure.MILESTONE else self.typo(value)
            result = self.app.check_in(
                obj.id,
                kr.id,
                entered,
                confidence,
                self.ctx(self.reporter(obj)),
                note=note,
                effective_on=effective_on,
            )
            self.counts["check_ins"] += 1
            if typo:
                assert result.extra_id is not None
                self.later(3, 9, self.correct(obj, kr, result.extra_id, entered, value))

        return action

    def typo(self, value: float) -> float:
        return value * 10 if value else value + 10

    def correct(
        self, obj: _Obj, kr: _Kr, check_in_id: UUID, wrong: float, right: float
    ) -> Callable[[], None]:
        def action() -> None:
            if obj.status != "approved":
                return
            if kr.measure == Measure.MILESTONE:
                reason = "Ticked done by mistake." if wrong else "Forgot to tick it done."
            elif self.rng.random() < 0.5:
                reason = f"Typo: entered {wrong:g} instead of {right:g}."
            else:
                reason = "Wrong dashboard filter: the figure included test accounts."
            self.app.correct_check_in(
                obj.id, kr.id, check_in_id, right, reason, self.ctx(self.reporter(obj))
            )
            self.counts["corrections"] += 1

        return action

    def amendment_action(self, cycle: _Cycle, k: int) -> Callable[[], None]:
        """Weeks five to eight: targets move through amendments, with reasons."""
        kind = ("eased", "raised", "rejected", "scope", "pending")[k]

        def action() -> None:
            candidates = [
                o
                for o in self.tracked(cycle)
                if not o.amended and any(kr.metric_moves for kr in o.krs)
            ]
            if not candidates:
                return
            obj = self.rng.choice(candidates)
            obj.amended = True
            kr = next(kr for kr in obj.krs if kr.metric_moves)
            assert kr.baseline is not None and kr.target is not None
            span = kr.target - kr.baseline
            if kind in ("eased", "pending"):
                new_target = _round(kr.baseline + span * 0.75, kr.decimals)
                reason = "A dependency slipped by six weeks; the original target is out of reach."
            else:
                new_target = _round(kr.baseline + span * 1.25, kr.decimals)
                reason = "We reached the target early; raising the bar for the rest of the quarter."
            if new_target in (kr.target, kr.baseline):
                new_target = kr.target + (1 if span > 0 else -1)
            changes: dict[str, object] = {"key_results": {str(kr.id): {"target": new_target}}}
            if kind == "scope":
                changes = {
                    "add_key_results": [
                        {
                            "title": "Customers on the new plan",
                            "measure": "metric",
                            "baseline": 0,
                            "target": 40,
                            "unit": "customers",
                            "direction": "increase",
                        }
                    ]
                }
                reason = "The pricing change adds a new outcome we are accountable for."

            def decide() -> None:
                if obj.status != "approved":
                    return
                if kind == "rejected":
                    self.app.reject_amendment(
                        obj.id,
                        amendment_id,
                        "Keep the target: the quarter is not over and the plan still holds.",
                        self.ctx(obj.approver),
                    )
                    return
                self.app.approve_amendment(
                    obj.id, amendment_id, self.ctx(obj.approver), comment="Agreed."
                )
                if kind == "scope":
                    known = {kr.id for kr in obj.krs}
                    for live in self.app.get_objective(obj.id).active_key_results:
                        if live.id not in known:
                            added = self.mirror_kr(
                                obj,
                                None,
                                live.id,
                                live.lineage_id,
                                live.baseline,
                                live.target,
                                measure=live.measure,
                                direction=live.direction,
                                title=live.title,
                                unit=live.unit,
                            )
                            obj.krs.append(added)
                            self.counts["key_results"] += 1
                else:
                    kr.target = new_target

            result = self.app.propose_amendment(obj.id, changes, reason, self.ctx(obj.author))
            self.counts["amendments"] += 1
            assert result.extra_id is not None
            amendment_id = result.extra_id
            if kind != "pending":
                self.later(2, 10, decide)

        return action

    # ------------------------------------------------------------------ grading

    def kr_progress(self, kr: _Kr) -> float:
        return progress(kr.measure, kr.direction, kr.baseline, kr.target, kr.last_value)

    def final_numbers(self, cycle: _Cycle) -> None:
        """In the grading week, some owners report the final numbers for the last day."""
        for obj in self.tracked(cycle):
            for kr in obj.krs:
                if kr.stall_week is None and kr.last_value is not None and self.rng.random() < 0.4:
                    self.advance(kr, 14, 13)
                    value, confidence, _ = self.reading(kr, 13, 13)
                    self.app.check_in(
                        obj.id,
                        kr.id,
                        value,
                        confidence,
                        self.ctx(self.reporter(obj)),
                        note="Final numbers for the quarter.",
                        effective_on=cycle.ends_on,
                    )
                    self.counts["check_ins"] += 1

    def grade_all(self, cycle: _Cycle) -> None:
        for i, obj in enumerate(self.tracked(cycle)):
            self.later(i % 4, 9 + i % 8, self.grade_action(obj))

    def grade_action(self, obj: _Obj) -> Callable[[], None]:
        def action() -> None:
            rng = self.rng
            app = self.app
            grader = obj.author if obj.author != "ben" else "elena"
            for kr in obj.krs:
                suggested = _round(clamp(self.kr_progress(kr)), 1)
                if rng.random() < 0.12:
                    delta = rng.choice((-0.3, -0.2, 0.2, 0.3))
                    score = _round(clamp(suggested + delta), 1)
                    if abs(score - suggested) > 0.05:
                        app.grade_key_result(
                            obj.id,
                            kr.id,
                            self.ctx(grader),
                            score=score,
                            comment=rng.choice(OVERRIDE_COMMENTS),
                        )
                        continue
                app.grade_key_result(obj.id, kr.id, self.ctx(grader))
            computed = self.computed_score(obj)
            if obj.spec.kind == Kind.ASPIRATIONAL and rng.random() < 0.3:
                score = _round(clamp(computed + rng.choice((-0.15, 0.15))), 2)
                app.grade_objective(
                    obj.id,
                    self.ctx(grader),
                    score=score,
                    comment="A stretch goal: the key results miss what the team actually learned.",
                )
            else:
                app.grade_objective(obj.id, self.ctx(grader))
            pool = (
                REFLECTIONS_HIGH
                if computed >= 0.7
                else REFLECTIONS_MID
                if computed >= 0.4
                else REFLECTIONS_LOW
            )
            app.reflect(obj.id, rng.choice(pool), self.ctx(grader))

        return action

    def computed_score(self, obj: _Obj) -> float:
        objective = self.app.get_objective(obj.id)
        return objective.computed_score or 0.0

    def adjust_grades(self, cycle: _Cycle) -> None:
        """Managers adjust a few self-assessed grades, with a comment."""
        graded = [o for o in self.tracked(cycle) if o.krs]
        for obj in self.rng.sample(graded, k=min(3, len(graded))):
            kr = obj.krs[-1]
            current = self.app.get_objective(obj.id).key_results[kr.id].score or 0.0
            score = _round(clamp(current - 0.2 if current >= 0.2 else current + 0.2), 1)
            self.app.grade_key_result(
                obj.id,
                kr.id,
                self.ctx(obj.approver),
                score=score,
                comment="Adjusted by the manager: the evidence in the review does not support the self-assessment.",
            )
            self.app.grade_objective(
                obj.id, self.ctx(obj.approver), comment="Recomputed after the manager's adjustment."
            )

    # ------------------------------------------------------------- the strategy

    def sctx(self, actor: str) -> CommandContext:
        """As `ctx`, timed by the strategy layer's own generator."""
        self.now += timedelta(seconds=self.strategy_jitter.randrange(20, 180))
        self.advance_import_clock(self.now)
        return CommandContext(actor=str(self.person_ids[actor]), at=self.now)

    def plot_strategy(self) -> None:
        first, second = self.cycles[0], self.cycles[1]
        self.schedule(_at(first.starts_on - timedelta(days=29), 9), self.define_strategy)
        month = first.starts_on.replace(day=1)
        while True:
            following = (month + timedelta(days=32)).replace(day=1)
            measured_on = following + timedelta(days=2)
            if measured_on >= self.cutoff.date():
                break
            self.schedule(_at(measured_on, 10), self.measure_action(month))
            month = following
        self.schedule(_at(second.starts_on + timedelta(days=6), 11), self.raise_nps_bar)
        for cycle in self.cycles:
            for spec in INITIATIVES:
                if spec.q == cycle.q:
                    self.schedule(
                        _at(cycle.starts_on + timedelta(days=spec.launch_day), 14),
                        self.initiative_action(cycle, spec),
                    )

    def define_strategy(self) -> None:
        self.app.put_strategy(
            self.sctx("maya"),
            mission=MISSION,
            vision=VISION,
            values=list(VALUES),
            themes=[
                {"name": name, "perspective": perspective, "description": text, "drives": drives}
                for name, perspective, text, drives in THEMES
            ],
        )
        self.theme_ids = {t.name: t.id for t in self.app.get_strategy().live_themes}
        self.counts["themes"] = len(self.theme_ids)
        for spec in KPIS:
            result = self.app.define_kpi(
                name=spec.name,
                unit=spec.unit,
                direction=spec.direction,
                owner_person_id=self.pid(spec.owner),
                green=spec.green,
                amber=spec.amber,
                ctx=self.sctx("maya"),
                description=spec.description,
                theme_id=self.theme_ids[spec.theme],
                north_star=spec.key == NORTH_STAR,
            )
            self.kpi_ids[spec.key] = result.id
            self.counts["kpis"] += 1

    def place_in_strategy(self, obj: _Obj) -> None:
        """Tag the objective with its theme and let its KPI-shaped key results follow the KPI."""
        theme = THEME_OF.get(obj.spec.key)
        if theme is not None and theme in self.theme_ids:
            self.app.tag_objective(obj.id, self.theme_ids[theme], self.sctx(obj.author))
        for kr in obj.krs:
            kpi = next((k for k in KPIS if k.key_result == kr.title), None)
            if kpi is not None and kpi.key in self.kpi_ids:
                self.app.link_key_result_to_kpi(
                    obj.id, kr.id, self.kpi_ids[kpi.key], self.sctx(obj.author)
                )

    def kpi_reading(self, spec: _KpiSpec, month: date) -> float:
        """The month's value: the KPI's own trend, with some noise."""
        first = self.cycles[0].starts_on.replace(day=1)
        months = (month.year - first.year) * 12 + month.month - first.month
        value = spec.start + spec.drift * months + self.strategy_rng.gauss(0, spec.noise)
        if spec.ceiling is not None:
            value = min(value, spec.ceiling)
        return _round(value, spec.decimals)

    def measure_action(self, month: date) -> Callable[[], None]:
        def action() -> None:
            period = f"{month.year:04d}-{month.month:02d}"
            self.measured_months.add(period)
            index = len(self.measured_months)
            for spec in KPIS:
                value = self.kpi_reading(spec, month)
                typo = spec.key == "nps" and index == 4
                result = self.app.record_measurement(
                    self.kpi_ids[spec.key],
                    period,
                    value + 12 if typo else value,
                    self.sctx(spec.owner),
                    note=spec.note,
                )
                self.counts["measurements"] += 1
                if typo:
                    self.later(1, 10, self.correct_action(spec, result.extra_id, value))

        return action

    def correct_action(
        self, spec: _KpiSpec, measurement_id: UUID | None, value: float
    ) -> Callable[[], None]:
        def action() -> None:
            assert measurement_id is not None
            self.app.correct_measurement(
                self.kpi_ids[spec.key],
                measurement_id,
                value,
                "The survey export counted the beta panel twice.",
                self.sctx(spec.owner),
            )

        return action

    def raise_nps_bar(self) -> None:
        self.app.change_kpi_thresholds(
            self.kpi_ids["nps"],
            42,
            32,
            "The industry benchmark moved up this year; green now means top quartile.",
            self.sctx("maya"),
        )

    def initiative_action(self, cycle: _Cycle, spec: _InitiativeSpec) -> Callable[[], None]:
        def action() -> None:
            refs = []
            for key, index in spec.key_results:
                obj = self.objectives.get((cycle.q, key))
                if obj is not None and obj.status != "abandoned" and index < len(obj.krs):
                    refs.append(KeyResultRef(obj.id, obj.krs[index].id))
            if not refs:
                return
            result = self.app.launch_initiative(
                title=spec.title,
                owner_person_id=self.pid(spec.owner),
                key_results=refs,
                ctx=self.sctx(spec.owner),
                description=spec.description,
            )
            self.counts["initiatives"] += 1
            for day, status, text in spec.steps:
                self.schedule(
                    _at(cycle.starts_on + timedelta(days=day), 15),
                    self.initiative_step(result.id, spec.owner, status, text),
                )

        return action

    def initiative_step(
        self, initiative_id: UUID, owner: str, status: InitiativeStatus | None, text: str
    ) -> Callable[[], None]:
        def action() -> None:
            if status == InitiativeStatus.CANCELLED:
                self.app.update_initiative(
                    initiative_id, self.sctx(owner), status=status, reason=text
                )
            else:
                self.app.update_initiative(
                    initiative_id, self.sctx(owner), status=status, note=text
                )

        return action

    # ------------------------------------------------------------------ the end

    def summary(self, events_written: int) -> DemoSummary:
        ids = tuple(c.id for c in self.cycles if c.id is not None)
        return DemoSummary(
            already_loaded=False,
            admin_person_id=self.pid("admin"),
            cycle_ids=ids,
            cycle_names=tuple(c.name for c in self.cycles if c.id is not None),
            events_written=events_written,
            planted=tuple(self.planted),
            north_star_kpi_id=self.kpi_ids.get(NORTH_STAR),
            **self.counts,
        )


def load_demo(app: OkrLedger, seed: int = 7, today: date | None = None) -> DemoSummary:
    """Load the demo organisation into `app`, unless it is already there.

    `today` (default 2026-11-24) decides which quarter is active; the two before it are closed.
    The demo counts as loaded once its admin person exists.
    """
    admin = app.find_person_by_email(ADMIN_EMAIL)
    if admin is not None:
        return DemoSummary(already_loaded=True, admin_person_id=admin.id)
    story = _Story(app, seed, today or DEFAULT_TODAY)
    before = app.recorder.max_notification_id() or 0
    story.plot()
    with importing_history(story.now) as advance_import_clock:
        story.advance_import_clock = advance_import_clock
        story.run()
    after = app.recorder.max_notification_id() or 0
    return story.summary(after - before)

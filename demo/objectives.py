"""The objectives the demo plants, quarter by quarter: owners, key results, and how each one
unfolds (its shape, its stalls, its negotiation). Data only, read by `demo.story`.
"""

from __future__ import annotations

from dataclasses import dataclass

from demo.data import rounded
from domain.objective import Kind, Perspective
from domain.scoring import Direction, Measure

# ------------------------------------------------------------------ objectives to plant


@dataclass(frozen=True)
class KrSpec:
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
        b = rounded(b, self.decimals) if b is not None else None
        t = rounded(t, self.decimals)
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
) -> KrSpec:
    return KrSpec(
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
) -> KrSpec:
    return KrSpec(
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
) -> KrSpec:
    return KrSpec(title, Measure.MILESTONE, weight=weight, cycles=cycles, weak=weak)


@dataclass(frozen=True)
class ObjSpec:
    key: str
    title: str
    owner: str
    """"team:<key>" or "person:<key>"."""
    kind: Kind
    krs: tuple[KrSpec, ...]
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

OBJECTIVES: tuple[ObjSpec, ...] = (
    # The company.
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
        ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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
    ObjSpec(
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

"""The demo organisation's data: its people and teams, its strategy (mission, themes, KPIs,
initiatives) and the texts its people write. Data only: the story that plays it is `demo.story`.
"""

from __future__ import annotations

from dataclasses import dataclass

from demo.summary import ADMIN_EMAIL
from domain.initiative import InitiativeStatus

# ------------------------------------------------------------------------------ the cast

_DOMAIN = "acme.example"


@dataclass(frozen=True)
class PersonSpec:
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


PEOPLE: tuple[PersonSpec, ...] = (
    PersonSpec("admin", "Dana Whitfield", None),
    PersonSpec("maya", "Maya Chen", "acme", manager=True),
    PersonSpec("tom", "Tom Okafor", "acme"),
    PersonSpec("priya", "Priya Raman", "platform", manager=True),
    PersonSpec("lukas", "Lukas Weber", "platform"),
    PersonSpec("aiko", "Aiko Tanaka", "platform"),
    PersonSpec("sam", "Sam Rivera", "platform"),
    PersonSpec("lena", "Lena Fischer", "platform"),
    PersonSpec("omar", "Omar Haddad", "sre", manager=True),
    PersonSpec("jonas", "Jonas Berg", "sre"),
    PersonSpec("elena", "Elena Petrova", "growth", manager=True),
    PersonSpec("kwame", "Kwame Mensah", "growth"),
    PersonSpec("sofia", "Sofia Rossi", "growth"),
    PersonSpec("ben", "Ben Carter", "growth"),
    PersonSpec("yuki", "Yuki Sato", "growth"),
    PersonSpec("carlos", "Carlos Mendes", "sales", manager=True),
    PersonSpec("hannah", "Hannah Schmidt", "sales"),
    PersonSpec("noah", "Noah Williams", "sales"),
    PersonSpec("diego", "Diego Alvarez", "sales"),
    PersonSpec("ingrid", "Ingrid Larsen", "emea", manager=True),
    PersonSpec("pierre", "Pierre Dubois", "emea"),
    PersonSpec("grace", "Grace Kim", "people", manager=True),
    PersonSpec("ravi", "Ravi Patel", "people"),
    PersonSpec("fatima", "Fatima Zahra", "people"),
    PersonSpec("mei", "Mei Lin", "growth", joins_in=1),
)
PEOPLE_BY_KEY = {p.key: p for p in PEOPLE}

TEAMS: tuple[tuple[str, str, str | None], ...] = (
    ("acme", "Acme", None),
    ("platform", "Platform", "acme"),
    ("sre", "Site Reliability", "platform"),
    ("growth", "Growth", "acme"),
    ("sales", "Sales", "acme"),
    ("emea", "Sales EMEA", "sales"),
    ("people", "People", "acme"),
)
TEAM_PARENT = {key: parent for key, _, parent in TEAMS}
TEAM_MANAGER = {p.team: p.key for p in PEOPLE if p.manager and p.team}


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
class KpiSpec:
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
KPIS: tuple[KpiSpec, ...] = (
    KpiSpec(
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
    KpiSpec(
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
    KpiSpec(
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
    KpiSpec(
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
    KpiSpec(
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
    KpiSpec(
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
class InitiativeSpec:
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
INITIATIVES: tuple[InitiativeSpec, ...] = (
    InitiativeSpec(
        1,
        "Manager training programme",
        "grace",
        (("leaders", 0),),
        4,
        ((6, _STARTED, "First cohort of eight managers."), (70, _DONE, "Cohort graduated.")),
    ),
    InitiativeSpec(
        1,
        "Spot instances for batch jobs",
        "sam",
        (("cloud_cost", 0), ("idle", 0)),
        5,
        ((7, _STARTED, ""), (40, _DONE, "Every batch job on spot since week six.")),
    ),
    InitiativeSpec(
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
    InitiativeSpec(
        2,
        "Self-serve checkout rebuild",
        "sofia",
        (("conversion", 0), ("checkout", 1)),
        3,
        ((4, _STARTED, "Design review done."), (25, None, "Beta live for 10% of trials.")),
        description="Replace the sales-assisted checkout with a self-serve one.",
    ),
    InitiativeSpec(
        2,
        "Chaos game days",
        "omar",
        (("recovery", 0),),
        6,
        ((8, _STARTED, "First game day: the queue failover."),),
    ),
    InitiativeSpec(2, "Pricing page redesign", "kwame", (("conversion", 1),), 10),
    InitiativeSpec(
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


def rounded(value: float, decimals: int) -> float:
    return float(round(value, decimals))

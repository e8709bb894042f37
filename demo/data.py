"""The demo organisation's data: its people and teams, its strategy (mission, themes, KPIs,
initiatives) and the texts its people write. Data only: the story that plays it is `demo.story`.
The tables (people, teams, KPIs, initiatives) are in `organisation.toml`, read here one row a spec.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from demo.summary import ADMIN_EMAIL
from domain.initiative import InitiativeStatus

# ------------------------------------------------------------------------------ the cast

_DOMAIN = "acme.example"
_TABLES: dict[str, Any] = tomllib.loads(
    files("demo").joinpath("organisation.toml").read_text("utf-8")
)


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


PEOPLE: tuple[PersonSpec, ...] = tuple(
    PersonSpec(
        row["key"], row["name"], row.get("team"), row.get("manager", False), row.get("joins_in", 0)
    )
    for row in _TABLES["people"]
)
PEOPLE_BY_KEY = {p.key: p for p in PEOPLE}

TEAMS: tuple[tuple[str, str, str | None], ...] = tuple(
    (row["key"], row["name"], row.get("parent")) for row in _TABLES["teams"]
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
KPIS: tuple[KpiSpec, ...] = tuple(KpiSpec(**row) for row in _TABLES["kpi"])


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


def _initiative(row: dict[str, Any]) -> InitiativeSpec:
    return InitiativeSpec(
        **{name: value for name, value in row.items() if name not in ("key_results", "steps")},
        key_results=tuple((kr["objective"], kr["index"]) for kr in row["key_results"]),
        steps=tuple(
            (
                step["day"],
                InitiativeStatus(step["status"]) if "status" in step else None,
                step["note"],
            )
            for step in row.get("steps", ())
        ),
    )


INITIATIVES: tuple[InitiativeSpec, ...] = tuple(_initiative(row) for row in _TABLES["initiative"])


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

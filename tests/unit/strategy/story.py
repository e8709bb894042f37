"""A quarter with a strategy, two KPIs and two initiatives, driven through the in-memory ledger.

Acme (Ada), Platform (Ben, with Cy), Q1 2025 as in `tests.unit.projections.story`:

- Dec  2  Ada defines the strategy: themes "Profitable growth" (financial), "Teams that rely on
          us" (customer, drives growth), "A platform nobody notices" (internal process, drives
          the customers' theme).
- Dec  3  Ben defines KPI "Weekly active teams" (teams, up, green 30 / amber 20), the north star,
          in the customers' theme; and "Incidents" (incidents, down, green 2 / amber 5) in the
          internal-process perspective. December is measured: 12 teams, 8 incidents.
- Dec  9  O1 "Become the default OKR tool" (Acme, customers' theme): KR1 "Weekly active teams"
          10 → 40 teams, following the north star; KR2 a milestone. O2 "Make the platform
          boringly reliable" (Platform, platform theme, aligned to O1): KR3 "Incidents" 8 → 2.
          O3 "Learn the tracing stack" (Cy, no theme, aligned to O2). All approved by Dec 12.
- Jan  1  The cycle starts. Jan 5: Cy launches "Self-serve onboarding" (moves KR1) and starts it;
          Ben launches "Chaos drills" (moves KR3).
- Feb  1  January measured: 18 teams, 6 incidents. Feb 2: Ben corrects January to 16 ("counted
          our own test teams").
- Feb 10  Ben raises the thresholds of weekly active teams to 35 / 25 ("the board raised the
          bar"). Feb 15: Ada restates the vision. Feb 20: onboarding done; drills cancelled.
- Mar  1  February measured: 25 teams, 3 incidents. Mar 2: KR1 checked in from the KPI.
- Mar  3  The quality policy: kr_count blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from domain.base import CommandContext
from domain.initiative import InitiativeStatus, KeyResultRef
from domain.objective import Kind
from domain.scoring import Direction
from tests.steps import draft, kpi, metric, milestone
from tests.unit.projections.story import ADMIN, Cast, organised


@dataclass
class StrategyStory(Cast):
    themes: dict[str, UUID]
    wat: UUID
    incidents: UUID
    o1: UUID
    o2: UUID
    o3: UUID
    kr1: UUID
    kr3: UUID
    onboarding: UUID
    drills: UUID
    at: dict[str, int] = field(default_factory=dict)


def strategy_quarter() -> StrategyStory:
    ledger, org = organised()
    app, by = ledger.app, ledger.by
    ada, ben, cy = org.ada, org.ben, org.cy

    def put_strategy(ctx: CommandContext, vision: str, themes: list[Any], reason: str = "") -> None:
        """Ada's strategy: its mission and values stay, its vision and themes are given."""
        app.put_strategy(
            ctx,
            mission="Make goals honest",
            vision=vision,
            values=["Candour", "Craft"],
            themes=themes,
            reason=reason,
        )

    put_strategy(
        by(ada, date(2024, 12, 2)),
        "Every team knows why its work matters",
        [
            {"name": "Profitable growth", "perspective": "financial"},
            {
                "name": "Teams that rely on us",
                "perspective": "customer",
                "drives": ["Profitable growth"],
            },
            {
                "name": "A platform nobody notices",
                "perspective": "internal_process",
                "drives": ["Teams that rely on us"],
            },
        ],
    )
    themes = {t.name: t.id for t in app.get_strategy().live_themes}
    wat = kpi(
        app,
        by(ben, date(2024, 12, 3)),
        "Weekly active teams",
        "teams",
        "increase",
        ben,
        (30, 20),
        theme_id=themes["Teams that rely on us"],
        north_star=True,
    )
    incidents = kpi(
        app,
        by(ben),
        "Incidents",
        "incidents",
        "decrease",
        ben,
        (2, 5),
        perspective="internal_process",
    )
    app.record_measurement(wat, "2024-12", 12, by(ben))
    app.record_measurement(incidents, "2024-12", 8, by(ben))
    at = {"defined": ledger.position}

    o1 = draft(
        app,
        by(ada, date(2024, 12, 9)),
        org.q1,
        "Become the default OKR tool",
        owner_team_id=org.acme,
    )
    kr1 = metric(app, by(ada), o1, "Weekly active teams", 10, 40, unit="teams")
    milestone(app, by(ada), o1, "Public API launched")
    app.tag_objective(o1, themes["Teams that rely on us"], by(ada))
    app.link_key_result_to_kpi(o1, kr1, wat, by(ada))
    o2 = draft(
        app,
        by(ben),
        org.q1,
        "Make the platform boringly reliable",
        owner_team_id=org.platform,
        parent_objective_id=o1,
    )
    kr3 = metric(
        app, by(ben), o2, "Incidents", 8, 2, unit="incidents", direction=Direction.DECREASE
    )
    app.tag_objective(o2, themes["A platform nobody notices"], by(ben))
    o3 = draft(
        app,
        by(cy),
        org.q1,
        "Learn the tracing stack",
        Kind.ASPIRATIONAL,
        owner_person_id=cy,
        parent_objective_id=o2,
    )
    milestone(app, by(cy), o3, "Tracing talk given")
    for objective, author, approver in ((o1, ada, ben), (o2, ben, ada), (o3, cy, ben)):
        app.submit_objective(objective, approver, by(author, date(2024, 12, 11)))
        app.approve_objective(objective, by(approver, date(2024, 12, 12)))
    at["approved"] = ledger.position

    app.start_cycle(org.q1, by(ADMIN, date(2025, 1, 1)))
    onboarding = app.launch_initiative(
        title="Self-serve onboarding",
        owner_person_id=cy,
        key_results=[KeyResultRef(o1, kr1)],
        ctx=by(cy, date(2025, 1, 5)),
    ).id
    app.update_initiative(onboarding, by(cy), status=InitiativeStatus.IN_PROGRESS, note="kick-off")
    drills = app.launch_initiative(
        title="Chaos drills",
        owner_person_id=ben,
        key_results=[KeyResultRef(o2, kr3)],
        ctx=by(ben),
    ).id
    at["launched"] = ledger.position

    january = app.record_measurement(wat, "2025-01", 18, by(ben, date(2025, 2, 1))).extra_id
    app.record_measurement(incidents, "2025-01", 6, by(ben))
    at["january"] = ledger.position
    assert january is not None
    app.correct_measurement(
        wat, january, 16, "counted our own test teams", by(ben, date(2025, 2, 2))
    )
    at["corrected"] = ledger.position
    app.change_kpi_thresholds(wat, 35, 25, "the board raised the bar", by(ben, date(2025, 2, 10)))
    put_strategy(
        by(ada, date(2025, 2, 15)),
        "Every team, every week, knows why its work matters",
        [
            {
                "id": str(t.id),
                "name": t.name,
                "perspective": t.perspective,
                "drives": [str(d) for d in t.drives],
            }
            for t in app.get_strategy().live_themes
        ],
        "sharper after the offsite",
    )
    app.update_initiative(onboarding, by(cy, date(2025, 2, 20)), status=InitiativeStatus.DONE)
    app.update_initiative(
        drills, by(ben), status=InitiativeStatus.CANCELLED, reason="no staging environment yet"
    )
    app.record_measurement(wat, "2025-02", 25, by(ben, date(2025, 3, 1)))
    app.record_measurement(incidents, "2025-02", 3, by(ben))
    app.check_in_from_kpi(o1, kr1, 7, by(ada, date(2025, 3, 2)))
    app.configure_quality_check("kr_count", "block", by(ADMIN, date(2025, 3, 3)), "be strict")
    at["end"] = ledger.position
    return StrategyStory(
        ledger,
        ada,
        ben,
        cy,
        org.acme,
        org.platform,
        org.q1,
        themes,
        wat,
        incidents,
        o1,
        o2,
        o3,
        kr1,
        kr3,
        onboarding,
        drills,
        at,
    )

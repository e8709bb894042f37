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
from uuid import UUID

from domain.initiative import InitiativeStatus, KeyResultRef
from domain.objective import Kind
from domain.scoring import Direction, Measure
from tests.unit.projections.story import ADMIN, Ledger, organisation


@dataclass
class StrategyStory:
    ledger: Ledger
    ada: UUID
    ben: UUID
    cy: UUID
    acme: UUID
    platform: UUID
    q1: UUID
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
    ledger = Ledger()
    app, by = ledger.app, ledger.by
    org = organisation(ledger)
    ada, ben, cy = org.ada, org.ben, org.cy
    app.put_strategy(
        by(ada, date(2024, 12, 2)),
        mission="Make goals honest",
        vision="Every team knows why its work matters",
        values=["Candour", "Craft"],
        themes=[
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
    wat = app.define_kpi(
        name="Weekly active teams",
        unit="teams",
        direction="increase",
        owner_person_id=ben,
        green=30,
        amber=20,
        ctx=by(ben, date(2024, 12, 3)),
        theme_id=themes["Teams that rely on us"],
        north_star=True,
    ).id
    incidents = app.define_kpi(
        name="Incidents",
        unit="incidents",
        direction="decrease",
        owner_person_id=ben,
        green=2,
        amber=5,
        ctx=by(ben),
        perspective="internal_process",
    ).id
    app.record_measurement(wat, "2024-12", 12, by(ben))
    app.record_measurement(incidents, "2024-12", 8, by(ben))
    at = {"defined": ledger.position}

    o1 = app.draft_objective(
        cycle_id=org.q1,
        title="Become the default OKR tool",
        kind=Kind.COMMITTED,
        owner_team_id=org.acme,
        ctx=by(ada, date(2024, 12, 9)),
    ).id
    kr1 = app.add_key_result(
        o1,
        title="Weekly active teams",
        measure=Measure.METRIC,
        baseline=10,
        target=40,
        unit="teams",
        ctx=by(ada),
    ).extra_id
    app.add_key_result(o1, title="Public API launched", measure=Measure.MILESTONE, ctx=by(ada))
    assert kr1 is not None
    app.tag_objective(o1, themes["Teams that rely on us"], by(ada))
    app.link_key_result_to_kpi(o1, kr1, wat, by(ada))
    o2 = app.draft_objective(
        cycle_id=org.q1,
        title="Make the platform boringly reliable",
        kind=Kind.COMMITTED,
        owner_team_id=org.platform,
        parent_objective_id=o1,
        ctx=by(ben),
    ).id
    kr3 = app.add_key_result(
        o2,
        title="Incidents",
        measure=Measure.METRIC,
        baseline=8,
        target=2,
        unit="incidents",
        direction=Direction.DECREASE,
        ctx=by(ben),
    ).extra_id
    assert kr3 is not None
    app.tag_objective(o2, themes["A platform nobody notices"], by(ben))
    o3 = app.draft_objective(
        cycle_id=org.q1,
        title="Learn the tracing stack",
        kind=Kind.ASPIRATIONAL,
        owner_person_id=cy,
        parent_objective_id=o2,
        ctx=by(cy),
    ).id
    app.add_key_result(o3, title="Tracing talk given", measure=Measure.MILESTONE, ctx=by(cy))
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
    app.put_strategy(
        by(ada, date(2025, 2, 15)),
        mission="Make goals honest",
        vision="Every team, every week, knows why its work matters",
        values=["Candour", "Craft"],
        themes=[
            {
                "id": str(t.id),
                "name": t.name,
                "perspective": t.perspective,
                "drives": [str(d) for d in t.drives],
            }
            for t in app.get_strategy().live_themes
        ],
        reason="sharper after the offsite",
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

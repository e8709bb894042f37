"""A confidence drop of 3 or more points tells the managers (`projections.notices`)."""

from __future__ import annotations

from datetime import date

import time_machine

from domain.application import OkrLedger
from domain.scoring import Measure
from domain.team import MemberRole
from projections.base import Logged
from projections.notices import Notice, NoticesState, notices_for
from tests.unit.builders import ADMIN, ALICE, BOB, CAROL, an_org, ctx


def _notices(app: OkrLedger) -> list[Notice]:
    state = NoticesState()
    found: list[Notice] = []
    for notification in app.recorder.select_notifications(start=1, limit=10_000):
        event = app.mapper.to_domain_event(notification)
        found.extend(notices_for(state, Logged.of(notification.id, event)))
    return [n for n in found if n.kind == "confidence_dropped"]


def test_a_drop_of_three_points_tells_the_managers_a_smaller_one_nobody() -> None:
    org = an_org()
    objective_id, kr = org.approved_objective()
    app = org.app
    app.start_cycle(org.q2_id, ctx(ADMIN))
    with time_machine.travel(date(2025, 5, 1)):  # inside Q2
        app.check_in(objective_id, kr, 110, 8, ctx(ALICE), effective_on=date(2025, 4, 20))
        app.check_in(objective_id, kr, 120, 6, ctx(ALICE), effective_on=date(2025, 4, 27))
        assert _notices(app) == []  # 8 → 6: two points
        app.check_in(objective_id, kr, 125, 3, ctx(ALICE), effective_on=date(2025, 4, 30))
    [notice] = _notices(app)  # 6 → 3: the team's manager
    assert (notice.recipient_id, notice.actor) == (BOB, str(ALICE))
    assert notice.data == {"key_result_id": str(kr), "from": "6", "to": "3"}
    assert notice.link == f"/objectives/{objective_id}"


def test_a_persons_objective_goes_to_the_managers_of_their_teams_not_to_themselves() -> None:
    org = an_org()
    app = org.app
    objective_id = org.objective(owner_team_id=None, owner_person_id=BOB, ctx=ctx(BOB))
    kr = app.add_key_result(
        objective_id, title="k", measure=Measure.METRIC, baseline=0, target=10, ctx=ctx(BOB)
    ).extra_id
    assert kr is not None
    app.submit_objective(objective_id, CAROL, ctx(BOB))
    app.approve_objective(objective_id, ctx(CAROL))
    app.start_cycle(org.q2_id, ctx(ADMIN))
    with time_machine.travel(date(2025, 5, 1)):
        app.check_in(objective_id, kr, 1, 9, ctx(BOB), effective_on=date(2025, 4, 20))
        app.check_in(objective_id, kr, 2, 5, ctx(BOB), effective_on=date(2025, 4, 27))
    # Bob manages Platform himself (not told of his own objective's drop); no other manager
    # of a team he belongs to
    assert _notices(app) == []
    app.add_team_member(org.company_id, BOB, MemberRole.MEMBER, ctx(ADMIN))
    with time_machine.travel(date(2025, 5, 1)):
        app.check_in(objective_id, kr, 3, 1, ctx(BOB), effective_on=date(2025, 4, 30))
    [notice] = _notices(app)  # now a member of the company, whose manager is Carol
    assert (notice.recipient_id, notice.data["from"], notice.data["to"]) == (CAROL, "5", "1")

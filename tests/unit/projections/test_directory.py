"""The directory fold: people, teams and cycles, the only place with names and e-mails."""

from __future__ import annotations

from datetime import UTC, date, datetime

from domain.team import MemberRole
from projections.directory import (
    CycleEntry,
    DirectoryFold,
    PersonEntry,
    PhaseChange,
    TeamEntry,
    managers_of,
    person_name,
    sub_teams,
    team_ancestors,
    teams_of,
)
from tests.unit.projections.story import ADMIN, first_quarter, organised


def test_people_teams_and_cycles_after_the_first_quarter() -> None:
    story = first_quarter()
    state = story.ledger.fold(DirectoryFold())

    assert state.people == {
        story.ada: PersonEntry("Ada Lovelace", "ada@acme.example", True),
        story.ben: PersonEntry("Ben Okafor", "ben@acme.example", True),
        story.cy: PersonEntry("Cy Young", "cy@acme.example", True),
    }
    assert state.teams == {
        story.acme: TeamEntry("Acme", None, {story.ada: "manager"}),
        story.platform: TeamEntry(
            "Platform", story.acme, {story.ben: "manager", story.cy: "member"}
        ),
    }

    def at(month: int, day: int, minute: int = 0) -> datetime:
        year = 2024 if month == 12 else 2025
        return datetime(year, month, day, 9, minute, tzinfo=UTC)

    assert state.cycles == {
        story.q1: CycleEntry(
            name="Q1 2025",
            starts_on=date(2025, 1, 1),
            ends_on=date(2025, 3, 31),
            cadence="weekly",
            scoring="scale",
            success_threshold=0.7,
            phase="closed",
            phase_history=[
                PhaseChange("planning", at(12, 2, 9), 9, ADMIN, ""),
                PhaseChange("active", at(1, 1), 28, ADMIN, ""),
                PhaseChange("grading", at(4, 1), 37, ADMIN, ""),
                PhaseChange("closed", at(4, 5), 43, ADMIN, ""),
            ],
        )
    }


def test_renames_deactivations_moves_role_changes_and_reopening() -> None:
    ledger, org = organised()
    app, by = ledger.app, ledger.by
    ada, ben, cy, acme, platform, q1 = org.ada, org.ben, org.cy, org.acme, org.platform, org.q1
    growth = app.form_team("Growth", by(ADMIN), parent_id=acme).id
    marketing = app.form_team("Marketing", by(ADMIN)).id
    app.disband_team(marketing, "merged into Growth", by(ADMIN))
    app.rename_person(cy, "Cy Young-Park", by(ADMIN))
    app.deactivate_person(ben, "left the company", by(ADMIN))
    app.move_team(platform, growth, by(ADMIN))
    app.change_member_role(platform, cy, MemberRole.MANAGER, by(ADMIN))
    app.remove_team_member(platform, ben, by(ADMIN))
    app.start_cycle(q1, by(ADMIN, date(2025, 1, 1)))
    app.open_grading(q1, by(ADMIN, date(2025, 4, 1)))
    app.close_cycle(q1, by(ADMIN))
    app.reopen_cycle(q1, "a grade was entered on the wrong key result", by(ADMIN))

    state = ledger.fold(DirectoryFold())

    assert state.people[cy] == PersonEntry("Cy Young-Park", "cy@acme.example", True)
    assert state.people[ben].active is False
    assert state.teams[platform] == TeamEntry("Platform", growth, {cy: "manager"})
    assert state.teams[marketing].disbanded is True
    assert team_ancestors(state, platform) == [growth, acme]
    assert sub_teams(state, acme) == [acme, platform, growth]
    assert managers_of(state, platform) == [cy]
    assert teams_of(state, cy) == [platform]
    assert person_name(state, str(ada)) == "Ada Lovelace"
    assert person_name(state, "system") is None
    cycle = state.cycles[q1]
    assert cycle.phase == "grading"
    assert [(c.phase, c.reason) for c in cycle.phase_history] == [
        ("planning", ""),
        ("active", ""),
        ("grading", ""),
        ("closed", ""),
        ("grading", "a grade was entered on the wrong key result"),
    ]

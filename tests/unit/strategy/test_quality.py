"""The quality coach, as a table: for every check, OKRs it must flag and OKRs it must let pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.quality import (
    CHECKS,
    Check,
    KeyResultSpec,
    ObjectiveSpec,
    Organisation,
    blocking,
    lint,
    reads_as_task,
    vague_terms,
)

CYCLE = uuid4()
COMPANY, PLATFORM = uuid4(), uuid4()
ALICE = uuid4()
ORG = Organisation(
    team_parents={COMPANY: None, PLATFORM: COMPANY},
    person_teams={ALICE: (PLATFORM,)},
    team_names={COMPANY: "Company", PLATFORM: "Platform"},
)


def kr(title: str, baseline: float | None = 10, target: float | None = 20, **kw: Any) -> Any:
    spec = {"measure": "metric", "unit": "customers", "direction": "increase"}
    spec.update(kw)
    return KeyResultSpec(
        uuid4(), title, spec["measure"], baseline, target, spec["unit"], spec["direction"]
    )


def milestone(title: str) -> Any:
    return KeyResultSpec(uuid4(), title, "milestone", 0, 1, "", "increase")


GOOD_KRS = (kr("Paying customers", 10, 20), kr("Net revenue retention", 100, 110, unit="%"))


def good_plus(key_result: KeyResultSpec) -> list[Okr]:
    """A good objective with `key_result` added: the one under test."""
    return [Okr(krs=(*GOOD_KRS, key_result))]


@dataclass
class Okr:
    """An objective for the table (defaults: a good one, owned by Platform, aligned)."""

    title: str = "Win the mid-market"
    krs: tuple[KeyResultSpec, ...] = GOOD_KRS
    kind: str = "committed"
    team: UUID | None = PLATFORM
    person: UUID | None = None
    parent: UUID | None = field(default_factory=uuid4)
    status: str = "draft"
    id: UUID = field(default_factory=uuid4)

    def spec(self) -> ObjectiveSpec:
        return ObjectiveSpec(
            self.id,
            CYCLE,
            self.title,
            self.kind,
            self.team,
            self.person,
            self.parent,
            self.krs,
            self.status,
        )


def company(title: str = "Grow profitably") -> Okr:
    return Okr(title=title, team=COMPANY, parent=None)


def many(n: int, **kw: Any) -> list[Okr]:
    return [
        Okr(
            title=f"Objective {i}",
            krs=(kr(f"Customers of kind {i}"), kr(f"Revenue of kind {i}")),
            **kw,
        )
        for i in range(n)
    ]


# (check, case name, objectives (the last one is the one under test))
BAD: list[tuple[Check, str, list[Okr]]] = [
    (Check.KR_NOT_MEASURABLE, "metric with no unit", good_plus(kr("Checkout feel", 0, 1, unit=""))),
    (
        Check.KR_IS_TASK,
        "an activity",
        good_plus(milestone("Hold a weekly pipeline review meeting")),
    ),
    (Check.KR_IS_TASK, "an imperative", good_plus(milestone("Launch the referral programme"))),
    (
        Check.KR_IS_TASK,
        "meetings counted",
        good_plus(kr("Meetings with CIOs", 0, 10, unit="meetings")),
    ),
    (Check.OWNER_OVERLOADED, "six for one person", many(6, team=None, person=ALICE)),
    (Check.OWNER_OVERLOADED, "six for one team", many(6)),
    (Check.KR_COUNT, "one key result", [Okr(krs=GOOD_KRS[:1])]),
    (Check.KR_COUNT, "six key results", [Okr(krs=tuple(kr(f"Measure {i}") for i in range(6)))]),
    (Check.VAGUE_WORDING, "vague objective", [Okr(title="Do better at sales")]),
    (Check.VAGUE_WORDING, "vague objective jargon", [Okr(title="Platform excellence")]),
    (Check.VAGUE_WORDING, "vague key result", good_plus(kr("More deals", 10, 15, unit="deals"))),
    (
        Check.VAGUE_WORDING,
        "vague milestone",
        good_plus(milestone("Be more proactive with customers")),
    ),
    (
        Check.MISSING_BASELINE,
        "at least, no baseline",
        good_plus(kr("Availability", None, 99.9, unit="%", direction="at_least")),
    ),
    (Check.COMMITTED_STRETCH, "4x increase", good_plus(kr("Qualified opportunities", 10, 40))),
    (
        Check.COMMITTED_STRETCH,
        "cut to a fifth",
        good_plus(kr("Idle instances", 50, 10, direction="decrease")),
    ),
    (Check.UNALIGNED, "team below a team with objectives", [company(), Okr(parent=None)]),
    (
        Check.UNALIGNED,
        "person in a team with objectives",
        [Okr(), Okr(team=None, person=ALICE, parent=None)],
    ),
    (Check.DUPLICATE_KR, "twice on one objective", good_plus(kr("paying  customers!", 20, 30))),
    (
        Check.DUPLICATE_KR,
        "same owner, two objectives",
        [Okr(), Okr(title="Keep them", krs=(kr("The paying customers", 5, 9), GOOD_KRS[1]))],
    ),
]

GOOD: list[tuple[Check, str, list[Okr]]] = [
    (
        Check.KR_NOT_MEASURABLE,
        "metric with a unit; milestones",
        good_plus(milestone("Checkout live in DE")),
    ),
    (
        Check.KR_IS_TASK,
        "states reached",
        [
            Okr(
                krs=(
                    milestone("Referral programme launched"),
                    milestone("Talk given at a meetup"),
                    kr("Test coverage", 60, 75, unit="%"),
                )
            )
        ],
    ),
    (Check.OWNER_OVERLOADED, "five for one owner", many(5)),
    (Check.OWNER_OVERLOADED, "six, one abandoned", [*many(5), Okr(status="abandoned")]),
    (
        Check.KR_COUNT,
        "two and five",
        [Okr(krs=GOOD_KRS), Okr(krs=tuple(kr(f"Measure {i}") for i in range(5)))],
    ),
    (
        Check.VAGUE_WORDING,
        "qualitative but concrete",
        [Okr(title="Make the platform boringly reliable")],
    ),
    (
        Check.MISSING_BASELINE,
        "baselines given",
        good_plus(kr("Availability", 99.5, 99.9, unit="%", direction="at_least")),
    ),
    (
        Check.COMMITTED_STRETCH,
        "committed, 2x",
        [
            Okr(
                krs=(
                    kr("Paying customers", 10, 20),
                    kr("Churn", 4, 2, unit="%", direction="decrease"),
                )
            )
        ],
    ),
    (
        Check.COMMITTED_STRETCH,
        "aspirational, 10x",
        [Okr(kind="aspirational", krs=(kr("Paying customers", 10, 100), GOOD_KRS[1]))],
    ),
    (
        Check.COMMITTED_STRETCH,
        "from zero",
        [Okr(krs=(kr("Paying customers", 0, 100), GOOD_KRS[1]))],
    ),
    (Check.UNALIGNED, "aligned", [company(), Okr()]),
    (Check.UNALIGNED, "parent team has no objectives", [Okr(parent=None)]),
    (Check.UNALIGNED, "the top team", [company()]),
    (
        Check.DUPLICATE_KR,
        "different measures, or different owners",
        [Okr(), Okr(team=COMPANY, krs=GOOD_KRS)],
    ),
]


def checks_on(objectives: list[Okr], levels: dict[str, str] | None = None) -> set[str]:
    """The checks flagging the last objective."""
    target = objectives[-1].id
    findings = lint([o.spec() for o in objectives], organisation=ORG, levels=levels)
    return {f.check for f in findings if f.concerns(target)}


@pytest.mark.parametrize(("check", "case", "objectives"), BAD, ids=[f"{c}: {n}" for c, n, _ in BAD])
def test_bad_okrs_are_flagged(check: Check, case: str, objectives: list[Okr]) -> None:
    assert check.value in checks_on(objectives)


@pytest.mark.parametrize(
    ("check", "case", "objectives"), GOOD, ids=[f"{c}: {n}" for c, n, _ in GOOD]
)
def test_good_okrs_pass(check: Check, case: str, objectives: list[Okr]) -> None:
    assert check.value not in checks_on(objectives)


def test_the_table_covers_every_check_both_ways() -> None:
    assert {c for c, _, _ in BAD} == set(Check) == {c for c, _, _ in GOOD} == set(CHECKS)


def test_a_good_objective_gets_no_finding_at_all() -> None:
    assert checks_on([company(), Okr()]) == set()


def test_every_finding_says_what_is_wrong_and_suggests_a_fix() -> None:
    objectives = [o for _, _, group in BAD for o in group]
    findings = lint([o.spec() for o in objectives], organisation=ORG)
    assert {f.check for f in findings} == set(Check)
    for finding in findings:
        assert finding.message and finding.suggestion and finding.field
        assert finding.level == "warn"


def test_findings_are_deterministic_and_ordered() -> None:
    objectives = [o.spec() for _, _, group in BAD for o in group]
    first = lint(objectives, organisation=ORG)
    assert lint(list(objectives), organisation=ORG) == first


def test_levels_turn_checks_off_or_make_them_block() -> None:
    bad = [Okr(title="Do better at sales", krs=GOOD_KRS[:1])]
    levels = {"vague_wording": "off", "kr_count": "block"}
    findings = lint([o.spec() for o in bad], organisation=ORG, levels=levels)
    assert [(f.check, f.level) for f in findings] == [("kr_count", "block")]
    assert [f.check for f in blocking(findings, bad[0].id)] == ["kr_count"]
    assert blocking(findings, uuid4()) == []


def test_only_keeps_the_findings_about_one_objective() -> None:
    objectives = many(6)
    findings = lint([o.spec() for o in objectives], organisation=ORG, only=objectives[2].id)
    assert [f.check for f in findings] == ["owner_overloaded"]
    assert set(findings[0].related) == {o.id for o in objectives}


@pytest.mark.parametrize(
    ("title", "task"),
    [
        ("Hold a weekly pipeline review meeting", True),
        ("Write the onboarding guide", True),
        ("Onboarding guide published", False),
        ("Plan approved by the board", False),
        ("Test coverage", False),
        ("", False),
    ],
)
def test_reads_as_task(title: str, task: bool) -> None:
    assert reads_as_task(title) is task


def test_vague_terms_are_listed_once_in_order() -> None:
    assert vague_terms("Be more proactive, do better and more") == [
        "be more",
        "more proactive",
        "do better",
    ]
    assert vague_terms("Improve onboarding", objective=True) == []
    assert vague_terms("Improve onboarding") == ["improve"]

"""The OKR quality coach: deterministic checks of how objectives and key results are written.

Each check looks at plain values (`ObjectiveSpec`, `KeyResultSpec`, the team structure), never
at the clock or the database, so the same OKRs always give the same findings, wherever they are
linted: `okr lint`, GET /lint, the drafting page, and submission. Every finding names its check,
says what is wrong and suggests a fix.

How strict each check is lives in the `QualityPolicy` aggregate: off, warn (the default), or
block (an objective with such a finding cannot be submitted for approval).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.base import CommandContext, OkrAggregate
from domain.errors import clean_text, require_choice
from domain.scoring import Direction, Measure


class Check(StrEnum):
    KR_NOT_MEASURABLE = "kr_not_measurable"
    KR_IS_TASK = "kr_is_task"
    OWNER_OVERLOADED = "owner_overloaded"
    KR_COUNT = "kr_count"
    VAGUE_WORDING = "vague_wording"
    MISSING_BASELINE = "missing_baseline"
    COMMITTED_STRETCH = "committed_stretch"
    UNALIGNED = "unaligned"
    DUPLICATE_KR = "duplicate_kr"


class Level(StrEnum):
    OFF = "off"
    WARN = "warn"
    BLOCK = "block"
    """Warn, and refuse submission for approval."""


CHECKS: Mapping[Check, str] = {
    Check.KR_NOT_MEASURABLE: "a key result with no number or measure (a metric without a unit)",
    Check.KR_IS_TASK: "a key result that reads as a task or an output, not an outcome",
    Check.OWNER_OVERLOADED: "more than 5 objectives for one owner in a cycle",
    Check.KR_COUNT: "fewer than 2 or more than 5 key results on an objective",
    Check.VAGUE_WORDING: "vague wording ('do better', 'improve', 'more', 'proactive' ...)",
    Check.MISSING_BASELINE: "a metric key result without a baseline",
    Check.COMMITTED_STRETCH: "a committed objective with a stretch-sized target jump (3x or more)",
    Check.UNALIGNED: "an objective with no alignment while its team's parent has objectives",
    Check.DUPLICATE_KR: "the same key result twice (on one objective or one owner's objectives)",
}
"""Every check, with what it looks for."""

MAX_OBJECTIVES_PER_OWNER = 5
MIN_KEY_RESULTS = 2
MAX_KEY_RESULTS = 5
STRETCH_FACTOR = 3.0
"""A committed target this many times the baseline (or a fraction 1/x of it) is a stretch."""


# -------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class KeyResultSpec:
    key_result_id: UUID
    title: str
    measure: str
    baseline: float | None
    target: float | None
    unit: str
    direction: str


@dataclass(frozen=True)
class ObjectiveSpec:
    objective_id: UUID
    cycle_id: UUID
    title: str
    kind: str
    owner_team_id: UUID | None
    owner_person_id: UUID | None
    parent_objective_id: UUID | None
    key_results: tuple[KeyResultSpec, ...]
    status: str = "draft"
    """Abandoned objectives are not linted."""


@dataclass(frozen=True)
class Organisation:
    """The team structure the cross-objective checks need."""

    team_parents: Mapping[UUID, UUID | None] = field(default_factory=dict)
    person_teams: Mapping[UUID, tuple[UUID, ...]] = field(default_factory=dict)
    """Person id → the teams they belong to."""
    team_names: Mapping[UUID, str] = field(default_factory=dict)
    """For messages only."""


@dataclass(frozen=True)
class Finding:
    check: str
    level: str
    objective_id: UUID | None
    key_result_id: UUID | None
    field: str
    """What to change: `title`, `key_results`, `key_results.<id>.title`, `owner` ..."""
    message: str
    suggestion: str
    owner_team_id: UUID | None = None
    owner_person_id: UUID | None = None
    related: tuple[UUID, ...] = ()
    """Other objectives the finding is about (an overloaded owner's objectives, a duplicate's
    twin)."""

    def concerns(self, objective_id: UUID) -> bool:
        return self.objective_id == objective_id or objective_id in self.related


# --------------------------------------------------------------- vocabulary

_WORD = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")
_DIGIT = re.compile(r"\d")


def _vocabulary(text: str) -> frozenset[str]:
    return frozenset(text.split())


TASK_VERBS = _vocabulary(
    """
    add analyse analyze attend build conduct configure continue coordinate create define deliver
    deploy develop discuss do draft ensure establish explore finish fix help hire hold host
    implement install interview introduce investigate launch make manage meet migrate organise
    organize participate perform plan prepare present publish refactor roll run schedule send set
    setup ship start train try visit write
    """
)
"""A key result starting with one of these describes work to do, not a result to reach (words
that are as often nouns, such as test, review, support or design, are left out)."""

DONE_WORDS = frozenset({"done", "given", "live", "held", "in", "use", "place", "production"})
"""A title with a past participle or one of these names a state reached ("Plan approved by the
board", "Policy in place"): an outcome, even if it starts like a task."""

TASK_NOUNS = frozenset({"meeting", "meetings", "workshop", "workshops"})
"""A key result about holding these is an activity."""

VAGUE_WORDS = _vocabulary(
    """
    better more less improve improved improving improvement enhance enhanced optimise optimize
    optimised optimized proactive proactively smoother good great nice various several etc stuff
    things synergy synergies leverage excellence awesome seamless
    """
)
"""Words that promise change without saying how much (in key results)."""

VAGUE_PHRASES = (
    "do better",
    "be better",
    "be more",
    "more proactive",
    "as much as possible",
    "as soon as possible",
    "try to",
    "best in class",
    "best-in-class",
    "world class",
    "world-class",
    "next level",
    "state of the art",
)
VAGUE_TITLE_WORDS = frozenset({"excellence", "stuff", "things", "etc", "various", "synergy"})
"""Objective titles are qualitative by design; only these (and the phrases) are too vague."""

_STOP = frozenset(
    ["a", "an", "and", "at", "by", "for", "from", "in", "of", "on", "per", "the", "to", "with"]
)


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def normalised(title: str) -> str:
    """A title reduced to its meaningful words, to spot duplicates."""
    return " ".join(w for w in words(title) if w not in _STOP)


def reads_as_task(title: str) -> bool:
    found = words(title)
    if not found:
        return False
    if any(w in TASK_NOUNS for w in found):
        return True
    reached = any(w.endswith("ed") or w in DONE_WORDS for w in found[1:])
    return found[0] in TASK_VERBS and not reached


def vague_terms(text: str, *, objective: bool = False) -> list[str]:
    """The vague words and phrases in `text`, in order of appearance, each once."""
    lowered = " ".join(words(text))
    hits = [(lowered.find(p), p) for p in VAGUE_PHRASES if f" {p} " in f" {lowered} "]
    vocabulary = VAGUE_TITLE_WORDS if objective else VAGUE_WORDS
    covered = " ".join(p for _, p in hits)
    position = 0
    for word in lowered.split():
        if word in vocabulary and word not in covered.split():
            hits.append((position, word))
        position += len(word) + 1
    return list(dict.fromkeys(term for _, term in sorted(hits)))


# -------------------------------------------------------------------- checks


def _kr_field(kr: KeyResultSpec, name: str) -> str:
    return f"key_results.{kr.key_result_id}.{name}"


def _q(text: str) -> str:
    return f"'{text}'"


def _local(objective: ObjectiveSpec) -> Iterable[tuple[Check, Finding]]:
    """Checks that need only the objective itself."""
    o = objective
    count = len(o.key_results)
    if not MIN_KEY_RESULTS <= count <= MAX_KEY_RESULTS:
        few = count < MIN_KEY_RESULTS
        yield (
            Check.KR_COUNT,
            _finding(
                o,
                None,
                "key_results",
                f"{_q(o.title)} has {count} key result{'s' if count != 1 else ''}"
                f" (the method advises {MIN_KEY_RESULTS} to {MAX_KEY_RESULTS})",
                "Add a second key result that measures the objective from another angle."
                if few
                else "Keep the 3 to 5 key results that best show the objective is met; move "
                "the rest to a team's objectives or drop them.",
            ),
        )
    terms = vague_terms(o.title, objective=True)
    if terms:
        yield (
            Check.VAGUE_WORDING,
            _finding(
                o,
                None,
                "title",
                f"objective {_q(o.title)} is vague ({', '.join(terms)})",
                "Say what will be different and for whom, e.g. 'Win the mid-market' rather "
                "than 'Do better at sales'.",
            ),
        )
    for kr in o.key_results:
        yield from _key_result(o, kr)
    seen: dict[str, KeyResultSpec] = {}
    for kr in o.key_results:
        key = normalised(kr.title)
        if key and key in seen:
            yield (
                Check.DUPLICATE_KR,
                _finding(
                    o,
                    kr,
                    _kr_field(kr, "title"),
                    f"key result {_q(kr.title)} repeats {_q(seen[key].title)} on {_q(o.title)}",
                    "Remove one of the two, or make them measure different things.",
                ),
            )
        else:
            seen.setdefault(key, kr)


def _key_result(o: ObjectiveSpec, kr: KeyResultSpec) -> Iterable[tuple[Check, Finding]]:
    metric = kr.measure == Measure.METRIC.value
    if metric and not kr.unit.strip():
        yield (
            Check.KR_NOT_MEASURABLE,
            _finding(
                o,
                kr,
                _kr_field(kr, "unit"),
                f"key result {_q(kr.title)} has no unit: it is not clear what is counted"
                + (
                    f" (from {_num(kr.baseline)} to {_num(kr.target)})"
                    if kr.baseline is not None
                    else ""
                ),
                "Name the measure and its unit, e.g. 'Checkout completion from 62% to 75%'; "
                "if it is done-or-not, make it a milestone.",
            ),
        )
    if reads_as_task(kr.title):
        yield (
            Check.KR_IS_TASK,
            _finding(
                o,
                kr,
                _kr_field(kr, "title"),
                f"key result {_q(kr.title)} reads as a task (work to do), not an outcome",
                "Ask 'so that what?' and measure that result, e.g. 'Forecast accuracy from 60% "
                "to 85%' instead of 'Hold a weekly pipeline review'; keep the task as an "
                "initiative under the key result.",
            ),
        )
    terms = vague_terms(kr.title)
    if terms:
        yield (
            Check.VAGUE_WORDING,
            _finding(
                o,
                kr,
                _kr_field(kr, "title"),
                f"key result {_q(kr.title)} is vague ({', '.join(terms)})",
                "Replace the comparison with the number: from what, to what, measured how.",
            ),
        )
    if metric and kr.baseline is None:
        yield (
            Check.MISSING_BASELINE,
            _finding(
                o,
                kr,
                _kr_field(kr, "baseline"),
                f"metric key result {_q(kr.title)} has no baseline",
                "Record where the measure stands today, so progress and the target's ambition "
                "can be judged.",
            ),
        )
    factor = _jump(kr)
    if o.kind == "committed" and factor is not None and factor >= STRETCH_FACTOR:
        yield (
            Check.COMMITTED_STRETCH,
            _finding(
                o,
                kr,
                _kr_field(kr, "target"),
                f"committed objective {_q(o.title)} expects {_q(kr.title)} to move"
                f" {factor:.1f}x (from {_num(kr.baseline)} to {_num(kr.target)})",
                "A committed objective should be fully reachable: lower the target, or make "
                "the objective aspirational (success at about 0.7).",
            ),
        )


def _jump(kr: KeyResultSpec) -> float | None:
    """How many times the target is the baseline (or its inverse, to decrease)."""
    b, t = kr.baseline, kr.target
    if kr.measure != Measure.METRIC.value or b is None or t is None or b == 0 or t == 0:
        return None
    if (b > 0) != (t > 0):
        return None
    if kr.direction == Direction.INCREASE.value:
        return t / b if t > b else None
    if kr.direction == Direction.DECREASE.value:
        return b / t if t < b else None
    return None


def _num(value: float | None) -> str:
    if value is None:
        return "none"
    return str(int(value)) if float(value).is_integer() else format(value, "g")


def _finding(
    o: ObjectiveSpec,
    kr: KeyResultSpec | None,
    field_: str,
    message: str,
    suggestion: str,
    related: tuple[UUID, ...] = (),
    *,
    owner_only: bool = False,
) -> Finding:
    """A finding about `o` (or `kr` on it), for its owner; `owner_only`: about the owner alone
    (the objectives it names are `related`)."""
    return Finding(
        check="",
        level="",
        objective_id=None if owner_only else o.objective_id,
        key_result_id=kr.key_result_id if kr else None,
        field=field_,
        message=message,
        suggestion=suggestion,
        owner_team_id=o.owner_team_id,
        owner_person_id=o.owner_person_id,
        related=related,
    )


def _owner(o: ObjectiveSpec) -> UUID | None:
    return o.owner_team_id or o.owner_person_id


def _across(
    objectives: Sequence[ObjectiveSpec], organisation: Organisation
) -> Iterable[tuple[Check, Finding]]:
    """Checks that compare an objective with the rest of its cycle."""
    by_owner: dict[tuple[UUID, UUID], list[ObjectiveSpec]] = {}
    for o in objectives:
        owner = _owner(o)
        if owner is not None:
            by_owner.setdefault((o.cycle_id, owner), []).append(o)
    for (_, owner), owned in by_owner.items():
        if len(owned) > MAX_OBJECTIVES_PER_OWNER:
            first = owned[0]
            who = (
                f"team {_q(organisation.team_names.get(owner, str(owner)))}"
                if first.owner_team_id
                else "one person"
            )
            yield (
                Check.OWNER_OVERLOADED,
                _finding(
                    first,
                    None,
                    "owner",
                    f"{who} owns {len(owned)} objectives in this cycle"
                    f" (the method advises at most {MAX_OBJECTIVES_PER_OWNER})",
                    "Commit to fewer objectives: merge related ones, hand some to the team, or "
                    "move them to the next cycle.",
                    tuple(o.objective_id for o in owned),
                    owner_only=True,
                ),
            )
        seen: dict[str, tuple[ObjectiveSpec, KeyResultSpec]] = {}
        for o in owned:
            for kr in o.key_results:
                key = normalised(kr.title)
                twin = seen.get(key)
                if twin is not None and twin[0].objective_id != o.objective_id:
                    yield (
                        Check.DUPLICATE_KR,
                        _finding(
                            o,
                            kr,
                            _kr_field(kr, "title"),
                            f"key result {_q(kr.title)} of {_q(o.title)} repeats"
                            f" {_q(twin[1].title)} of {_q(twin[0].title)}, with the same owner",
                            "Keep the key result on one objective; if the other objective "
                            "depends on it, align it to that key result instead.",
                            (twin[0].objective_id,),
                        ),
                    )
                elif key:
                    seen.setdefault(key, (o, kr))
    for o in objectives:
        if o.parent_objective_id is not None:
            continue
        above = _parent_level_teams(o, organisation)
        candidates = [
            p
            for p in objectives
            if p.cycle_id == o.cycle_id
            and p.objective_id != o.objective_id
            and p.owner_team_id in above
        ]
        if candidates:
            names = ", ".join(_q(p.title) for p in candidates[:3])
            team = candidates[0].owner_team_id
            team_name = organisation.team_names.get(team, "the parent team") if team else ""
            yield (
                Check.UNALIGNED,
                _finding(
                    o,
                    None,
                    "parent_objective_id",
                    f"{_q(o.title)} is not aligned, while {_q(team_name)} has objectives in"
                    f" this cycle ({names})",
                    "Align it to the parent objective (or key result) it contributes to; if it "
                    "contributes to none, ask whether it belongs in this cycle.",
                ),
            )


def _parent_level_teams(o: ObjectiveSpec, organisation: Organisation) -> set[UUID]:
    """For a team's objective, its parent team; for a person's, the teams they belong to."""
    if o.owner_team_id is not None:
        parent = organisation.team_parents.get(o.owner_team_id)
        return {parent} if parent is not None else set()
    if o.owner_person_id is not None:
        return set(organisation.person_teams.get(o.owner_person_id, ()))
    return set()


# ------------------------------------------------------------------ linting


def lint(
    objectives: Sequence[ObjectiveSpec],
    *,
    organisation: Organisation | None = None,
    levels: Mapping[str, str] | None = None,
    only: UUID | None = None,
) -> list[Finding]:
    """Findings for `objectives` (one cycle's, usually), in a stable order.

    Abandoned objectives are left out. `levels` maps check → off | warn | block (missing
    checks warn). With `only`, just the findings that concern that objective.
    """
    org = organisation or Organisation()
    chosen = {Check(k): Level(v) for k, v in (levels or {}).items()}
    live = [o for o in objectives if o.status != "abandoned"]
    order = {o.objective_id: i for i, o in enumerate(live)}
    found: list[tuple[Check, Finding]] = []
    for o in live:
        if only is None or o.objective_id == only:
            found.extend(_local(o))
    found.extend(_across(live, org))
    out: list[Finding] = []
    for check, finding in found:
        level = chosen.get(check, Level.WARN)
        if level == Level.OFF:
            continue
        if only is not None and not finding.concerns(only):
            continue
        out.append(replace(finding, check=check.value, level=level.value))
    checks = list(Check)

    def rank(f: Finding) -> tuple[int, int, str]:
        anchor = f.objective_id if f.objective_id is not None else f.related[0]
        return (order.get(anchor, len(order)), checks.index(Check(f.check)), f.field)

    return sorted(out, key=rank)


def blocking(findings: Iterable[Finding], objective_id: UUID) -> list[Finding]:
    """The findings that keep `objective_id` from being submitted."""
    return [f for f in findings if f.level == Level.BLOCK.value and f.concerns(objective_id)]


# ---------------------------------------------------------------- the policy

POLICY_ID = uuid5(NAMESPACE_URL, "okrledger:quality-policy")
"""The one quality policy of a deployment."""


class QualityPolicy(OkrAggregate):
    """How strict each check is; every check warns until configured otherwise."""

    if TYPE_CHECKING:  # state set by events; not dataclass fields of the aggregate
        levels: dict[str, Level]

    class Adopted(OkrAggregate.Created):
        def apply(self, policy: QualityPolicy) -> None:
            policy.levels = {c.value: Level.WARN for c in Check}

    class CheckConfigured(OkrAggregate.Event):
        check: str
        level: str

        def apply(self, policy: QualityPolicy) -> None:
            policy.levels[self.check] = Level(self.level)

    @classmethod
    def adopt(cls, ctx: CommandContext) -> QualityPolicy:
        return cls._create(cls.Adopted, id=POLICY_ID, **ctx.stamp())

    def configure(self, check: str, level: str, ctx: CommandContext, reason: str = "") -> None:
        check_ = require_choice(Check, check, "check")
        level_ = require_choice(Level, level, "level")
        if self.levels.get(check_.value) != level_:
            self._trigger(
                self.CheckConfigured,
                ctx,
                clean_text(reason, "reason"),
                check=check_.value,
                level=level_.value,
            )

    def as_dict(self) -> dict[str, str]:
        return {c.value: self.levels.get(c.value, Level.WARN).value for c in Check}

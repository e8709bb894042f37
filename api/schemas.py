"""Request and response bodies of the HTTP API, with descriptions and examples for OpenAPI.

Request bodies refuse unknown fields (a misspelt field is a 422, not silently ignored),
non-finite numbers and text holding control characters (`Line` and `Text`, rule
`control_character`). Domain rules (a target above the baseline, a confidence of 0-10 ...) are
checked by the domain and answered as 422/409 problem documents naming the rule.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from domain.access import Role
from domain.cycle import Cadence, Scoring
from domain.errors import forbidden_character
from domain.objective import Kind, Perspective
from domain.scoring import Direction, Measure
from domain.team import MemberRole

EXAMPLE_ID = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
EXAMPLE_ID_2 = "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"


def _refuse_control_characters(multiline: bool) -> AfterValidator:
    allowed = " other than tab, line feed and carriage return" if multiline else ""

    def check(value: str) -> str:
        character = forbidden_character(value, multiline=multiline)
        if character is not None:
            raise PydanticCustomError(
                "control_character",
                "must not contain control characters{allowed}, unpaired surrogates or "
                "noncharacters (found U+{code})",
                {"allowed": allowed, "code": f"{ord(character):04X}"},
            )
        return value

    return AfterValidator(check)


_NOT_IN_TEXT = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
_NOT_IN_LINE = r"\x00-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"

Line = Annotated[
    str,
    _refuse_control_characters(multiline=False),
    Field(json_schema_extra={"pattern": f"^[^{_NOT_IN_LINE}]*$"}),
]
"""Single-line text (names, titles, labels, units, keys): no control character at all."""

Text = Annotated[
    str,
    _refuse_control_characters(multiline=True),
    Field(json_schema_extra={"pattern": f"^[^{_NOT_IN_TEXT}]*$"}),
]
"""Paragraphs (descriptions, notes, comments, reasons): tab, LF and CR allowed, no other
control character. Both refuse unpaired surrogates and noncharacters (domain.errors)."""


class Body(BaseModel):
    """A request body: unknown fields and non-finite numbers are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    def arguments(self) -> dict[str, Any]:
        """The fields by name, for a command whose parameters are named as the body's fields
        (every field, sent or defaulted)."""
        return dict(self)


def examples(*items: dict[str, Any]) -> ConfigDict:
    """A request body's configuration (as `Body`'s) with the examples its schema shows."""
    return ConfigDict(
        extra="forbid", allow_inf_nan=False, json_schema_extra={"examples": list(items)}
    )


class Out(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)


# ------------------------------------------------------------------- problems


class FieldProblem(BaseModel):
    field: str | None = Field(description="The offending field (dotted path), if any.")
    rule: str = Field(description="The rule that was broken.")
    message: str


class ProblemOut(BaseModel):
    """An RFC 9457 problem document (`application/problem+json`)."""

    status: int = Field(examples=[422])
    title: str = Field(examples=["Unprocessable Content"])
    rule: str = Field(
        description="Machine-readable name of the rule the request broke.",
        examples=["confidence_out_of_range"],
    )
    detail: str = Field(examples=["confidence must be a whole number from 0 to 10"])
    field: str | None = Field(
        default=None, description="The field the rule is about, if any.", examples=["confidence"]
    )
    errors: list[FieldProblem] = Field(
        default_factory=list, description="Every problem found (validation may find several)."
    )
    current_version: int | None = Field(
        default=None,
        description="On 409 `concurrent_write` and 412 `version_mismatch`: the aggregate's "
        "current version, to read again and retry.",
    )


# ------------------------------------------------------------------- commands


class CommandResultOut(Out):
    """What every command answers: the aggregate written, its new version and the log position
    of the write (pass it as `min_position` to read your own write)."""

    id: UUID = Field(description="The aggregate the command wrote (or created).")
    version: int = Field(description="Its version after the command; also the `ETag`.")
    position: int | None = Field(
        description="Notification-log position of the write; null when nothing changed."
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": EXAMPLE_ID, "version": 4, "position": 1207}]}
    )


class KeyResultCommandResult(CommandResultOut):
    key_result_id: UUID = Field(description="The key result created or changed.")


class CheckInCommandResult(CommandResultOut):
    check_in_id: UUID = Field(description="The check-in (or correction) recorded.")


class AmendmentCommandResult(CommandResultOut):
    amendment_id: UUID = Field(description="The amendment proposed or decided.")


class TokenIssued(CommandResultOut):
    """A new bearer token. The secret is shown only here, once; only its hash is stored."""

    token: str = Field(examples=["okr_3q2VbT..."], description="The bearer secret.")
    token_id: UUID
    person_id: UUID
    role: Role


# --------------------------------------------------------------------- people


class PersonCreate(Body):
    name: Line = Field(min_length=1, max_length=200, examples=["Ada Lovelace"])
    email: Line = Field(min_length=3, max_length=320, examples=["ada@acme.example"])

    model_config = examples({"name": "Ada Lovelace", "email": "ada@acme.example"})


class PersonPatch(Body):
    name: Line = Field(min_length=1, max_length=200, examples=["Ada King"])

    model_config = examples({"name": "Ada King"})


class Reason(Body):
    reason: Text = Field(
        min_length=1, max_length=2000, examples=["left the company"], description="Why."
    )

    model_config = examples({"reason": "left the company"})


class PersonEmailChange(Body):
    """A person's new e-mail: the same person (id, history, tokens), found by it from now on."""

    email: Line = Field(min_length=3, max_length=320, examples=["ada.king@acme.example"])
    reason: Text = Field(min_length=1, max_length=2000, examples=["married"], description="Why.")

    model_config = examples({"email": "ada.king@acme.example", "reason": "married"})


class PersonOut(Out):
    id: UUID
    version: int
    name: str
    email: str
    active: bool


class Membership(Out):
    team_id: UUID
    team_name: str
    role: MemberRole


class Me(Out):
    """The caller: the token's person and role, and the teams they belong to."""

    person_id: UUID
    name: str
    email: str
    role: Role = Field(description="The role of the token used.")
    token_id: UUID
    teams: list[Membership]
    managed_team_ids: list[UUID] = Field(
        description="Teams the person manages, with every team below them."
    )


# ---------------------------------------------------------------------- teams


class TeamCreate(Body):
    name: Line = Field(min_length=1, max_length=200, examples=["Platform"])
    parent_id: UUID | None = Field(default=None, description="The team above; none for the top.")

    model_config = examples({"name": "Platform", "parent_id": EXAMPLE_ID})


class TeamPatch(Body):
    """Rename and/or move a team. Sending `parent_id: null` moves it to the top."""

    name: Line | None = Field(default=None, min_length=1, max_length=200)
    parent_id: UUID | None = None

    model_config = examples({"name": "Platform & Infra", "parent_id": EXAMPLE_ID})


class MemberAdd(Body):
    person_id: UUID
    role: MemberRole = MemberRole.MEMBER

    model_config = examples({"person_id": EXAMPLE_ID, "role": "member"})


class MemberPatch(Body):
    role: MemberRole

    model_config = examples({"role": "manager"})


class TeamMember(Out):
    person_id: UUID
    role: MemberRole


class TeamOut(Out):
    id: UUID
    version: int
    name: str
    parent_id: UUID | None
    members: list[TeamMember]
    disbanded: bool


# --------------------------------------------------------------------- cycles


class CycleCreate(Body):
    name: Line = Field(min_length=1, max_length=100, examples=["2026 Q1"])
    starts_on: date = Field(examples=["2026-01-01"])
    ends_on: date = Field(examples=["2026-03-31"])
    cadence: Cadence = Field(default=Cadence.WEEKLY, description="Expected check-in cadence.")
    scoring: Scoring = Field(
        default=Scoring.SCALE, description="`yes_no` (achieved or not) or `scale` (0.0-1.0)."
    )
    success_threshold: float = Field(
        default=0.7, gt=0.0, le=1.0, description="Score at which a key result counts achieved."
    )

    model_config = examples(
        {
            "name": "2026 Q1",
            "starts_on": "2026-01-01",
            "ends_on": "2026-03-31",
            "cadence": "weekly",
            "scoring": "scale",
        }
    )


class CycleOut(Out):
    id: UUID
    version: int
    name: str
    starts_on: date
    ends_on: date
    cadence: Cadence
    scoring: Scoring
    success_threshold: float
    phase: str = Field(examples=["active"], description="planning, active, grading or closed")


# ----------------------------------------------------------------- objectives


class ObjectiveCreate(Body):
    """Draft an objective owned by exactly one team or one person."""

    cycle_id: UUID
    owner_team_id: UUID | None = None
    owner_person_id: UUID | None = None
    title: Line = Field(min_length=1, max_length=200, examples=["Customers love our onboarding"])
    description: Text = Field(default="", max_length=10_000)
    kind: Kind = Field(
        default=Kind.COMMITTED, description="`committed` (expect 1.0) or `aspirational` (~0.7)."
    )
    parent_objective_id: UUID | None = Field(default=None, description="Align to an objective.")
    parent_key_result_id: UUID | None = Field(
        default=None, description="Align to a key result of `parent_objective_id`."
    )
    perspective: Perspective | None = Field(
        default=None, description="Balanced Scorecard perspective."
    )
    private: bool = Field(
        default=False,
        description="Seen only by its owner, the owner's managers, its approver, admins and "
        "auditors.",
    )

    @model_validator(mode="after")
    def _one_owner(self) -> ObjectiveCreate:
        if (self.owner_team_id is None) == (self.owner_person_id is None):
            raise ValueError("exactly one of owner_team_id and owner_person_id is required")
        return self

    model_config = examples(
        {
            "cycle_id": EXAMPLE_ID,
            "owner_team_id": EXAMPLE_ID_2,
            "title": "Customers love our onboarding",
            "kind": "committed",
            "perspective": "customer",
        }
    )


class ObjectivePatch(Body):
    """Reword, realign (send `parent_objective_id` / `parent_key_result_id`, null to detach)
    and/or reassign (send `owner_team_id` or `owner_person_id`) in one atomic change. After
    approval, a `reason` is required."""

    title: Line | None = Field(default=None, min_length=1, max_length=200)
    description: Text | None = Field(default=None, max_length=10_000)
    parent_objective_id: UUID | None = None
    parent_key_result_id: UUID | None = None
    owner_team_id: UUID | None = None
    owner_person_id: UUID | None = None
    reason: Text = Field(default="", max_length=2000)

    model_config = examples(
        {"title": "Customers finish onboarding in a day", "reason": "sharper wording"}
    )


class KeyResultCreate(Body):
    title: Line = Field(min_length=1, max_length=200, examples=["Activation rate from 40% to 60%"])
    measure: Measure = Field(description="`metric` (a number toward a target) or `milestone`.")
    baseline: float | None = Field(default=None, examples=[40.0])
    target: float | None = Field(default=None, examples=[60.0])
    unit: Line = Field(default="", max_length=50, examples=["%"])
    direction: Direction = Direction.INCREASE
    weight: float = Field(default=1.0, ge=0.0, le=1_000_000)

    model_config = examples(
        {
            "title": "Activation rate from 40% to 60%",
            "measure": "metric",
            "baseline": 40,
            "target": 60,
            "unit": "%",
            "direction": "increase",
            "weight": 1.0,
        }
    )


class KeyResultPatch(Body):
    """Edit a key result of a draft (after approval, propose an amendment instead)."""

    title: Line | None = Field(default=None, min_length=1, max_length=200)
    baseline: float | None = None
    target: float | None = None
    weight: float | None = Field(default=None, ge=0.0, le=1_000_000)
    reason: Text = Field(default="", max_length=2000)

    model_config = examples({"target": 65, "reason": "the manager asked for more"})


class Submit(Body):
    approver_id: UUID = Field(description="Who is asked to approve (usually the team manager).")

    model_config = examples({"approver_id": EXAMPLE_ID})


class Comment(Body):
    comment: Text = Field(min_length=1, max_length=2000, examples=["Target too low for Q1"])

    model_config = examples({"comment": "Target too low for Q1"})


class OptionalComment(Body):
    comment: Text = Field(default="", max_length=2000)

    model_config = examples({"comment": "agreed"})


class KeyResultChange(Body):
    title: Line | None = Field(default=None, min_length=1, max_length=200)
    baseline: float | None = None
    target: float | None = None
    weight: float | None = Field(default=None, ge=0.0, le=1_000_000)

    model_config = examples({"target": 75.0})


class NewKeyResult(Body):
    title: Line = Field(min_length=1, max_length=200)
    measure: Measure = Measure.METRIC
    baseline: float | None = None
    target: float | None = None
    unit: Line = Field(default="", max_length=50)
    direction: Direction = Direction.INCREASE
    weight: float = Field(default=1.0, ge=0.0, le=1_000_000)

    model_config = examples({"title": "Docs shipped", "measure": "milestone"})


class ChangeSet(Body):
    """Concrete changes to an objective: its wording, its key results' title, target,
    baseline or weight, key results to add or to remove."""

    title: Line | None = Field(default=None, min_length=1, max_length=200)
    description: Text | None = Field(default=None, max_length=10_000)
    key_results: dict[UUID, KeyResultChange] | None = Field(
        default=None, description="Key result id → the fields to change."
    )
    add_key_results: list[NewKeyResult] | None = None
    remove_key_results: list[UUID] | None = None

    def as_domain(self) -> dict[str, Any]:
        """The change set in the domain's form (ids as strings, only the fields sent)."""
        data = self.model_dump(mode="json", exclude_unset=True, exclude_none=True)
        for fields in (data.get("key_results") or {}).values():
            for name in [n for n, v in fields.items() if v is None]:
                del fields[name]
        return data

    model_config = examples({"key_results": {EXAMPLE_ID: {"target": 75.0}}, "title": "Delight"})


class CounterProposalIn(Body):
    changes: ChangeSet
    comment: Text = Field(min_length=1, max_length=2000)

    model_config = examples(
        {
            "changes": {"key_results": {EXAMPLE_ID: {"target": 75.0}}},
            "comment": "aim a bit higher",
        }
    )


class AmendmentCreate(Body):
    changes: ChangeSet
    reason: Text = Field(min_length=1, max_length=2000, examples=["Market shrank by a third"])

    model_config = examples(
        {
            "changes": {"key_results": {EXAMPLE_ID: {"target": 50.0}}},
            "reason": "Market shrank by a third",
        }
    )


class CheckInCreate(Body):
    value: float = Field(examples=[47.5])
    confidence: int = Field(ge=0, le=10, description="0 (no chance) to 10 (certain).")
    note: Text = Field(default="", max_length=2000)
    effective_on: date | None = Field(
        default=None,
        description="The day the value is true for (valid time); defaults to today.",
    )

    model_config = examples(
        {
            "value": 47.5,
            "confidence": 7,
            "note": "new funnel live",
            "effective_on": "2026-02-13",
        }
    )


class CorrectionCreate(Body):
    value: float
    confidence: int | None = Field(default=None, ge=0, le=10)
    note: Text | None = Field(default=None, max_length=2000)
    reason: Text = Field(min_length=1, max_length=2000, examples=["typo: 4.5 not 45"])

    model_config = examples({"value": 4.5, "reason": "typo: 4.5 not 45"})


class KeyResultGrade(Body):
    """`scale` cycles take a `score` (0.0-1.0, suggested from progress when omitted);
    `yes_no` cycles take `achieved`. A grade away from the suggestion needs a comment."""

    score: float | None = Field(default=None, ge=0.0, le=1.0)
    achieved: bool | None = None
    comment: Text = Field(default="", max_length=2000)

    model_config = examples({"score": 0.6, "comment": "partly reached"})


class ObjectiveGrade(Body):
    """Without a score, the key results' weighted mean stands."""

    score: float | None = Field(default=None, ge=0.0, le=1.0)
    comment: Text = Field(default="", max_length=2000)

    model_config = examples({"score": 0.7, "comment": "strong quarter"})


class Reflection(Body):
    text: Text = Field(min_length=1, max_length=10_000)

    model_config = examples(
        {"text": "We set the target before measuring the baseline; next time measure first."}
    )


class CarryOver(Body):
    to_cycle_id: UUID

    model_config = examples({"to_cycle_id": EXAMPLE_ID})


class TokenCreate(Body):
    person_id: UUID
    role: Role
    label: Line = Field(default="", max_length=200, examples=["laptop"])
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the token stops working (default: when revoked)."
    )
    read_only: bool = Field(default=False, description="The token may only read.")

    model_config = examples({"person_id": EXAMPLE_ID, "role": "member", "label": "laptop"})


# ----------------------------------------------------------- objective reads


class CheckInOut(Out):
    check_in_id: UUID
    value: float
    confidence: int
    note: str
    effective_on: date = Field(description="Valid time: the day the value is true for.")
    recorded_at: datetime = Field(description="Transaction time: when it was recorded.")
    actor: str
    supersedes: UUID | None = Field(description="For a correction: the check-in it replaces.")
    superseded_by: UUID | None
    reason: str


class KeyResultOut(Out):
    key_result_id: UUID
    lineage_id: UUID = Field(description="Survives carry-over into later cycles.")
    title: str
    measure: Measure
    baseline: float | None
    target: float | None
    unit: str
    direction: Direction
    weight: float
    removed: bool
    progress: float
    current_value: float | None = Field(description="Value of the check-in in force.")
    score: float | None
    achieved: bool | None
    grade_comment: str
    check_ins: list[CheckInOut] = Field(description="Every check-in, superseded ones included.")
    kpi_id: UUID | None = Field(
        default=None, description="The KPI this key result can take its check-ins from."
    )


class AmendmentOut(Out):
    amendment_id: UUID
    changes: dict[str, Any]
    reason: str
    proposed_by: str
    status: str = Field(examples=["pending"], description="pending, approved or rejected")
    decided_by: str | None
    comment: str


class CounterProposalOut(Out):
    changes: dict[str, Any]
    comment: str
    proposed_by: str


class ObjectiveOut(Out):
    """One objective as the event store holds it now (or at `as_of`); `version` is the ETag."""

    id: UUID
    version: int
    cycle_id: UUID
    owner_team_id: UUID | None
    owner_person_id: UUID | None
    title: str
    description: str
    kind: Kind
    perspective: Perspective | None
    parent_objective_id: UUID | None
    parent_key_result_id: UUID | None
    private: bool
    status: str = Field(
        examples=["approved"],
        description="draft, in_review, changes_requested, countered, approved or abandoned",
    )
    approver_id: UUID | None
    submitted_by: str | None
    approved_by: str | None
    review_comment: str
    counter_proposal: CounterProposalOut | None
    amendments: list[AmendmentOut]
    key_results: list[KeyResultOut]
    score: float | None = Field(description="Explicit grade, else the key results' weighted mean.")
    grade_comment: str
    reflection: str
    carried_from: UUID | None
    carried_to: UUID | None
    abandon_reason: str
    as_of: datetime | None = Field(
        default=None, description="The instant asked for, when read with `as_of`."
    )
    theme_id: UUID | None = Field(
        default=None, description="The strategic theme the objective is tagged with."
    )


# ----------------------------------------------------------------- lists


class Page(Out):
    total: int = Field(description="How many items match, over all pages.")
    limit: int
    offset: int


class PeoplePage(Page):
    items: list[PersonOut]


class TeamsPage(Page):
    items: list[TeamOut]


class CyclesPage(Page):
    items: list[CycleOut]


class ObjectivesPage(Page):
    items: list[dict[str, Any]] = Field(description="Objectives as the alignment tree shows them.")


# ----------------------------------------------------------------- queries
# The read models render these; the API documents their stable core and lets the rest through.


class ReadOut(BaseModel):
    model_config = ConfigDict(extra="allow")


class History(ReadOut):
    objective_id: UUID
    cycle_id: UUID
    title: str
    timeline: list[dict[str, Any]] = Field(
        description="Every event: position, recorded_at, event_type, actor, reason, summary."
    )
    key_results: dict[str, dict[str, Any]] = Field(
        description="Key result id → its check-ins in log order, corrections included."
    )


class Tree(Out):
    cycle_id: UUID
    team_id: UUID | None
    position: int | None = Field(
        description="The log position shown, live reads included (as `OKR-Position`)."
    )
    as_of: datetime | None
    roots: list[dict[str, Any]] = Field(
        description="Objectives without a (visible) parent; each nests its `children`."
    )


class Replay(Out):
    cycle_id: UUID
    step: str
    frames: list[dict[str, Any]] = Field(
        description="Per day or week: `boundary`, `position`, `tree` and the `events` in it."
    )


class Diff(ReadOut):
    from_position: int
    to_position: int
    changes: list[dict[str, Any]] = Field(
        description="kind, objective_id, title, key_result_id?, before, after, and `by`: who "
        "made the change, why, and who approved it."
    )


class Comparison(ReadOut):
    cycles: list[dict[str, Any]] = Field(
        description="Per cycle: the organisation's and each team's figures."
    )


class Inbox(ReadOut):
    person_id: UUID
    items: list[dict[str, Any]]
    total: int


class StalePage(Out):
    items: list[dict[str, Any]] = Field(description="Longest-silent first.")
    failing_sources: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Key results whose data source fails (the rule, the last error, since "
        "when, how many fetches in a row), longest failing first (docs/data-sources.md).",
    )


class AuditPage(Out):
    items: list[dict[str, Any]] = Field(
        description="position, recorded_at, actor, event_type, entity, action, before, after, "
        "reason, approver (with names)."
    )
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last.")


class AnswerCheckOut(Out):
    position: int = Field(description="The saved answer's position (`OKR-Position`).")
    hash: str | None = Field(description="The hash given (`OKR-Chain-Hash`), hex.")
    stored_hash: str = Field(description="The stored chain's hash at `position`, hex.")
    matches: bool | None = Field(description="Whether they are equal (null: no hash given).")


class ChainVerification(Out):
    ok: bool
    count: int = Field(description="Links verified (before the first problem, if any).")
    head_position: int | None
    head_hash: str | None = Field(description="Hex SHA-256 of the last verified link.")
    problem: str | None = Field(
        description="edited, deleted, inserted or reordered (the chain itself), rewritten (the "
        "chain no longer matches a signed checkpoint), forged-checkpoint, or hash_mismatch "
        "(the chain's hash at `position` is not the `hash` given)."
    )
    position: int | None = Field(description="Where the first problem is.")
    detail: str
    checkpoints_checked: int = Field(
        0, description="Signed checkpoints whose signature and hash were checked."
    )
    latest_checkpoint_position: int | None = Field(
        None, description="The newest signed checkpoint's position, if any."
    )
    answer: AnswerCheckOut | None = Field(
        None,
        description="With `position` (and `hash`): the saved answer's hash against the chain's.",
    )


# ----------------------------------------------------------------- health


class HealthOut(Out):
    status: str = Field(examples=["ok"])


class Ready(Out):
    status: str = Field(examples=["ready"], description="`ready` or `not_ready`.")
    database: bool
    log_position: int | None = Field(description="The event store's last position.")
    projections_position: int | None = Field(
        description="Where the live projections are (null when none run in this process)."
    )
    lag: int | None
    max_lag: int
    kafka: dict[str, Any] | None = Field(
        None,
        description="With OKR_KAFKA_BOOTSTRAP: the relay's lag (`relay.lag`, events not yet "
        "acknowledged by the broker; `relay.active`) and the projection workers' "
        "(`workers.unapplied`, `workers.last_batch_at`). Reported, not gating: see docs/deploy.md.",
    )


OPENAPI_NAMES = {
    "ProblemOut": "Problem",
    "CommandResultOut": "CommandResult",
    "PersonOut": "Person",
    "TeamOut": "Team",
    "CycleOut": "Cycle",
    "CounterProposalIn": "CounterProposal",
    "CheckInOut": "CheckIn",
    "KeyResultOut": "KeyResult",
    "AmendmentOut": "Amendment",
    "ObjectiveOut": "Objective",
    "AnswerCheckOut": "AnswerCheck",
    "HealthOut": "Health",
}
"""The models whose Python names differ from what clients see: the OpenAPI document names them
(component and title) as before (`api/app.py`), so the Python names cannot be confused with the
domain's (`domain.objective.Objective`, `domain.application.CommandResult`...) while the
published contract stays the same."""

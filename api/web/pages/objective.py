"""The objective page and every form on it, plus drafting a new objective.

Reads come from the event store (the objective itself, as the API presents it) and the read
models (history, progress, health). Each form posts to a route here that calls the API's own
route function for that command, so authorization, validation and If-Match (the form's
`version`) are exactly the API's. Which forms are offered is decided with `api.policy`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast
from uuid import UUID

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api import policy, present
from api import schemas as s
from api.deps import visible_objective
from api.errors import ApiError
from api.usecases.objectives import ObjectiveUseCases
from api.usecases.queries import QueryUseCases
from api.web import charts, data
from api.web.site import (
    Form,
    FormBuilder,
    FormDep,
    FormError,
    FreshViewerDep,
    Names,
    PageNotFound,
    Viewer,
    ViewerDep,
    act,
    form_command,
    render,
    web,
)
from domain.base import OkrAggregate
from domain.objective import EDITABLE, Objective, Status
from domain.scoring import suggested_score
from infra import answer
from projections.directory import DirectoryState

NEGOTIATION = {
    "SubmittedForApproval": ("submitted", "submitted it for approval"),
    "Withdrawn": ("withdrawn", "withdrew the submission"),
    "ChangesRequested": ("changes", "requested changes"),
    "CounterProposed": ("counter", "counter-proposed"),
    "CounterProposalAccepted": ("approved", "accepted the counter-proposal"),
    "CounterProposalDeclined": ("changes", "declined the counter-proposal to revise"),
    "Approved": ("approved", "approved"),
    "AmendmentProposed": ("counter", "proposed an amendment"),
    "AmendmentApproved": ("approved", "approved the amendment"),
    "AmendmentRejected": ("changes", "rejected the amendment"),
    "Abandoned": ("changes", "abandoned the objective"),
}


OBJECTIVE = "/objectives/{objective_id}"
"""The objective's page; its forms post below it."""


def _url(objective_id: object) -> str:
    return OBJECTIVE.format(objective_id=objective_id)


# ------------------------------------------------------------------ what may be done


@dataclass(frozen=True)
class Allowed:
    """The forms the page offers, from `api.policy` and the objective's state."""

    edit: bool = False
    withdraw: bool = False
    review: bool = False
    accept_counter: bool = False
    amend: bool = False
    decide_amendment: bool = False
    check_in: bool = False
    grade: bool = False
    grade_needs_comment: bool = False
    reflect: bool = False
    abandon: bool = False
    carry_over: bool = False

    @property
    def anything(self) -> bool:
        return any(
            getattr(self, name)
            for name in self.__dataclass_fields__
            if name != "grade_needs_comment"
        )


def allowed(viewer: Viewer, o: Objective, phase: str) -> Allowed:
    contribute = viewer.may(policy.may_contribute, o)
    decide = viewer.may(policy.may_decide, o)
    adjustment = viewer.may(policy.grade_is_adjustment, o)
    me = viewer.principal.actor
    planning = phase in ("planning", "active")
    tracking = phase in ("active", "grading")
    live = o.status != Status.ABANDONED
    pending = o.pending_amendment
    return Allowed(
        edit=contribute and o.status in EDITABLE and planning,
        withdraw=contribute and o.status == Status.IN_REVIEW and planning,
        review=decide and o.status == Status.IN_REVIEW and o.submitted_by != me and planning,
        accept_counter=contribute and o.status == Status.COUNTERED and planning,
        amend=contribute and o.status == Status.APPROVED and pending is None and planning,
        decide_amendment=decide and pending is not None and pending.proposed_by != me and planning,
        check_in=contribute and o.status == Status.APPROVED and tracking,
        grade=(contribute or decide) and o.status == Status.APPROVED and phase == "grading",
        grade_needs_comment=adjustment,
        reflect=contribute and live and phase == "grading",
        abandon=contribute and live and phase != "closed",
        carry_over=contribute and live and o.carried_to is None and tracking,
    )


# -------------------------------------------------------------------- the thread


@dataclass(frozen=True)
class ThreadEntry:
    when: datetime
    actor: str
    verb: str
    css: str
    comment: str
    reason: str
    changes: tuple[str, ...]


def describe_changes(changes: dict[str, Any], o: Objective) -> tuple[str, ...]:
    """A counter-proposal's or amendment's changes as lines for a person."""
    out: list[str] = []
    if "title" in changes:
        out.append(f"title → “{changes['title']}”")
    if "description" in changes:
        out.append("description reworded")
    for kr_id, fields in (changes.get("key_results") or {}).items():
        kr = o.key_results.get(UUID(str(kr_id)))
        name = kr.title if kr else "a key result"
        for field_name, value in fields.items():
            before = getattr(kr, field_name, None) if kr else None
            shown = charts.fmt_number(value) if isinstance(value, int | float) else f"“{value}”"
            was = (
                f" (was {charts.fmt_number(before)})"
                if isinstance(before, int | float) and field_name != "title"
                else ""
            )
            out.append(f"{field_name} of “{name}” → {shown}{was}")
    for new in changes.get("add_key_results") or []:
        out.append(f"add key result “{new.get('title', '')}”")
    for removed in changes.get("remove_key_results") or []:
        kr = o.key_results.get(UUID(str(removed)))
        out.append(f"remove key result “{kr.title if kr else removed}”")
    return tuple(out)


def thread(viewer: Viewer, o: Objective, names: Names) -> list[ThreadEntry]:
    """Submissions, reviews, counter-proposals, approvals and amendments, from the stored
    events of this objective (with every comment and reason)."""
    entries = []
    stored = viewer.services.ledger.repository.event_store.get(o.id, lte=o.version)
    for event in cast(Iterable[OkrAggregate.Event], stored):
        kind = type(event).__name__
        if kind not in NEGOTIATION:
            continue
        css, verb = NEGOTIATION[kind]
        if kind == "SubmittedForApproval":
            verb = (
                f"submitted it for approval to {names.person(getattr(event, 'approver_id', None))}"
            )
        changes = getattr(event, "changes", None) or {}
        entries.append(
            ThreadEntry(
                when=event.timestamp,
                actor=names.person(event.actor),
                verb=verb,
                css=css,
                comment=getattr(event, "comment", "") or "",
                reason=event.reason or "",
                changes=describe_changes(changes, o) if changes else (),
            )
        )
    return entries


# ------------------------------------------------------------------------ the page


def _points(kr: s.KeyResultOut, names: Names) -> list[charts.Point]:
    points = []
    for c in kr.check_ins:
        label = (
            f"{charts.fmt_number(c.value, kr.unit)} on {c.effective_on}, confidence "
            f"{c.confidence}, by {names.person(c.actor)}"
        )
        if c.superseded_by is not None:
            label += " — superseded by a correction"
        if c.supersedes is not None:
            label += f" — correction: {c.reason}"
        points.append(
            charts.Point(c.effective_on, c.value, c.confidence, c.superseded_by is not None, label)
        )
    return points


@dataclass(frozen=True)
class KeyResultPanel:
    kr: s.KeyResultOut
    view: dict[str, Any]
    chart: Any
    spark: Any
    live: list[s.CheckInOut]
    suggested: float


def _panels(
    shown: s.ObjectiveOut, view: dict[str, Any] | None, cycle: data.CycleInfo, names: Names
) -> list[KeyResultPanel]:
    views = {kr["key_result_id"]: kr for kr in (view or {}).get("key_results", [])}
    today = datetime.now(UTC).date()
    panels = []
    for kr in shown.key_results:
        if kr.removed:
            continue
        live = sorted(
            (c for c in kr.check_ins if c.superseded_by is None), key=lambda c: c.effective_on
        )
        panels.append(
            KeyResultPanel(
                kr=kr,
                view=views.get(str(kr.key_result_id), {}),
                chart=charts.key_result_chart(_points(kr, names), kr, cycle, today),
                spark=charts.sparkline([c.confidence for c in live]),
                live=list(reversed(live)),
                suggested=suggested_score(kr.progress),
            )
        )
    return panels


@web.get("/objectives/new")
def new_objective_page(
    request: Request, viewer: ViewerDep, cycle: str | None = None
) -> HTMLResponse:
    chosen, all_cycles = data.pick_cycle(viewer, cycle)
    open_cycles = [c for c in all_cycles if c.phase in ("planning", "active")]
    if chosen is not None and chosen.phase not in ("planning", "active"):
        chosen = open_cycles[-1] if open_cycles else None
    parents = []
    if chosen is not None:
        parents = [
            (node["objective_id"], "\u2003" * depth + node["title"])
            for node, depth in data.walk(data.tree(viewer, chosen.id))
            if node["state"] != "abandoned"
        ]
    return render(
        request,
        "objective_new.html",
        viewer,
        cycle=chosen,
        cycles=open_cycles,
        owners=_owners(viewer),
        parents=parents,
        perspectives=("financial", "customer", "internal_process", "learning_growth"),
    )


def _owners(viewer: Viewer) -> list[tuple[str, str]]:
    """Who the viewer may draft for (the policy's `may_reassign_to`): themselves and teams."""
    me = viewer.principal.person_id
    me_label = f"Me ({viewer.name})"
    teams = data.teams(viewer)  # (asks the directory itself: not inside `read`)

    def read(d: DirectoryState) -> list[tuple[str, str]]:
        out = []
        if policy.may_reassign_to(d, viewer.principal, None, me):
            out.append((f"person:{me}", me_label))
        for team in teams:
            if policy.may_reassign_to(d, viewer.principal, UUID(team.id), None):
                out.append((f"team:{team.id}", f"Team {team.name}"))
        return out

    found: list[tuple[str, str]] = viewer.ask(read)
    return found


@web.post("/objectives")
def create_objective(viewer: ViewerDep, form: FormDep) -> RedirectResponse:
    cycle = form.get("cycle_id")
    back = f"/objectives/new?cycle={cycle}"

    def draft() -> Any:
        kind, _, owner = form.get("owner").partition(":")
        if kind not in ("team", "person") or not owner:
            raise FormError("Choose who owns the objective.")
        body = s.ObjectiveCreate.model_validate(
            {
                "cycle_id": form.get("cycle_id"),
                "owner_team_id": owner if kind == "team" else None,
                "owner_person_id": owner if kind == "person" else None,
                "title": form.get("title"),
                "description": form.get("description"),
                "kind": form.get("kind") or "committed",
                "parent_objective_id": form.uuid("parent_objective_id"),
                "perspective": form.text("perspective"),
                "private": form.checked("private"),
            }
        )
        return _uses(viewer).draft(body)

    return act(
        viewer,
        back,
        draft,
        "Draft saved. Add key results, then submit it for approval.",
        then=lambda result: _url(result.id),
    )


@web.get("/objectives/{objective_id}")
def objective_page(
    request: Request,
    objective_id: UUID,
    viewer: FreshViewerDep,
    as_of: str | None = None,
) -> HTMLResponse:
    services = viewer.services
    instant = data.parse_local(as_of) if as_of else None
    version = None
    if instant is not None and services.readmodels is not None:
        version = services.readmodels.version_at(objective_id, instant)
        if version is None:
            raise PageNotFound("objective at that moment")
    o = visible_objective(services, viewer.principal, objective_id, version)
    shown = present.objective(o)
    cycle = next((c for c in data.cycles(viewer) if c.id == str(o.cycle_id)), None)
    if cycle is None:
        raise PageNotFound("cycle")
    readmodels = services.readmodels
    view = readmodels.objective(objective_id) if readmodels and instant is None else None
    history: dict[str, Any] = {}
    if readmodels is not None:
        history = QueryUseCases(viewer.caller).history(objective_id)
    names = viewer.names
    timeline = history.get("timeline", [])
    if instant is not None and readmodels is not None:
        position = readmodels.position_at(instant) or 0
        timeline = [e for e in timeline if e["position"] <= position]
        answer.pin(position)  # the page shows the objective as it stood there
    can = Allowed() if instant is not None else allowed(viewer, o, cycle.phase)
    parent = None
    if o.parent_objective_id is not None:
        try:
            parent = visible_objective(services, viewer.principal, o.parent_objective_id)
        except ApiError:
            parent = None
    approvers = data.approvers_for(
        viewer,
        str(o.owner_team_id) if o.owner_team_id else None,
        str(o.owner_person_id) if o.owner_person_id else None,
    )
    suggested = set(approvers)
    everyone = [(pid, name) for pid, name in data.people(viewer) if pid not in suggested]
    carry_targets = [
        c for c in data.cycles(viewer) if c.phase in ("planning", "active") and c.id != cycle.id
    ]
    return render(
        request,
        "objective.html",
        viewer,
        o=shown,
        state=(view or {}).get("state") or o.status.value,
        kind=o.kind.value,
        version=o.version,
        cycle=cycle,
        view=view or {},
        panels=_panels(shown, view, cycle, names),
        thread=thread(viewer, o, names),
        timeline=timeline,
        can=can,
        parent=parent,
        approvers=[(pid, names.person(pid)) for pid in approvers],
        everyone=everyone,
        pending=next((a for a in shown.amendments if a.status == "pending"), None),
        carry_targets=carry_targets,
        instant=instant,
        today=min(date.today(), cycle.ends_on).isoformat(),
        describe=lambda changes: describe_changes(changes, o),
    )


# --------------------------------------------------------------------------- forms


def _command(action: str, done: str) -> Callable[[FormBuilder], FormBuilder]:
    """A form route on the objective: run the command it builds, flash `done`, go back."""
    return form_command(OBJECTIVE, action, done)


def _uses(viewer: Viewer) -> ObjectiveUseCases:
    """The objectives' use cases as this viewer (the same door the HTTP routes use)."""
    return ObjectiveUseCases(viewer.caller)


def _kr(form: Form) -> UUID:
    return form.chosen("key_result_id", "Choose a key result.")


def _change_set(form: Form, o: Objective) -> s.ChangeSet:
    """The fields of a counter-proposal or amendment form that differ from the objective."""
    changes: dict[str, Any] = {}
    title = form.get("title")
    if title and title != o.title:
        changes["title"] = title
    edits: dict[str, dict[str, Any]] = {}
    for kr in o.active_key_results:
        fields: dict[str, Any] = {}
        new_title = form.get(f"kr-{kr.id}-title")
        if new_title and new_title != kr.title:
            fields["title"] = new_title
        for name in ("target", "baseline", "weight"):
            value = form.number(f"kr-{kr.id}-{name}")
            if value is not None and value != getattr(kr, name):
                fields[name] = value
        if fields:
            edits[str(kr.id)] = fields
    if edits:
        changes["key_results"] = edits
    return s.ChangeSet(**changes)


@_command("/edit", "Draft saved.")
def edit_draft(objective_id: UUID, viewer: Viewer, form: Form) -> Any:
    """Reword a draft (or an objective sent back for changes)."""
    body = s.ObjectivePatch(
        title=form.get("title"), description=form.get("description"), reason=form.get("reason")
    )
    return _uses(viewer).update(objective_id, body, form.version)


@_command("/key-results", "Key result added.")
def add_key_result(objective_id: UUID, viewer: Viewer, form: Form) -> Any:
    weight = form.number("weight")
    body = s.KeyResultCreate.model_validate(
        {**form.key_result(), "weight": 1.0 if weight is None else weight}
    )
    return _uses(viewer).add_key_result(objective_id, body, form.version)


@_command("/key-results/edit", "Key result saved.")
def edit_key_result(objective_id: UUID, viewer: Viewer, form: Form) -> Any:
    values = {
        "title": form.text("title"),
        "baseline": form.number("baseline"),
        "target": form.number("target"),
        "weight": form.number("weight"),
        "reason": form.get("reason"),
    }
    body = s.KeyResultPatch.model_validate({k: v for k, v in values.items() if v is not None})
    return _uses(viewer).update_key_result(objective_id, _kr(form), body, form.version)


@_command("/key-results/remove", "Key result removed.")
def remove_key_result(objective_id: UUID, viewer: Viewer, form: Form) -> Any:
    return _uses(viewer).remove_key_result(
        objective_id, _kr(form), form.get("reason"), form.version
    )


_FORM_COMMANDS: tuple[tuple[str, str, Callable[..., Any], Callable[[Form], Any] | None], ...] = (
    (
        "/submit",
        "Submitted for approval.",
        ObjectiveUseCases.submit,
        lambda form: s.Submit.model_validate({"approver_id": form.get("approver_id")}),
    ),
    (
        "/withdraw",
        "Submission withdrawn; the objective is a draft again.",
        ObjectiveUseCases.withdraw,
        None,
    ),
    ("/approve", "Approved.", ObjectiveUseCases.approve, None),
    (
        "/request-changes",
        "Changes requested.",
        ObjectiveUseCases.request_changes,
        lambda form: s.Comment(comment=form.get("comment")),
    ),
    (
        "/accept-counter",
        "Counter-proposal accepted: the objective is approved.",
        ObjectiveUseCases.accept_counter,
        None,
    ),
    (
        "/grade",
        "Objective graded.",
        ObjectiveUseCases.grade,
        lambda form: s.ObjectiveGrade(score=form.number("score"), comment=form.get("comment")),
    ),
    (
        "/reflection",
        "Reflection saved.",
        ObjectiveUseCases.reflect,
        lambda form: s.Reflection(text=form.get("text")),
    ),
    (
        "/abandon",
        "Objective abandoned; it stays in the tree and the history.",
        ObjectiveUseCases.abandon,
        lambda form: s.Reason(reason=form.get("reason")),
    ),
)
"""The commands a form states whole: (path, flash, use case, the body it builds from the form,
or None for a use case that needs only the version the page was read at)."""


def _form_command(
    path: str, done: str, use: Callable[..., Any], body: Callable[[Form], Any] | None
) -> None:
    def build(objective_id: UUID, viewer: Viewer, form: Form) -> Any:
        given = () if body is None else (body(form),)
        return use(_uses(viewer), objective_id, *given, form.version)

    build.__name__ = use.__name__
    _command(path, done)(build)


for _spec in _FORM_COMMANDS:
    _form_command(*_spec)


@_command("/counter-propose", "Counter-proposal sent.")
def counter_propose(objective_id: UUID, viewer: Viewer, form: Form) -> Any:
    o = visible_objective(viewer.services, viewer.principal, objective_id)
    body = s.CounterProposalIn(changes=_change_set(form, o), comment=form.get("comment"))
    return _uses(viewer).counter_propose(objective_id, body, form.version)


@_command("/amendments", "Amendment proposed; it waits for a decision.")
def propose_amendment(objective_id: UUID, viewer: Viewer, form: Form) -> Any:
    o = visible_objective(viewer.services, viewer.principal, objective_id)
    body = s.AmendmentCreate(changes=_change_set(form, o), reason=form.get("reason"))
    return _uses(viewer).propose_amendment(objective_id, body, form.version)


def _amendment(form: Form) -> UUID:
    return form.chosen("amendment_id", "Which amendment?")


@_command("/amendments/approve", "Amendment approved: its changes apply now.")
def approve_amendment(objective_id: UUID, viewer: Viewer, form: Form) -> Any:
    comment = s.OptionalComment(comment=form.get("comment")).comment
    return _uses(viewer).approve_amendment(objective_id, _amendment(form), comment, form.version)


@_command("/amendments/reject", "Amendment rejected.")
def reject_amendment(objective_id: UUID, viewer: Viewer, form: Form) -> Any:
    body = s.Comment(comment=form.get("comment"))
    return _uses(viewer).reject_amendment(objective_id, _amendment(form), body, form.version)


@_command("/check-ins", "Check-in recorded.")
def check_in(objective_id: UUID, viewer: Viewer, form: Form) -> Any:
    body = s.CheckInCreate.model_validate(
        {
            "value": form.number("value"),
            "confidence": form.integer("confidence"),
            "note": form.get("note"),
            "effective_on": form.day("effective_on"),
        }
    )
    return _uses(viewer).check_in(objective_id, _kr(form), body, form.version)


@_command("/corrections", "Correction recorded; the wrong check-in stays in the history.")
def correct_check_in(objective_id: UUID, viewer: Viewer, form: Form) -> Any:
    check_in_id = form.chosen("check_in_id", "Choose the check-in to correct.")
    body = s.CorrectionCreate.model_validate(
        {
            "value": form.number("value"),
            "confidence": form.integer("confidence"),
            "note": form.text("note"),
            "reason": form.get("reason"),
        }
    )
    return _uses(viewer).correct_check_in(objective_id, _kr(form), check_in_id, body, form.version)


@_command("/key-results/grade", "Key result graded.")
def grade_key_result(objective_id: UUID, viewer: Viewer, form: Form) -> Any:
    achieved = form.get("achieved")
    body = s.KeyResultGrade(
        score=form.number("score"),
        achieved={"yes": True, "no": False}.get(achieved),
        comment=form.get("comment"),
    )
    return _uses(viewer).grade_key_result(objective_id, _kr(form), body, form.version)


@web.post("/objectives/{objective_id}/carry-over")
def carry_over(objective_id: UUID, viewer: ViewerDep, form: FormDep) -> RedirectResponse:
    """Draft a successor in a later cycle, then show it."""
    return act(
        viewer,
        _url(objective_id),
        lambda: _uses(viewer).carry_over(
            objective_id,
            s.CarryOver.model_validate({"to_cycle_id": form.get("to_cycle_id")}),
            form.version,
        ),
        "Carried over: this is the new draft in the later cycle.",
        then=lambda result: _url(result.id),
    )

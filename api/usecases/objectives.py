"""The objectives' use cases: draft, edit, negotiate, amend, check in, grade, carry over.

Each loads the objective the caller may see (a private one they may not see is a 404), asks
`api/policy.py` whether they may contribute to it or decide on it, and runs the ledger's
command with `expected` (If-Match) as its expected version. Most say only which (`@contributes`,
`@decides`: `api/usecases/__init__.py` `on_objective`) and which ledger command they run.
"""

from __future__ import annotations

from uuid import UUID

from api import policy
from api import schemas as s
from api.deps import authorize, facts_of, visible_objective
from api.errors import ApiError, forbidden, invalid, not_found
from api.usecases import Command, UseCases, on_objective
from domain.application import CommandResult
from domain.errors import NotFound
from domain.objective import Objective
from projections.directory import DirectoryState

CONTRIBUTORS = "only the objective's owners and the managers above them may do this"
DECIDERS = "only a manager of the owning team (or above it), or the named approver, decides"

contributes = on_objective(policy.may_contribute, CONTRIBUTORS)
"""Only the objective's owners and the managers above them."""
decides = on_objective(policy.may_decide, DECIDERS)
"""Only a manager of the owning team (or above it), or the named approver."""


class ObjectiveUseCases(UseCases):
    """The commands on objectives, for one caller."""

    # ------------------------------------------------------------ authorization

    def visible(self, objective_id: UUID, version: int | None = None) -> Objective:
        return visible_objective(self.services, self.principal, objective_id, version)

    def _grader(self, objective_id: UUID, comment: str) -> None:
        """Owners grade (the self-assessment); a manager above them may adjust, with a comment."""
        principal = self.principal
        facts = facts_of(self.visible(objective_id))

        def decide(directory: DirectoryState) -> tuple[bool, bool]:
            allowed = policy.may_contribute(directory, principal, facts) or policy.may_decide(
                directory, principal, facts
            )
            return allowed, policy.grade_is_adjustment(directory, principal, facts)

        allowed, adjustment = self.services.directory.ask(decide)
        if not allowed:
            raise forbidden("not_allowed", CONTRIBUTORS)
        if adjustment and not comment.strip():
            raise invalid(
                "adjustment_needs_comment",
                "a manager adjusting the owners' grade says why in a comment",
                "comment",
            )

    def _visible_parent(self, parent_id: UUID | None) -> None:
        """An objective may align only to a parent its author can see."""
        if parent_id is None:
            return
        try:
            self.visible(parent_id)
        except (NotFound, ApiError):
            raise not_found("objective", parent_id, "parent_objective_id") from None

    def _may_own(self, owner_team_id: UUID | None, owner_person_id: UUID | None) -> None:
        principal = self.principal
        if not self.services.directory.ask(
            lambda d: policy.may_reassign_to(d, principal, owner_team_id, owner_person_id)
        ):
            raise forbidden(
                "not_allowed",
                "members draft for themselves or a team they belong to; managers also for the "
                "teams below them",
            )

    def _as_grader(self, objective_id: UUID, comment: str, command: Command) -> CommandResult:
        self._grader(objective_id, comment)
        return self._run(objective_id, command)

    # ----------------------------------------------------------------- drafting

    def draft(self, body: s.ObjectiveCreate) -> CommandResult:
        self._may_own(body.owner_team_id, body.owner_person_id)
        self._visible_parent(body.parent_objective_id)
        return self._run(
            None,
            lambda ledger: ledger.draft_objective(ctx=self.ctx, **body.arguments()),
        )

    def update(
        self, objective_id: UUID, body: s.ObjectivePatch, expected: int | None
    ) -> CommandResult:
        objective = self.visible(objective_id)
        authorize(self.services, self.principal, objective, policy.may_contribute, CONTRIBUTORS)
        sent = body.model_fields_set
        realign = bool({"parent_objective_id", "parent_key_result_id"} & sent)
        reassign = bool({"owner_team_id", "owner_person_id"} & sent)
        if not (realign or reassign or {"title", "description"} & sent):
            raise invalid("nothing_to_change", "send at least one field to change", "body")
        if reassign:
            if (body.owner_team_id is None) == (body.owner_person_id is None):
                raise invalid(
                    "one_owner",
                    "an objective is owned by exactly one team or one person",
                    "owner_team_id",
                )
            self._may_own(body.owner_team_id, body.owner_person_id)
        if realign:
            self._visible_parent(body.parent_objective_id)
        return self._run(
            objective_id,
            lambda ledger: ledger.update_objective.expecting(expected)(
                objective_id, self.ctx, realign=realign, reassign=reassign, **body.arguments()
            ),
        )

    @contributes
    def abandon(self, objective_id: UUID, body: s.Reason, expected: int | None) -> Command:
        return lambda ledger: ledger.abandon_objective.expecting(expected)(
            objective_id, body.reason, self.ctx
        )

    @contributes
    def add_key_result(
        self, objective_id: UUID, body: s.KeyResultCreate, expected: int | None
    ) -> Command:
        return lambda ledger: ledger.add_key_result.expecting(expected)(
            objective_id, ctx=self.ctx, **body.arguments()
        )

    @contributes
    def update_key_result(
        self, objective_id: UUID, key_result_id: UUID, body: s.KeyResultPatch, expected: int | None
    ) -> Command:
        return lambda ledger: ledger.update_key_result.expecting(expected)(
            objective_id, key_result_id, self.ctx, **body.arguments()
        )

    @contributes
    def remove_key_result(
        self, objective_id: UUID, key_result_id: UUID, reason: str, expected: int | None
    ) -> Command:
        return lambda ledger: ledger.remove_key_result.expecting(expected)(
            objective_id, key_result_id, self.ctx, reason
        )

    # -------------------------------------------------------------- negotiation

    @contributes
    def submit(self, objective_id: UUID, body: s.Submit, expected: int | None) -> Command:
        return lambda ledger: ledger.submit_objective.expecting(expected)(
            objective_id, body.approver_id, self.ctx
        )

    @decides
    def approve(self, objective_id: UUID, expected: int | None) -> Command:
        return lambda ledger: ledger.approve_objective.expecting(expected)(objective_id, self.ctx)

    @decides
    def request_changes(self, objective_id: UUID, body: s.Comment, expected: int | None) -> Command:
        return lambda ledger: ledger.request_changes.expecting(expected)(
            objective_id, body.comment, self.ctx
        )

    @decides
    def counter_propose(
        self, objective_id: UUID, body: s.CounterProposalIn, expected: int | None
    ) -> Command:
        return lambda ledger: ledger.counter_propose.expecting(expected)(
            objective_id, body.changes.as_domain(), body.comment, self.ctx
        )

    @contributes
    def accept_counter(self, objective_id: UUID, expected: int | None) -> Command:
        return lambda ledger: ledger.accept_counter_proposal.expecting(expected)(
            objective_id, self.ctx
        )

    @contributes
    def withdraw(self, objective_id: UUID, expected: int | None) -> Command:
        return lambda ledger: ledger.withdraw_objective.expecting(expected)(objective_id, self.ctx)

    # --------------------------------------------------------------- amendments

    @contributes
    def propose_amendment(
        self, objective_id: UUID, body: s.AmendmentCreate, expected: int | None
    ) -> Command:
        return lambda ledger: ledger.propose_amendment.expecting(expected)(
            objective_id, body.changes.as_domain(), body.reason, self.ctx
        )

    @decides
    def approve_amendment(
        self, objective_id: UUID, amendment_id: UUID, comment: str, expected: int | None
    ) -> Command:
        return lambda ledger: ledger.approve_amendment.expecting(expected)(
            objective_id, amendment_id, self.ctx, comment
        )

    @decides
    def reject_amendment(
        self, objective_id: UUID, amendment_id: UUID, body: s.Comment, expected: int | None
    ) -> Command:
        return lambda ledger: ledger.reject_amendment.expecting(expected)(
            objective_id, amendment_id, body.comment, self.ctx
        )

    # ----------------------------------------------------------------- tracking

    @contributes
    def check_in(
        self, objective_id: UUID, key_result_id: UUID, body: s.CheckInCreate, expected: int | None
    ) -> Command:
        return lambda ledger: ledger.check_in.expecting(expected)(
            objective_id,
            key_result_id,
            body.value,
            body.confidence,
            self.ctx,
            body.note,
            body.effective_on,
        )

    @contributes
    def correct_check_in(
        self,
        objective_id: UUID,
        key_result_id: UUID,
        check_in_id: UUID,
        body: s.CorrectionCreate,
        expected: int | None,
    ) -> Command:
        return lambda ledger: ledger.correct_check_in.expecting(expected)(
            objective_id,
            key_result_id,
            check_in_id,
            body.value,
            body.reason,
            self.ctx,
            body.confidence,
            body.note,
        )

    # ------------------------------------------------------------------ grading

    def grade_key_result(
        self,
        objective_id: UUID,
        key_result_id: UUID,
        body: s.KeyResultGrade,
        expected: int | None,
    ) -> CommandResult:
        return self._as_grader(
            objective_id,
            body.comment,
            lambda ledger: ledger.grade_key_result.expecting(expected)(
                objective_id, key_result_id, self.ctx, body.score, body.achieved, body.comment
            ),
        )

    def grade(
        self, objective_id: UUID, body: s.ObjectiveGrade, expected: int | None
    ) -> CommandResult:
        return self._as_grader(
            objective_id,
            body.comment,
            lambda ledger: ledger.grade_objective.expecting(expected)(
                objective_id, self.ctx, body.score, body.comment
            ),
        )

    @contributes
    def reflect(self, objective_id: UUID, body: s.Reflection, expected: int | None) -> Command:
        return lambda ledger: ledger.reflect.expecting(expected)(objective_id, body.text, self.ctx)

    @contributes
    def carry_over(self, objective_id: UUID, body: s.CarryOver, expected: int | None) -> Command:
        return lambda ledger: ledger.carry_over.expecting(expected)(
            objective_id, body.to_cycle_id, self.ctx
        )

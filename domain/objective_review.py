"""Negotiating an objective (submission, review, counter-proposals) and amending it once approved."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self
from uuid import UUID, uuid4

from domain.base import CommandContext
from domain.cycle import Cycle
from domain.errors import InvalidValue, clean_text, require, require_text, require_value
from domain.objective_state import ObjectiveState
from domain.objective_values import (
    NEGOTIABLE_FIELDS,
    PLANNING_PHASES,
    Amendment,
    KeyResult,
    Status,
    validate_key_result,
)
from domain.quality import Finding


class Review(ObjectiveState):
    """The commands of the approval: submission, review, counter-proposals, amendments."""

    def submit_for_approval(
        self,
        cycle: Cycle,
        approver_id: UUID,
        ctx: CommandContext,
        blockers: Sequence[Finding] = (),
    ) -> None:
        """`blockers`: the quality coach's findings at level block (see domain.quality)."""
        cycle.require_open_for("submit an objective", *PLANNING_PHASES)
        self._require_editable("submit")
        require(
            bool(self.active_key_results),
            "key_results_required",
            "an objective needs at least one key result before it is submitted",
        )
        require(
            str(approver_id) != ctx.actor,
            "no_self_approval",
            "the approver must be someone other than the proposer",
            "approver_id",
        )
        if blockers:
            first = blockers[0]
            require(
                False,
                first.check,
                "the quality coach blocks submission: "
                + "; ".join(f"{f.message} ({f.suggestion})" for f in blockers),
                first.field,
            )
        self._trigger(self.SubmittedForApproval, ctx, approver_id=approver_id)

    def _require_in_review(self, doing: str, ctx: CommandContext) -> None:
        self._require_not_abandoned()
        require(
            self.status == Status.IN_REVIEW,
            "not_in_review",
            f"cannot {doing}: objective is {self.status.value}, not in review",
        )
        require(
            ctx.actor != self.submitted_by,
            "no_self_approval",
            "nobody approves or reviews their own proposal",
        )

    def approve(self, cycle: Cycle, ctx: CommandContext) -> None:
        cycle.require_open_for("approve an objective", *PLANNING_PHASES)
        self._require_in_review("approve", ctx)
        self._trigger(self.Approved, ctx, content_hash=self.content_hash())

    def request_changes(self, cycle: Cycle, comment: str, ctx: CommandContext) -> None:
        cycle.require_open_for("request changes", *PLANNING_PHASES)
        self._require_in_review("request changes", ctx)
        self._trigger(
            self.ChangesRequested, ctx, comment=require_text(comment, "comment", max_length=2000)
        )

    def counter_propose(
        self, cycle: Cycle, changes: dict[str, Any], comment: str, ctx: CommandContext
    ) -> None:
        cycle.require_open_for("counter-propose", *PLANNING_PHASES)
        self._require_in_review("counter-propose", ctx)
        self._trigger(
            self.CounterProposed,
            ctx,
            changes=self._normalise_changes(changes),
            comment=require_text(comment, "comment", max_length=2000),
        )

    def accept_counter_proposal(self, cycle: Cycle, ctx: CommandContext) -> None:
        cycle.require_open_for("accept a counter-proposal", *PLANNING_PHASES)
        self._require_not_abandoned()
        require(
            self.status == Status.COUNTERED and self.counter_proposal is not None,
            "no_counter_proposal",
            "there is no counter-proposal to accept",
        )
        assert self.counter_proposal is not None
        require(
            ctx.actor != self.counter_proposal.proposed_by,
            "no_self_approval",
            "the counter-proposal is accepted by the contributor, not by its author",
        )
        changes = self.counter_proposal.changes
        preview = self._preview(changes)
        self._trigger(
            self.CounterProposalAccepted,
            ctx,
            changes=changes,
            approved_by=self.counter_proposal.proposed_by,
            content_hash=preview.content_hash(),
        )

    def withdraw(self, cycle: Cycle, ctx: CommandContext) -> None:
        cycle.require_open_for("withdraw a submission", *PLANNING_PHASES)
        self._require_not_abandoned()
        require(
            self.status in (Status.IN_REVIEW, Status.COUNTERED, Status.CHANGES_REQUESTED),
            "not_submitted",
            f"nothing to withdraw: objective is {self.status.value}",
        )
        self._trigger(self.Withdrawn, ctx)

    # Amendments: the goalpost ledger.

    def propose_amendment(
        self, cycle: Cycle, changes: dict[str, Any], reason: str, ctx: CommandContext
    ) -> UUID:
        cycle.require_open_for("propose an amendment", *PLANNING_PHASES)
        self._require_not_abandoned()
        require(
            self.status == Status.APPROVED,
            "not_approved",
            "amendments change approved objectives; edit the draft directly instead",
        )
        require(
            self.pending_amendment is None,
            "amendment_pending",
            "another amendment is waiting for a decision",
        )
        amendment_id = uuid4()
        self._trigger(
            self.AmendmentProposed,
            ctx,
            reason=require_text(reason, "reason", max_length=2000),
            amendment_id=amendment_id,
            changes=self._normalise_changes(changes),
        )
        return amendment_id

    def _pending(self, amendment_id: UUID, ctx: CommandContext) -> Amendment:
        amendment = self.amendments.get(amendment_id)
        require_value(
            amendment is not None,
            "amendment_not_found",
            f"amendment {amendment_id} not found",
            "amendment_id",
        )
        assert amendment is not None
        require(
            amendment.status == "pending",
            "amendment_decided",
            f"amendment was already {amendment.status}",
        )
        require(
            ctx.actor != amendment.proposed_by,
            "no_self_approval",
            "nobody decides their own amendment",
        )
        return amendment

    def approve_amendment(
        self, cycle: Cycle, amendment_id: UUID, ctx: CommandContext, comment: str = ""
    ) -> UUID:
        cycle.require_open_for("approve an amendment", *PLANNING_PHASES)
        self._require_not_abandoned()
        amendment = self._pending(amendment_id, ctx)
        # Validate again against the state now: the objective may have moved since.
        changes = self._normalise_changes(amendment.changes, keep_ids=True)
        preview = self._preview(changes)
        self._trigger(
            self.AmendmentApproved,
            ctx,
            reason=clean_text(comment, "comment"),
            amendment_id=amendment_id,
            changes=changes,
            content_hash=preview.content_hash(),
        )
        return amendment_id

    def reject_amendment(
        self, cycle: Cycle, amendment_id: UUID, comment: str, ctx: CommandContext
    ) -> UUID:
        cycle.require_open_for("reject an amendment", *PLANNING_PHASES)
        self._require_not_abandoned()
        self._pending(amendment_id, ctx)
        self._trigger(
            self.AmendmentRejected,
            ctx,
            reason=require_text(comment, "comment", max_length=2000),
            amendment_id=amendment_id,
        )
        return amendment_id

    # ------------------------------------------------------ change sets

    def _normalise_changes(
        self, changes: dict[str, Any], *, keep_ids: bool = False
    ) -> dict[str, Any]:
        """Validate a counter-proposal's or amendment's changes and put them in canonical form.

        Added key results get fresh ids, unless `keep_ids` (re-validating changes already in
        canonical form, such as a pending amendment): then the ids the proposal announced stay.

        Shape: {"title"?, "description"?, "key_results"?: {id: {title?, target?, baseline?,
        weight?}}, "add_key_results"?: [{title, measure, baseline?, target?, unit?, direction?,
        weight?}], "remove_key_results"?: [id]}.
        """
        require_value(
            isinstance(changes, dict) and bool(changes),
            "changes_empty",
            "changes must not be empty",
            "changes",
        )
        unknown = set(changes) - {
            "title",
            "description",
            "key_results",
            "add_key_results",
            "remove_key_results",
        }
        require_value(
            not unknown, "unknown_change", f"cannot change {', '.join(sorted(unknown))}", "changes"
        )
        out: dict[str, Any] = {}
        if "title" in changes:
            out["title"] = require_text(str(changes["title"]), "changes.title", max_length=200)
        if "description" in changes:
            out["description"] = clean_text(str(changes["description"]), "changes.description")
        edits = changes.get("key_results") or {}
        require_value(
            isinstance(edits, dict),
            "changes_shape",
            "key_results must map ids to changes",
            "changes.key_results",
        )
        removed = list(  # each key result once, however often it is listed
            dict.fromkeys(
                self._kr_in_changes(r).id for r in changes.get("remove_key_results") or []
            )
        )
        if edits:
            out["key_results"] = {}
        for raw_id, fields in edits.items():
            kr = self._kr_in_changes(raw_id)
            require_value(
                isinstance(fields, dict) and bool(fields) and set(fields) <= set(NEGOTIABLE_FIELDS),
                "changes_shape",
                f"a key result change sets some of {', '.join(NEGOTIABLE_FIELDS)}",
                f"changes.key_results.{raw_id}",
            )
            _, baseline, target, _, weight = validate_key_result(
                kr.measure,
                fields.get("baseline", kr.baseline),
                fields.get("target", kr.target),
                kr.direction,
                fields.get("weight", kr.weight),
            )
            entry: dict[str, Any] = {}
            if "title" in fields:
                entry["title"] = require_text(
                    str(fields["title"]), "changes.key_results.title", max_length=200
                )
            if "baseline" in fields:
                entry["baseline"] = baseline
            if "target" in fields:
                entry["target"] = target
            if "weight" in fields:
                entry["weight"] = weight
            out["key_results"][str(kr.id)] = entry
        added = []
        for spec in changes.get("add_key_results") or []:
            require_value(
                isinstance(spec, dict),
                "changes_shape",
                "each added key result is an object",
                "changes.add_key_results",
            )
            measure, baseline, target, direction, weight = validate_key_result(
                spec.get("measure", "metric"),
                spec.get("baseline"),
                spec.get("target"),
                spec.get("direction", "increase"),
                spec.get("weight", 1.0),
            )
            added.append(
                {
                    "key_result_id": str(spec.get("key_result_id") or uuid4())
                    if keep_ids
                    else str(uuid4()),
                    "lineage_id": str(spec.get("lineage_id") or uuid4())
                    if keep_ids
                    else str(uuid4()),
                    "title": require_text(
                        str(spec.get("title", "")), "changes.add_key_results.title", max_length=200
                    ),
                    "measure": measure.value,
                    "baseline": baseline,
                    "target": target,
                    "unit": clean_text(str(spec.get("unit", "")), "changes.add_key_results.unit"),
                    "direction": direction.value,
                    "weight": weight,
                }
            )
        if added:
            out["add_key_results"] = added
        if removed:
            out["remove_key_results"] = [str(r) for r in removed]
        require_value(bool(out), "changes_empty", "changes must not be empty", "changes")
        remaining = len(self.active_key_results) - len(removed) + len(added)
        require_value(
            remaining >= 1,
            "key_results_required",
            "an objective keeps at least one key result",
            "changes",
        )
        return out

    def _kr_in_changes(self, raw_id: object) -> KeyResult:
        try:
            key_result_id = raw_id if isinstance(raw_id, UUID) else UUID(str(raw_id))
        except ValueError:
            raise InvalidValue(
                "key_result_id_invalid", f"'{raw_id}' is not a key result id", "changes"
            ) from None
        return self.key_result(key_result_id)

    def _preview(self, changes: dict[str, Any]) -> Self:
        """A copy of this objective with `changes` applied, to hash what will be approved."""
        import copy

        preview = copy.deepcopy(self)
        preview._apply_changes(changes)
        return preview

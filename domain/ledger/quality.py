"""The quality coach's policy: which checks warn and which block a submission."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.base import CommandContext
from domain.errors import NotFound
from domain.ledger.base import QUALITY_POLICY, CommandResult, LedgerBase
from domain.objective import Objective
from domain.quality import POLICY_ID, Level, ObjectiveSpec, Organisation, QualityPolicy
from domain.quality import blocking as blocking_findings
from domain.quality import lint as lint_objectives


class QualityLedger(LedgerBase):
    def find_quality_policy(self) -> QualityPolicy | None:
        try:
            return self._load(QUALITY_POLICY, POLICY_ID)
        except NotFound:
            return None

    def quality_levels(self) -> dict[str, str]:
        """Check → off | warn | block (every check warns until configured)."""
        policy = self.find_quality_policy()
        return (
            policy.as_dict() if policy else QualityPolicy.adopt(CommandContext.system()).as_dict()
        )

    def configure_quality_check(
        self, check: str, level: str, ctx: CommandContext, reason: str = ""
    ) -> CommandResult:
        policy = self.find_quality_policy() or QualityPolicy.adopt(ctx)
        policy.configure(check, level, ctx, reason)
        return self._commit(policy)

    def _quality_blockers(self, objective: Objective) -> list[Any]:
        """The quality findings that keep `objective` from being submitted (only checks set to
        block are looked at)."""
        levels = self.quality_levels()
        if Level.BLOCK.value not in levels.values():
            return []
        peers: Sequence[ObjectiveSpec] = ()
        organisation = Organisation()
        if self.quality_context is not None:
            peers, organisation = self.quality_context(objective.cycle_id)
        specs = [p for p in peers if p.objective_id != objective.id] + [objective.quality_spec()]
        findings = lint_objectives(
            specs, organisation=organisation, levels=levels, only=objective.id
        )
        return blocking_findings(findings, objective.id)

"""Initiatives: the work that moves key results."""

from __future__ import annotations

from typing import Unpack
from uuid import UUID

from domain.base import CommandContext
from domain.errors import require
from domain.initiative import Initiative, InitiativeChange, InitiativeLaunch, KeyResultRef
from domain.ledger.base import INITIATIVE, OBJECTIVE, CommandResult, LedgerBase
from domain.ledger.command import change_of, command


class InitiativeLedger(LedgerBase):
    def get_initiative(self, initiative_id: UUID, version: int | None = None) -> Initiative:
        return self._load_version(INITIATIVE, initiative_id, version)

    def _live_key_result(self, ref: KeyResultRef, field: str = "key_result_ids") -> None:
        objective = self._load(OBJECTIVE, ref.objective_id, field)
        require(
            objective.status.value != "abandoned",
            "objective_abandoned",
            f"objective '{objective.title}' was abandoned",
            field,
        )
        objective.key_result(ref.key_result_id)

    def launch_initiative(
        self, *, ctx: CommandContext, **launch: Unpack[InitiativeLaunch]
    ) -> CommandResult:
        self._owner_exists(None, launch["owner_person_id"])
        for ref in launch["key_results"]:
            self._live_key_result(ref)
        return self._commit(Initiative.launch(ctx=ctx, **launch))

    @change_of(INITIATIVE)
    def update_initiative(
        self,
        initiative: Initiative,
        ctx: CommandContext,
        **change: Unpack[InitiativeChange],
    ) -> None:
        """Retitle, hand over, move its status and/or add a note (PATCH /initiatives/{id})."""
        title, description = change.get("title"), change.get("description")
        owner_person_id, status = change.get("owner_person_id"), change.get("status")
        note, reason = change.get("note", ""), change.get("reason", "")
        if title is not None or description is not None:
            new_title = title if title is not None else initiative.title
            initiative.retitle(new_title, description, ctx, reason)
        if owner_person_id is not None:
            self._owner_exists(None, owner_person_id)
            initiative.change_owner(owner_person_id, ctx, reason)
        if status is not None:
            initiative.change_status(status, ctx, note, reason)
        elif note.strip():
            initiative.add_note(note, ctx)

    @change_of(INITIATIVE)
    def link_initiative(
        self, initiative: Initiative, ref: KeyResultRef, ctx: CommandContext, reason: str = ""
    ) -> None:
        self._live_key_result(ref, "key_result_id")
        initiative.link_key_result(ref, ctx, reason)

    unlink_initiative = command(INITIATIVE, Initiative.unlink_key_result)

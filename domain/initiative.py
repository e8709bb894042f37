"""Initiatives: the projects meant to move key results.

A key result says what should change; an initiative is the work expected to change it. It has an
owner, a status (planned → in progress → done, or cancelled), notes, and the key results it
should move. Key results are referred to as (objective id, key result id), so an initiative may
span several objectives (and carry on into the next cycle's key results).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, NotRequired, TypedDict, Unpack
from uuid import UUID, uuid4

from domain.base import Assigns, CommandContext, OkrAggregate
from domain.errors import (
    bounded_text,
    clean_text,
    clean_text_or,
    require,
    require_choice,
    require_text,
    require_value,
)


class InitiativeStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


CLOSED_STATUSES = frozenset({InitiativeStatus.DONE, InitiativeStatus.CANCELLED})


@dataclass(frozen=True)
class KeyResultRef:
    """A key result, by its objective and its own id."""

    objective_id: UUID
    key_result_id: UUID


@dataclass
class Note:
    version: int
    """The initiative's version the note came with."""
    text: str
    actor: str
    recorded_at: datetime


class InitiativeLaunch(TypedDict):
    """What an initiative is launched with (`Initiative.launch`, and the ledger's
    `launch_initiative`, which checks the owner and the key results first)."""

    title: str
    owner_person_id: UUID
    key_results: Sequence[KeyResultRef]
    description: NotRequired[str]


class InitiativeChange(TypedDict, total=False):
    """One atomic change of an initiative (the ledger's `update_initiative`, PATCH
    /initiatives/{id}): its wording, owner and status (None or left out: unchanged), a note,
    and why."""

    title: str | None
    description: str | None
    owner_person_id: UUID | None
    status: InitiativeStatus | None
    note: str
    reason: str


class StatusEntered(OkrAggregate.Event):
    """What the status events share: each moves the initiative into its `STATUS`, with a note."""

    STATUS: ClassVar[InitiativeStatus]
    note: str

    def apply(self, initiative: Initiative) -> None:
        initiative.status = self.STATUS
        initiative._note(self)


class Initiative(OkrAggregate):
    if TYPE_CHECKING:  # state set by events; not dataclass fields of the aggregate
        title: str
        description: str
        owner_person_id: UUID
        status: InitiativeStatus
        key_results: list[KeyResultRef]
        notes: list[Note]

    # ------------------------------------------------------------------ events

    class Launched(OkrAggregate.Created):
        title: str
        description: str
        owner_person_id: UUID
        key_results: list[dict[str, UUID]]
        """[{"objective_id", "key_result_id"}]"""

        def apply(self, initiative: Initiative) -> None:
            initiative.title = self.title
            initiative.description = self.description
            initiative.owner_person_id = self.owner_person_id
            initiative.status = InitiativeStatus.PLANNED
            initiative.key_results = [
                KeyResultRef(k["objective_id"], k["key_result_id"]) for k in self.key_results
            ]
            initiative.notes = []

    class Retitled(Assigns):
        title: str
        description: str

    class OwnerChanged(Assigns):
        owner_person_id: UUID

    class KeyResultLinked(OkrAggregate.Event):
        objective_id: UUID
        key_result_id: UUID

        def apply(self, initiative: Initiative) -> None:
            initiative.key_results.append(KeyResultRef(self.objective_id, self.key_result_id))

    class KeyResultUnlinked(OkrAggregate.Event):
        objective_id: UUID
        key_result_id: UUID

        def apply(self, initiative: Initiative) -> None:
            initiative.key_results.remove(KeyResultRef(self.objective_id, self.key_result_id))

    class Started(StatusEntered):
        STATUS = InitiativeStatus.IN_PROGRESS

    class Completed(StatusEntered):
        STATUS = InitiativeStatus.DONE

    class Cancelled(StatusEntered):
        STATUS = InitiativeStatus.CANCELLED

    class Reopened(StatusEntered):
        """Back to work after done or cancelled (with a reason)."""

        STATUS = InitiativeStatus.IN_PROGRESS

    class NoteAdded(OkrAggregate.Event):
        note: str

        def apply(self, initiative: Initiative) -> None:
            initiative._note(self)

    def _note(self, event: OkrAggregate.Event) -> None:
        text = getattr(event, "note", "")
        if text:
            self.notes.append(Note(event.originator_version, text, event.actor, event.timestamp))

    # ------------------------------------------------------------- commands

    @classmethod
    def launch(cls, *, ctx: CommandContext, **launch: Unpack[InitiativeLaunch]) -> Initiative:
        """A planned initiative; the caller checked that each key result is live."""
        refs = list(dict.fromkeys(launch["key_results"]))
        require_value(
            bool(refs),
            "key_results_required",
            "an initiative moves at least one key result",
            "key_result_ids",
        )
        return cls._create(
            cls.Launched,
            id=uuid4(),
            title=require_text(launch["title"], "title", max_length=200),
            description=clean_text(launch.get("description", ""), "description"),
            owner_person_id=launch["owner_person_id"],
            key_results=[
                {"objective_id": r.objective_id, "key_result_id": r.key_result_id} for r in refs
            ],
            **ctx.stamp(),
        )

    def _require_open(self, doing: str) -> None:
        require(
            self.status not in CLOSED_STATUSES,
            "initiative_closed",
            f"cannot {doing}: the initiative is {self.status.value}; reopen it first",
        )

    def retitle(
        self, title: str, description: str | None, ctx: CommandContext, reason: str = ""
    ) -> None:
        title_ = require_text(title, "title", max_length=200)
        description_ = clean_text_or(description, "description", self.description)
        self._assign(self.Retitled, ctx, reason, title=title_, description=description_)

    def change_owner(self, owner_person_id: UUID, ctx: CommandContext, reason: str = "") -> None:
        self._assign(self.OwnerChanged, ctx, reason, owner_person_id=owner_person_id)

    def link_key_result(self, ref: KeyResultRef, ctx: CommandContext, reason: str = "") -> None:
        self._require_open("link a key result")
        require(
            ref not in self.key_results,
            "key_result_already_linked",
            "the initiative already moves that key result",
            "key_result_id",
        )
        self._trigger_for(self.KeyResultLinked, ref, ctx, reason)

    def _trigger_for(
        self, event: type[OkrAggregate.Event], ref: KeyResultRef, ctx: CommandContext, reason: str
    ) -> None:
        """A link or unlink of the key result `ref` names."""
        self._trigger(
            event,
            ctx,
            clean_text(reason, "reason"),
            objective_id=ref.objective_id,
            key_result_id=ref.key_result_id,
        )

    def unlink_key_result(self, ref: KeyResultRef, ctx: CommandContext, reason: str = "") -> None:
        self._require_open("unlink a key result")
        require_value(
            ref in self.key_results,
            "key_result_not_linked",
            "the initiative does not move that key result",
            "key_result_id",
        )
        require(
            len(self.key_results) > 1,
            "key_results_required",
            "an initiative moves at least one key result: link another first",
            "key_result_id",
        )
        self._trigger_for(self.KeyResultUnlinked, ref, ctx, reason)

    def change_status(
        self, status: InitiativeStatus, ctx: CommandContext, note: str = "", reason: str = ""
    ) -> None:
        """planned → in progress → done; either of those → cancelled (with a reason); done or
        cancelled → in progress again (reopened, with a reason)."""
        target = require_choice(InitiativeStatus, status, "status")
        note_ = bounded_text(note, "note")
        current = self.status
        require(target != current, "status_unchanged", f"the initiative is already {current}")
        if target == InitiativeStatus.IN_PROGRESS and current in CLOSED_STATUSES:
            why = require_text(reason or note, "reason", max_length=2000)
            self._trigger(self.Reopened, ctx, why, note=note_)
        elif target == InitiativeStatus.IN_PROGRESS:
            self._trigger(self.Started, ctx, clean_text(reason, "reason"), note=note_)
        elif target == InitiativeStatus.DONE and current not in CLOSED_STATUSES:
            self._trigger(self.Completed, ctx, clean_text(reason, "reason"), note=note_)
        elif target == InitiativeStatus.CANCELLED and current not in CLOSED_STATUSES:
            why = require_text(reason or note, "reason", max_length=2000)
            self._trigger(self.Cancelled, ctx, why, note=note_)
        else:
            require(
                False,
                "status_transition_invalid",
                f"an initiative does not go from {current.value} to {target.value}",
                "status",
            )

    def add_note(self, note: str, ctx: CommandContext) -> None:
        self._trigger(self.NoteAdded, ctx, note=require_text(note, "note", max_length=2000))

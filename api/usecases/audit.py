"""The audit reads, for auditors and admins: the audit trail (JSON, CSV or JSON Lines), the
hash chain's verification, and the access review (who held which role and team memberships at
an instant).

The HTTP routes (`api/routes/audit.py`, `api/routes/access.py`) and the audit pages call the
same handlers. Who may read them is decided here when the use cases are made
(`policy.may_read_audit`: a 403 otherwise), and each answer records its position as the routes
always did (`infra/answer.py`: `saw` for a verified head, `pin` for an answer at a position).
"""

from __future__ import annotations

import csv
import functools
import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from fastapi import Response
from pydantic import BaseModel

from api import policy
from api import schemas as s
from api.deps import get_readmodels
from api.errors import forbidden, invalid
from api.usecases import Caller, UseCases
from infra import answer
from infra.audit.verify import (
    AuditReport,
    PositionBeyondLog,
    audit_verify,
    parse_chain_hash,
    verify_answer,
)
from infra.readmodels import ReadModels
from projections.access import access_review

CSV_COLUMNS = (
    "position",
    "recorded_at",
    "actor",
    "actor_name",
    "request_id",
    "event_type",
    "entity_type",
    "entity_id",
    "entity_version",
    "objective_id",
    "cycle_id",
    "key_result_id",
    "action",
    "before",
    "after",
    "reason",
    "approver",
    "approver_name",
    "provenance",
)
_EXPORTS = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
}


class GrantOut(BaseModel):
    """The event that granted a role, a membership or an active state."""

    position: int
    recorded_at: datetime
    actor: str
    reason: str


class MembershipOut(BaseModel):
    team_id: str
    team: str
    role: str
    granted_by: GrantOut | None


class PersonAccess(BaseModel):
    person_id: str
    name: str
    email: str
    active: bool
    active_since: GrantOut | None
    role: str | None
    """The person's role; null when none was ever set (their tokens' own roles applied)."""
    role_granted_by: GrantOut | None
    teams: list[MembershipOut]


class AccessReview(BaseModel):
    as_of: datetime | None
    position: int
    """The log position the answer stands at (every event up to it, none after)."""
    people: list[PersonAccess]


def _positions(
    readmodels: ReadModels, since: datetime | None, until: datetime | None
) -> tuple[int | None, int | None, bool]:
    """Recorded-time bounds (both inclusive) as log positions; False when nothing can match."""
    from_position = to_position = None
    if since is not None:
        before = readmodels.position_at(since - timedelta(microseconds=1))
        from_position = (before or 0) + 1
    if until is not None:
        to_position = readmodels.position_at(until)
        if to_position is None:
            return None, None, False
    return from_position, to_position, True


@dataclass(frozen=True)
class TrailFilters:
    """Which rows of the audit trail: by actor, entity, event type and commit time (`from_`,
    `to`: both inclusive). The route's query string and the audit page's fields alike."""

    actor: str | None = None
    entity_id: UUID | None = None
    type_: str | None = None
    from_: datetime | None = None
    to: datetime | None = None


EVERY_ROW = TrailFilters()


@dataclass(frozen=True)
class ChainCheck:
    """What the chain's verification checks: the chain over a range of positions
    (`from_position` to `to_position`, both optional), or the log up to a saved answer's
    `position` and, when given, that its chain hash there is `hash_`; not both."""

    from_position: int | None = None
    to_position: int | None = None
    position: int | None = None
    hash_: str | None = None


WHOLE_CHAIN = ChainCheck()

KEY_RESULT_SCAN = 1_000_000


def _objective_of_key_result(readmodels: ReadModels, entity_id: UUID) -> UUID | None:
    """The objective of a key result id (None when `entity_id` is anything else)."""
    first = readmodels.audit(entity_id=entity_id, limit=1)
    if not first or first[0].get("key_result_id") != str(entity_id):
        return None
    objective_id = first[0].get("objective_id")
    return UUID(objective_id) if objective_id else None


def _about_key_result(row: dict[str, Any], key_result_id: str) -> bool:
    """A row about the key result: its own events, and change sets (counter-proposals,
    amendments) that touch it, which the read models file under the objective."""
    if row.get("key_result_id") == key_result_id:
        return True
    for side in ("before", "after"):
        values = row.get(side) or {}
        touched = values.get("key_results") if isinstance(values, dict) else None
        proposed = values.get("proposed") if isinstance(values, dict) else None
        if isinstance(touched, dict) and key_result_id in touched:
            return True
        if isinstance(proposed, dict) and key_result_id in (proposed.get("key_results") or {}):
            return True
    return False


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                **row,
                "before": json.dumps(row.get("before", {}), sort_keys=True),
                "after": json.dumps(row.get("after", {}), sort_keys=True),
                "provenance": json.dumps(row["provenance"], sort_keys=True)
                if row.get("provenance")
                else "",
            }
        )
    return out.getvalue()


class AuditUseCases(UseCases):
    """The audit reads for one caller (auditors and admins only: a 403 when made otherwise)."""

    def __init__(self, caller: Caller) -> None:
        super().__init__(caller)
        if not policy.may_read_audit(self.principal):
            raise forbidden("auditors_only", "the audit trail is for auditors and admins")

    @property
    def readmodels(self) -> ReadModels:
        """The read models (a 503 on a server that runs none; the chain's check needs none)."""
        return get_readmodels(self.services)

    def trail(
        self,
        filters: TrailFilters = EVERY_ROW,
        format_: Literal["json", "csv", "jsonl"] = "json",
        limit: int = 100,
        offset: int = 0,
    ) -> s.AuditPage | Response:
        """Every event with who did what to which thing, when, why and who approved it, in log
        order; a CSV or JSON Lines export when `format_` asks."""
        readmodels = self.readmodels
        entity_id, from_, to = filters.entity_id, filters.from_, filters.to
        if from_ is not None and to is not None and from_ > to:
            raise invalid("from_after_to", "from must not be after to", "from")
        from_position, to_position, possible = _positions(readmodels, from_, to)
        rows: list[dict[str, Any]] = []
        objective_id = _objective_of_key_result(readmodels, entity_id) if entity_id else None
        scan = functools.partial(
            readmodels.audit,
            actor=filters.actor,
            event_type=filters.type_,
            from_position=from_position,
            to_position=to_position,
        )
        if possible and objective_id is not None:
            assert entity_id is not None
            rows = [
                row
                for row in scan(entity_id=objective_id, limit=KEY_RESULT_SCAN, offset=0)
                if _about_key_result(row, str(entity_id))
            ][offset : offset + limit + 1]
        elif possible:
            rows = scan(entity_id=entity_id, limit=limit + 1, offset=offset)
        more = len(rows) > limit
        rows = rows[:limit]
        if format_ == "csv":
            return Response(_csv(rows), media_type=_EXPORTS["csv"])
        if format_ == "jsonl":
            lines = "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)
            return Response(lines, media_type=_EXPORTS["jsonl"])
        return s.AuditPage(
            items=rows, limit=limit, offset=offset, next_offset=offset + limit if more else None
        )

    def verify(self, check: ChainCheck = WHOLE_CHAIN) -> s.ChainVerification:
        """The chain recomputed and checked against the signed checkpoints; with a `position`
        (and `hash_`), whether the log up to it is still the one that gave a saved answer."""
        ledger, settings = self.services.ledger, self.services.settings
        from_position, to_position = check.from_position, check.to_position
        position, hash_ = check.position, check.hash_
        if position is None:
            if hash_ is not None:
                raise invalid(
                    "position_required", "hash is checked at a position: give both", "position"
                )
            report = audit_verify(
                ledger,
                from_position=from_position,
                to_position=to_position,
                settings=settings,
            )
            if report.chain.head_position is not None and report.chain.head_hash is not None:
                answer.saw(report.chain.head_position, report.chain.head_hash)
        else:
            if from_position is not None or to_position is not None:
                raise invalid(
                    "position_or_range",
                    "give position (a saved answer's) or from_position/to_position, not both",
                    "position",
                )
            given = None
            if hash_ is not None:
                try:
                    given = parse_chain_hash(hash_)
                except ValueError as error:
                    raise invalid("chain_hash", str(error), "hash") from None
            try:
                report = verify_answer(ledger, position, given, settings=settings)
            except PositionBeyondLog as error:
                raise invalid("position_beyond_log", str(error), "position") from None
            assert report.answer is not None
            answer.pin(position, report.answer.stored)
        return _verification(report)

    def access(self, as_of: datetime | None = None, active_only: bool = False) -> AccessReview:
        """Every person with their active state, role and team memberships as they stood at
        `as_of` (default: now), each with the event that granted it."""
        readmodels = self.readmodels
        head = self.services.ledger.recorder.max_notification_id() or 0
        if as_of is None:
            position = head
        else:
            if as_of.tzinfo is None:
                raise invalid("rfc3339", "as_of needs a time zone offset", "as_of")
            position = readmodels.position_at(as_of) or 0
        answer.pin(position)  # the answer states exactly this position (OKR-Position)
        state = self.services.directory.at(position)
        people = access_review(state, include_inactive=not active_only)
        return AccessReview(
            as_of=as_of,
            position=position,
            people=[PersonAccess.model_validate(p) for p in people],
        )


def _verification(report: AuditReport) -> s.ChainVerification:
    first = report.first_problem
    latest = report.latest_checkpoint
    head_hash = report.chain.head_hash
    checked = report.answer
    return s.ChainVerification(
        ok=report.ok,
        count=report.chain.count,
        head_position=report.chain.head_position,
        head_hash=head_hash.hex() if head_hash is not None else None,
        problem=first.problem if first else None,
        position=first.position if first else None,
        detail=first.detail if first else "",
        checkpoints_checked=report.checkpoints_checked,
        latest_checkpoint_position=latest.position if latest else None,
        answer=None if checked is None else s.AnswerCheckOut(**checked.as_json()),
    )

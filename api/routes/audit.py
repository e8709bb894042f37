"""The audit trail and the hash chain's verification: for auditors and admins."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Query, Response

from api import schemas as s
from api.deps import (
    AuditReaderDep,
    Instant,
    LedgerDep,
    MinPositionDep,
    ReadModelsDep,
    ServicesDep,
)
from api.errors import invalid
from api.routes import problems, router
from infra import answer
from infra.audit.verify import (
    AuditReport,
    PositionBeyondLog,
    audit_verify,
    parse_chain_hash,
    verify_answer,
)
from infra.readmodels import ReadModels

audit = router("audit")

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
)
_EXPORTS = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
}
_NO_NUL = r"^[^\x00]*$"
"""PostgreSQL text cannot hold NUL characters: a filter with one is a 422, not a failed query."""
_RESPONSES: dict[int | str, dict[str, Any]] = {
    **problems(403, 504),
    200: {
        "description": "The rows: JSON (a page), CSV or JSON Lines, as `format` asks.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    },
}


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
            }
        )
    return out.getvalue()


@audit.get(
    "/audit",
    response_model=s.AuditPage,
    responses=_RESPONSES,
    summary="The audit trail (auditors, admins)",
)
def audit_trail(
    _: AuditReaderDep,
    readmodels: ReadModelsDep,
    __: MinPositionDep,
    actor: Annotated[
        str | None,
        Query(max_length=100, pattern=_NO_NUL, description="A person id, or `system`."),
    ] = None,
    entity_id: Annotated[
        UUID | None,
        Query(description="A person, team, cycle, objective or key result id."),
    ] = None,
    type_: Annotated[
        str | None,
        Query(
            alias="type",
            max_length=100,
            pattern=_NO_NUL,
            description="An event type, e.g. `Objective.AmendmentApproved`.",
        ),
    ] = None,
    from_: Annotated[
        Instant | None, Query(alias="from", description="RFC 3339: recorded at or after.")
    ] = None,
    to: Annotated[Instant | None, Query(description="RFC 3339: recorded at or before.")] = None,
    format_: Annotated[
        Literal["json", "csv", "jsonl"], Query(alias="format", description="Answer format.")
    ] = "json",
    limit: Annotated[int, Query(ge=1, le=10_000, description="Rows per page.")] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9, description="Rows to skip.")] = 0,
) -> Any:
    """Every event with who did what to which thing, when, why and who approved it, before →
    after, in log order. Filters combine; `from`/`to` bound the commit time. For a key result,
    `entity_id` also finds the counter-proposals and amendments that touched it."""
    if from_ is not None and to is not None and from_ > to:
        raise invalid("from_after_to", "from must not be after to", "from")
    from_position, to_position, possible = _positions(readmodels, from_, to)
    rows: list[dict[str, Any]] = []
    objective_id = _objective_of_key_result(readmodels, entity_id) if entity_id else None
    if possible and objective_id is not None:
        assert entity_id is not None
        rows = [
            row
            for row in readmodels.audit(
                actor=actor,
                entity_id=objective_id,
                event_type=type_,
                from_position=from_position,
                to_position=to_position,
                limit=KEY_RESULT_SCAN,
                offset=0,
            )
            if _about_key_result(row, str(entity_id))
        ][offset : offset + limit + 1]
    elif possible:
        rows = readmodels.audit(
            actor=actor,
            entity_id=entity_id,
            event_type=type_,
            from_position=from_position,
            to_position=to_position,
            limit=limit + 1,
            offset=offset,
        )
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


@audit.get(
    "/audit/verify",
    response_model=s.ChainVerification,
    responses=problems(403),
    summary="Verify the hash chain (auditors, admins)",
)
def verify(
    _: AuditReaderDep,
    ledger: LedgerDep,
    services: ServicesDep,
    from_position: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    to_position: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    position: Annotated[
        int | None,
        Query(
            ge=0,
            le=2**62,
            description="A saved answer's `OKR-Position`: verify the chain up to it and report "
            "the chain's hash there (`answer`). 422 `position_beyond_log` past the log's end.",
        ),
    ] = None,
    hash_: Annotated[
        str | None,
        Query(
            alias="hash",
            max_length=200,
            description="The saved answer's `OKR-Chain-Hash` (64 hex digits): `ok` is false "
            "(`problem: hash_mismatch`) unless the chain's hash at `position` is this one.",
        ),
    ] = None,
) -> s.ChainVerification:
    """Recomputes the chain over the stored events and checks it against the signed checkpoints:
    reports the first event that was edited, deleted, inserted or reordered, or a chain rewritten
    consistently since a checkpoint (`ok: true` when none was). With `position` and `hash`, says
    whether the log up to `position` is still the one that gave an answer stating them."""
    if position is None:
        if hash_ is not None:
            raise invalid(
                "position_required", "hash is checked at a position: give both", "position"
            )
        report = audit_verify(
            ledger,
            from_position=from_position,
            to_position=to_position,
            settings=services.settings,
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
            report = verify_answer(ledger, position, given, settings=services.settings)
        except PositionBeyondLog as error:
            raise invalid("position_beyond_log", str(error), "position") from None
        assert report.answer is not None
        answer.pin(position, report.answer.stored)
    return _verification(report)


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
        answer=None if checked is None else s.AnswerCheck(**checked.as_json()),
    )

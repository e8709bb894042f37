"""The audit trail and the hash chain's verification: for auditors and admins."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Query

from api import schemas as s
from api.deps import Instant, log_position
from api.routes import AuditDep, problems, router
from api.routes.commands import Gathered, ModelRead, query, register_model_read
from api.usecases.audit import AuditUseCases, ChainCheck, TrailFilters

audit_routes = router("audit")

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


_TRAIL = Gathered(
    (
        query(
            "actor", str | None, "A person id, or `system`.", None, max_length=100, pattern=_NO_NUL
        ),
        query("entity_id", UUID | None, "A person, team, cycle, objective or key result id.", None),
        query(
            "type_",
            str | None,
            "An event type, e.g. `Objective.AmendmentApproved`.",
            None,
            alias="type",
            max_length=100,
            pattern=_NO_NUL,
        ),
        query("from_", Instant | None, "RFC 3339: recorded at or after.", None, alias="from"),
        query("to", Instant | None, "RFC 3339: recorded at or before.", None),
    ),
    TrailFilters,
)

register_model_read(
    audit_routes,
    ModelRead(
        "/audit",
        "audit_trail",
        "The audit trail (auditors, admins)",
        """Every event with who did what to which thing, when, why and who approved it, before →
        after, in log order. Filters combine; `from`/`to` bound the commit time. For a key result,
        `entity_id` also finds the counter-proposals and amendments that touched it.""",
        AuditUseCases.trail,
        s.AuditPage,
        (
            _TRAIL,
            query(
                "format_", Literal["json", "csv", "jsonl"], "Answer format.", "json", alias="format"
            ),
            query("limit", int, "Rows per page.", 100, ge=1, le=10_000),
            query("offset", int, "Rows to skip.", 0, ge=0, le=10**9),
        ),
        versioned=False,
        reads=AuditDep,
        responses=_RESPONSES,
    ),
)


@audit_routes.get(
    "/audit/verify",
    response_model=s.ChainVerification,
    responses=problems(403),
    summary="Verify the hash chain (auditors, admins)",
)
def verify(
    audit: AuditDep,
    from_position: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    to_position: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    position: Annotated[
        int | None,
        log_position(
            "A saved answer's `OKR-Position`: verify the chain up to it and report the chain's "
            "hash there (`answer`). 422 `position_beyond_log` past the log's end."
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
    return audit.verify(ChainCheck(from_position, to_position, position, hash_))

"""Access review: who held which role and team memberships at an instant (auditors, admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from api.deps import Instant
from api.routes import AuditDep, problems, router
from api.usecases.audit import AccessReview

access = router("access")


@access.get(
    "/access",
    response_model=AccessReview,
    responses=problems(403),
    summary="Who held which role and team memberships at an instant",
)
def access_as_of(
    audit: AuditDep,
    as_of: Annotated[Instant | None, Query(description="RFC 3339 instant (default: now).")] = None,
    active_only: bool = False,
) -> AccessReview:
    """Every person with their active state, role and team memberships as they stood at
    `as_of`, each with the event that granted it (position, time, actor, reason)."""
    return audit.access(as_of, active_only)

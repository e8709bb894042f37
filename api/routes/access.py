"""Access review: who held which role and team memberships at an instant (auditors, admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel

from api.deps import AuditReaderDep, Instant, LedgerDep, ReadModelsDep, ServicesDep
from api.errors import invalid
from api.routes import problems, router
from infra.answer import pin
from projections.access import access_review

access = router("access")


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


@access.get(
    "/access",
    response_model=AccessReview,
    responses=problems(403),
    summary="Who held which role and team memberships at an instant",
)
def access_as_of(
    _: AuditReaderDep,
    services: ServicesDep,
    ledger: LedgerDep,
    readmodels: ReadModelsDep,
    as_of: Annotated[Instant | None, Query(description="RFC 3339 instant (default: now).")] = None,
    active_only: bool = False,
) -> AccessReview:
    """Every person with their active state, role and team memberships as they stood at
    `as_of`, each with the event that granted it (position, time, actor, reason)."""
    head = ledger.recorder.max_notification_id() or 0
    if as_of is None:
        position = head
    else:
        if as_of.tzinfo is None:
            raise invalid("rfc3339", "as_of needs a time zone offset", "as_of")
        position = readmodels.position_at(as_of) or 0
    pin(position)  # the answer states exactly this position (OKR-Position)
    state = services.directory.at(position)
    people = access_review(state, include_inactive=not active_only)
    return AccessReview(
        as_of=as_of,
        position=position,
        people=[PersonAccess.model_validate(p) for p in people],
    )

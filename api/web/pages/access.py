"""The audit trail's "access" view: who held which role and team memberships as of an instant,
with the events that granted them. The answer is the API's own (`api/usecases/audit.py`), and so
is the rule who may see it (`policy.may_read_audit`)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from api import policy
from api.usecases.audit import AuditUseCases
from api.web import data
from api.web.site import Forbidden, FormError, ViewerDep, render, web


@web.get("/audit/access")
def access_page(request: Request, viewer: ViewerDep, as_of: str | None = None) -> HTMLResponse:
    if not policy.may_read_audit(viewer.principal):
        raise Forbidden("Access reviews are for auditors and admins.")
    problem = None
    people: list[Any] = []
    position = None
    try:
        instant = data.parse_local(as_of)
        if viewer.services.readmodels is not None:
            answer = AuditUseCases(viewer.caller).access(instant)
            people, position = answer.people, answer.position
    except FormError as error:
        problem = str(error)
    return render(
        request,
        "access.html",
        viewer,
        people=people,
        position=position,
        as_of=as_of or "",
        problem=problem,
    )

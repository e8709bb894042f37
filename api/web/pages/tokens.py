"""A person's own personal access tokens (docs/identity.md): create one (an expiry, read-only
if wanted; the secret is shown once, on the answer to the form, and stored nowhere), list them
with when they were created, expire and were last used, and revoke one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.errors import ApiError
from api.usecases.tokens import PersonalTokens
from api.web.site import (
    SHOWN,
    FormDep,
    Outcome,
    PageNotFound,
    Viewer,
    ViewerDep,
    act,
    render,
    web,
)
from domain.errors import OkrError

MAX_DAYS = 366
DEFAULT_DAYS = 90


def _page(request: Request, viewer: Viewer, outcome: Outcome = SHOWN) -> HTMLResponse:
    return render(
        request,
        "tokens.html",
        viewer,
        tokens=PersonalTokens(viewer.caller).list(),
        current=viewer.principal.token_id,
        secret=outcome.secret,
        problem=outcome.problem,
        default_days=DEFAULT_DAYS,
        max_days=MAX_DAYS,
        status_code=outcome.status_code,
    )


@web.get("/tokens")
def tokens_page(request: Request, viewer: ViewerDep) -> HTMLResponse:
    return _page(request, viewer)


@web.post("/tokens")
def create_token(request: Request, viewer: ViewerDep, form: FormDep) -> HTMLResponse:
    """The new token's secret is on this answer only (not in a redirect nor the session)."""
    days_text = form.get("expires_in_days", str(DEFAULT_DAYS)).strip()
    if not days_text.isdigit() or not 1 <= int(days_text) <= MAX_DAYS:
        problem = f"Expires in: a whole number of days from 1 to {MAX_DAYS}."
        return _page(request, viewer, Outcome.refused(problem))
    try:
        secret, _ = PersonalTokens(viewer.caller).issue(
            form.get("label").strip() or "personal token",
            datetime.now(UTC) + timedelta(days=int(days_text)),
            form.get("read_only") == "on",
        )
    except (OkrError, ApiError) as error:
        return _page(request, viewer, Outcome.refused(str(error)))
    return _page(request, viewer, Outcome.made(secret))


@web.post("/tokens/{token_id}/revoke")
def revoke_token(token_id: UUID, viewer: ViewerDep, form: FormDep) -> RedirectResponse:
    def revoke() -> object:
        try:
            return PersonalTokens(viewer.caller).revoke(token_id)
        except ApiError as error:
            if error.status == 404:  # someone else's: as if it did not exist
                raise PageNotFound("token") from None
            raise

    return act(viewer, "/tokens", revoke, "Token revoked: it stops working at once.")

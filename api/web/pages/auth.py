"""Sign in with an access token (then a signed session cookie), and sign out."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import authenticate
from api.web.oidc import sign_in_options, sign_out_target
from api.web.site import FormDep, redirect, render, safe_next, session_of, web


@web.get("/sign-in")
def sign_in_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(
        request, "sign_in.html", next=safe_next(next), error=None, **sign_in_options(request)
    )


@web.post("/sign-in", response_model=None)
def sign_in(request: Request, form: FormDep) -> HTMLResponse | RedirectResponse:
    """The same authentication as the API's bearer tokens; the session keeps the token's id."""
    services = request.app.state.services
    principal = authenticate(services.ledger, form.get("token"))
    target = safe_next(form.get("next"))
    if principal is None or principal.read_only:
        return render(
            request,
            "sign_in.html",
            status_code=401,
            next=target,
            error="That token is unknown, revoked, expired, read-only (those are for the API),"
            " or its person is inactive.",
            **sign_in_options(request),
        )
    settings_max_age = request.app.state.web_session_max_age
    session = session_of(request)
    session.sign_in(str(principal.token_id), settings_max_age)
    return redirect(target)


@web.post("/sign-out", response_model=None)
def sign_out(request: Request, form: FormDep) -> HTMLResponse | RedirectResponse:
    session = session_of(request)
    provider_logout = sign_out_target(request, session.token_id)
    session.sign_out()
    if provider_logout:
        # A page, not a redirect: the pages' form-action policy keeps a form on this site.
        return render(request, "signed_out.html", provider_logout=provider_logout)
    session.flash("You are signed out.", "info")
    return redirect("/sign-in")

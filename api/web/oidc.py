"""Single sign-on with OpenID Connect: `GET /auth/oidc/login` and `GET /auth/oidc/callback`.

Off until `OKR_OIDC_ISSUER` and `OKR_OIDC_CLIENT_ID` are set (docs/identity.md); then the
sign-in page offers "Sign in with SSO". The pending sign-in (state, nonce, PKCE verifier) waits
in a short-lived signed cookie; the callback verifies the ID token (infra/oidc.py), finds the
person by the provider's `sub` or else by the verified e-mail (registering them when
`OKR_OIDC_AUTO_PROVISION` is on), gives them the role their groups name (an event, reason
`sso:<issuer>`, only when it changes), and signs the browser in with a session token of theirs:
so a deactivated person, a revoked role or a revoked token ends the session at once, as for
token sign-in.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from uuid import UUID

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from api.errors import ApiError
from api.policy import Provisioner
from api.usecases.identity import IdentityUseCases
from api.usecases.tokens import end_session
from api.web.session import Signer
from api.web.site import PageNotFound, redirect, render, safe_next, session_of, web
from domain.access import Role
from domain.errors import OkrError
from infra.oidc import Identity, OidcClient, Pending, SignInRefused, role_for
from infra.settings import Settings, get_settings

log = logging.getLogger(__name__)

COOKIE = "okr_oidc"
PATH = "/auth/oidc"
SSO_LABEL = "single sign-on"
"""The label of the session tokens single sign-on issues (sign-out revokes them)."""
_lock = threading.Lock()

MESSAGES = {
    "state_mismatch": "This sign-in was not started here (or has expired). Please try again.",
    "code_refused": "The identity provider refused this sign-in. Please try again.",
    "email_unverified": "Your identity provider has not verified your e-mail address.",
    "not_provisioned": "You are not registered here yet; ask an administrator for access.",
    "person_inactive": "Your access has been deactivated.",
    "email_missing": "Your identity provider sent no e-mail address.",
}


def settings_of(request: Request) -> Settings:
    settings: Settings | None = request.app.state.services.settings
    return settings or get_settings()


def oidc_client(request: Request) -> OidcClient | None:
    """The app's provider client, or None when single sign-on is not configured."""
    settings = settings_of(request)
    if not settings.oidc_enabled:
        return None
    with _lock:
        client: OidcClient | None = getattr(request.app.state, "oidc_client", None)
        if client is None:
            client = request.app.state.oidc_client = OidcClient(settings)
    return client


def _signer(request: Request) -> Signer:
    signer: Signer = request.app.state.oidc_signer
    return signer


@web.get("/auth/oidc/login")
def oidc_login(request: Request, next: str = "/") -> RedirectResponse:
    """Start the authorization-code flow: to the provider, with state, nonce and PKCE."""
    client = oidc_client(request)
    if client is None:
        raise PageNotFound("single sign-on")
    url, pending = client.start(safe_next(next))
    response = RedirectResponse(url, status_code=303)
    secure = request.url.scheme == "https"
    response.set_cookie(
        COOKIE,
        _signer(request).dumps(pending.to_json()),
        max_age=600,
        path=PATH,
        httponly=True,
        samesite="lax",
        secure=secure,
    )
    return response


@web.get("/auth/oidc/callback", response_model=None)
def oidc_callback(
    request: Request, state: str | None = None, code: str | None = None
) -> HTMLResponse | RedirectResponse:
    """End the flow: verify, find or provision the person, set their role, sign in."""
    client = oidc_client(request)
    if client is None:
        raise PageNotFound("single sign-on")
    raw = request.cookies.get(COOKIE)
    data = _signer(request).loads(raw) if raw else None
    pending = Pending.from_json(data) if data else None
    response: Response
    try:
        identity = client.finish(pending, state, code)
        token_id = _sign_in(request, client, identity)
    except SignInRefused as refused:
        log.info("single sign-on refused: %s", refused.reason)  # never the token or a secret
        response = render(
            request,
            "sign_in.html",
            status_code=403 if refused.reason in _FORBIDDEN else 401,
            next="/",
            error=MESSAGES.get(refused.reason, "The sign-in could not be verified."),
            error_rule=refused.reason,
            **sign_in_options(request),
        )
    else:
        session = session_of(request)
        session.sign_in(token_id, request.app.state.web_session_max_age)
        response = redirect(pending.next if pending else "/")
    response.delete_cookie(COOKIE, path=PATH)
    assert isinstance(response, HTMLResponse | RedirectResponse)
    return response


_FORBIDDEN = frozenset({"email_unverified", "not_provisioned", "person_inactive"})


def _sign_in(request: Request, client: OidcClient, identity: Identity) -> str:
    """The id of a new session token for the person `identity` is (see the module's doc)."""
    services = request.app.state.services
    settings = settings_of(request)
    source = f"sso:{identity.issuer}"
    people = IdentityUseCases(
        services.ledger,
        services.directory,
        Provisioner(source),
        getattr(request.state, "request_id", None),
    )
    if not identity.email_verified:
        raise SignInRefused("email_unverified", "the provider says the e-mail is not verified")
    person_id = people.linked(identity.issuer, identity.subject)
    if person_id is None:
        if not identity.email:
            raise SignInRefused("email_missing", "no e-mail claim")
        holder = people.holder_of(identity.email)
        if holder is None:
            if not settings.oidc_auto_provision:
                raise SignInRefused("not_provisioned", "unknown e-mail, auto-provision off")
            name = identity.name or identity.email.split("@")[0]
            person_id = people.register_person(name, identity.email).id
        else:
            person_id = holder.id
        people.link(person_id, identity.issuer, identity.subject)
    person = people.person(person_id)
    if not person.active:
        raise SignInRefused("person_inactive", "the person is deactivated")
    if identity.email and identity.email.strip().lower() != person.email:
        _follow_email(people, person_id, identity.email, source)
    role = Role(role_for(identity.groups, client.role_groups))
    if person.role != role.value:
        people.change_role(person_id, role, source)
    _, issued = people.issue_token(person_id, role, label=SSO_LABEL)
    return str(issued.id)


def _follow_email(people: IdentityUseCases, person_id: UUID, email: str, source: str) -> None:
    """The provider's verified e-mail changed: the person's follows (an event), unless another
    person has that address here (then the sign-in goes on with the old one, logged)."""
    try:
        people.change_email(person_id, email, source)
    except (OkrError, ApiError) as refused:
        log.warning("single sign-on: the provider's new e-mail was not taken over: %s", refused)


def sign_in_options(request: Request) -> dict[str, Any]:
    """What the sign-in page offers: SSO when configured, the token form unless turned off."""
    settings = settings_of(request)
    sso = settings.oidc_enabled
    return {"sso": sso, "token_form": not sso or settings.token_signin}


def sign_out_target(request: Request, token_id: str | None) -> str | None:
    """After a local sign-out: revoke an SSO session token, and the provider's logout URL."""
    client = oidc_client(request)
    if client is None or not token_id:
        return None
    services = request.app.state.services
    end_session(services, token_id, SSO_LABEL)
    try:
        return client.logout_url(None)
    except Exception:  # the provider is unreachable: the local session is ended anyway
        log.warning("single sign-on: the provider's logout endpoint is unavailable")
        return None

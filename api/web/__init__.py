"""The web UI: server-rendered pages at `/` beside the JSON API under `/api/v1`.

`install(app, settings)` adds the pages (`api.web.pages`), the static files (`/static`, all
shipped in this package: no CDN), the session middleware and HTML error pages for every path
outside `/api/` (the API keeps its problem documents). See docs/ui.md.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from api.errors import ApiError
from api.web import oidc, pages  # noqa: F401  (registers every page's routes and navigation)
from api.web.session import SKIPPED, SessionMiddleware, Signer
from api.web.site import (
    HERE,
    CsrfFailed,
    Forbidden,
    PageNotFound,
    SignInRequired,
    Viewer,
    get_viewer,
    redirect,
    render,
    web,
    with_query,
)
from api.web.static_files import WholeStaticFiles
from domain.errors import NotFound, OkrError
from infra.settings import Settings

log = logging.getLogger(__name__)
Handler = Callable[[Request, Exception], Awaitable[Response]]


def session_signer(settings: Settings) -> Signer:
    """The session secret from the settings; in dev and test without one, a random key for
    this process (settings refuse a missing secret elsewhere)."""
    if settings.session_secret is not None:
        return Signer(settings.session_secret.get_secret_value().encode())
    return Signer(secrets.token_bytes(32))


def static_files(directory: Path = HERE / "static") -> WholeStaticFiles:
    """The static files, each answered whole (api/web/static_files.py)."""
    return WholeStaticFiles(directory=directory)


def install(app: FastAPI, settings: Settings) -> None:
    """Mount the web UI on `app` (after the API's routes and error handlers)."""
    app.add_middleware(
        SessionMiddleware,
        signer=session_signer(settings),
        max_age=settings.session_max_age_seconds,
        secure=settings.cookie_secure,
    )
    app.state.web_session_max_age = settings.session_max_age_seconds
    app.state.oidc_signer = session_signer(settings)  # the pending single sign-on's cookie
    app.include_router(web)
    app.mount("/static", static_files(), name="static")
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(CsrfFailed, _csrf_failed)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(PageNotFound, _not_found)
    for kind in (ApiError, OkrError, StarletteHTTPException, Exception):
        api_handler = app.exception_handlers.get(kind)
        if api_handler is not None:
            app.add_exception_handler(kind, _pages_or_api(api_handler))


def _is_page(request: Request) -> bool:
    return not request.url.path.startswith(SKIPPED)


def _viewer(request: Request) -> Viewer | None:
    try:
        return get_viewer(request)
    except Exception:
        return None


def _error_page(request: Request, status: int, title: str, detail: str) -> Response:
    return render(
        request,
        "error.html",
        _viewer(request),
        status_code=status,
        title=title,
        detail=detail,
        status=status,
    )


async def _sign_in(request: Request, exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = "/"
    return redirect(with_query("/sign-in", next=target if target != "/" else None))


async def _csrf_failed(request: Request, exc: Exception) -> Response:
    return _error_page(
        request,
        403,
        "This form has expired",
        "The form was not sent from this session (or the session ended). Go back, reload the "
        "page and try again.",
    )


async def _forbidden(request: Request, exc: Exception) -> Response:
    return _error_page(
        request, 403, "Not for your role", str(exc) or "Your role does not allow this page."
    )


async def _not_found(request: Request, exc: Exception) -> Response:
    what = exc.what if isinstance(exc, PageNotFound) else "page"
    return _error_page(request, 404, "Not found", f"There is no such {what}.")


def _pages_or_api(api_handler: Any) -> Handler:
    """The API's handler for /api/ paths; an HTML page for everything else."""

    async def handle(request: Request, exc: Exception) -> Response:
        if not _is_page(request):
            response: Response = await api_handler(request, exc)
            return response
        if isinstance(exc, ApiError):
            return _error_page(request, exc.status, _TITLES.get(exc.status, "Error"), exc.message)
        if isinstance(exc, NotFound):
            return _error_page(request, 404, "Not found", exc.message)
        if isinstance(exc, OkrError):
            return _error_page(request, 409, "Not possible now", exc.message)
        if isinstance(exc, StarletteHTTPException):
            title = _TITLES.get(exc.status_code, "Error")
            return _error_page(request, exc.status_code, title, str(exc.detail))
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error_page(
            request, 500, "Something went wrong", "An unexpected error occurred; it was logged."
        )

    return handle


_TITLES = {
    400: "Bad request",
    401: "Sign in",
    403: "Not for your role",
    404: "Not found",
    405: "Not allowed",
    409: "Not possible now",
    412: "Changed meanwhile",
    422: "Check the values",
    503: "Busy, retry shortly",
    504: "Still catching up, retry",
}

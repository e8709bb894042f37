"""A person's notifications page: their preferences and the last messages sent to them, with
each channel's delivery; and the one-click unsubscribe pages an e-mail links to (they work
without signing in: the signed link is the authority; docs/notifications.md)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.notification_schemas import NotificationPreferencesIn
from api.usecases.notifications import NotificationUseCases, unsubscribe
from api.web.site import FormDep, Viewer, ViewerDep, act, nav, render, web
from domain.person import NOTIFICATION_CHANNELS
from infra.notify.unsubscribe import InvalidLink


def _uses(viewer: Viewer) -> NotificationUseCases:
    return NotificationUseCases(viewer.caller)


@web.get("/notifications")
def notifications_page(request: Request, viewer: ViewerDep) -> HTMLResponse:
    uses = _uses(viewer)
    return render(
        request,
        "notifications.html",
        viewer,
        preferences=uses.preferences(),
        messages=uses.messages(50),
        channels=NOTIFICATION_CHANNELS,
    )


@web.post("/notifications/preferences")
def save_preferences(viewer: ViewerDep, form: FormDep) -> RedirectResponse:
    def command() -> Any:
        body = NotificationPreferencesIn(
            channels={name: form.checked(f"channel_{name}") for name in NOTIFICATION_CHANNELS},
            delivery=form.get("delivery", "immediate"),  # type: ignore[arg-type]
            quiet_from=form.text("quiet_from"),
            quiet_to=form.text("quiet_to"),
            time_zone=form.text("time_zone"),
            reason=form.text("reason") or "changed my notification preferences",
        )
        return _uses(viewer).set_preferences(body, form.version)

    return act(viewer, "/notifications", command, "Notification preferences saved.")


@web.get("/notifications/unsubscribe")
def unsubscribe_page(request: Request, token: str = "") -> HTMLResponse:
    """Asks before it acts: a link scanner that follows the link changes nothing."""
    return render(request, "unsubscribe.html", token=token, done=False, problem=None)


@web.post("/notifications/unsubscribe")
async def unsubscribe_now(request: Request, token: str = "") -> HTMLResponse:
    """RFC 8058 one-click (a mail client POSTs `List-Unsubscribe=One-Click`), or the button on
    the page above. No session and no CSRF token: the signed link is the authority."""
    if not token:
        body = (await request.body())[:4096].decode("utf-8", "replace")
        token = parse_qs(body).get("token", [""])[0]
    services = request.app.state.services
    try:
        _, channel = unsubscribe(services, token)
    except InvalidLink as error:
        return render(
            request, "unsubscribe.html", token="", done=False, problem=str(error), status_code=400
        )
    return render(request, "unsubscribe.html", token="", done=True, channel=channel, problem=None)


nav("Notifications", "/notifications", order=65)

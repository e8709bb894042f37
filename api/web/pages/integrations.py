"""The admin page for outbound integrations (docs/webhooks.md): webhook endpoints and Slack /
Teams channels with their delivery logs; register, connect, disable, re-enable, redeliver,
replay. Everything goes through the API's use cases (`api/usecases/webhooks.py`), admin-only
there as here."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api import policy
from api import webhook_schemas as w
from api.errors import ApiError
from api.usecases.webhooks import WebhookUseCases
from api.web.site import (
    SHOWN,
    Forbidden,
    FormDep,
    FormError,
    Outcome,
    Viewer,
    ViewerDep,
    act,
    nav,
    render,
    web,
)
from domain.errors import OkrError
from projections.catalogue import CATALOGUE

PATH = "/admin/integrations"
DELIVERIES_SHOWN = 20


def _uses(viewer: Viewer) -> WebhookUseCases:
    if not policy.may_administer(viewer.principal):
        raise Forbidden("Webhooks and chat channels are managed by admins.")
    return WebhookUseCases(viewer.caller)


def _page(request: Request, viewer: Viewer, outcome: Outcome = SHOWN) -> HTMLResponse:
    uses = _uses(viewer)
    endpoints: list[dict[str, Any]] = [
        {"endpoint": e, "deliveries": uses.deliveries(e.id, limit=DELIVERIES_SHOWN)}
        for e in uses.endpoints()
    ]
    channels: list[dict[str, Any]] = [
        {"channel": c, "deliveries": uses.channel_deliveries(c.id, limit=DELIVERIES_SHOWN)}
        for c in uses.channels()
    ]
    with viewer.services.directory.current() as directory:
        teams = sorted(
            ((tid, t.name) for tid, t in directory.teams.items() if not t.disbanded),
            key=lambda pair: pair[1],
        )
    return render(
        request,
        "integrations.html",
        viewer,
        endpoints=endpoints,
        channels=channels,
        teams=teams,
        event_types=sorted(CATALOGUE.type_names()),
        secret=outcome.secret,
        problem=outcome.problem,
        status_code=outcome.status_code,
    )


@web.get(PATH)
def integrations_page(request: Request, viewer: ViewerDep) -> HTMLResponse:
    return _page(request, viewer)


@web.post(f"{PATH}/webhooks")
def register_webhook(request: Request, viewer: ViewerDep, form: FormDep) -> HTMLResponse:
    """The new endpoint's secret is on this answer only (not in a redirect nor the session)."""
    uses = _uses(viewer)
    types = [t.strip() for t in form.get("event_types", "*").split(",") if t.strip()]
    try:
        body = w.WebhookCreate(
            url=form.get("url").strip(),
            event_types=types,
            private_content=form.get("private_content") == "on",
        )
        _, secret = uses.register(body)
    except (ApiError, OkrError, ValueError) as error:
        return _page(request, viewer, Outcome.refused(_problem(error)))
    return _page(request, viewer, Outcome.made(secret))


@web.post(f"{PATH}/channels")
def connect_channel(viewer: ViewerDep, form: FormDep) -> RedirectResponse:
    uses = _uses(viewer)
    team = form.get("team_id").strip()

    def connect() -> object:
        try:
            body = w.ChannelCreate(
                kind=form.get("kind"),  # type: ignore[arg-type]
                url=form.get("url").strip(),
                team_id=UUID(team) if team else None,
            )
        except ValueError as error:
            raise FormError(_problem(error)) from None
        return uses.connect(body)

    return act(viewer, PATH, connect, "Channel connected.")


@web.post(f"{PATH}/webhooks/{{endpoint_id}}/disable")
def disable_webhook(endpoint_id: UUID, viewer: ViewerDep, form: FormDep) -> RedirectResponse:
    uses = _uses(viewer)
    reason = form.get("reason").strip() or "disabled by an admin"
    return act(viewer, PATH, lambda: uses.disable(endpoint_id, reason, None), "Endpoint disabled.")


@web.post(f"{PATH}/webhooks/{{endpoint_id}}/enable")
def enable_webhook(endpoint_id: UUID, viewer: ViewerDep, form: FormDep) -> RedirectResponse:
    uses = _uses(viewer)
    body = w.WebhookPatch(enabled=True)
    return act(viewer, PATH, lambda: uses.change(endpoint_id, body, None), "Endpoint enabled.")


@web.post(f"{PATH}/webhooks/{{endpoint_id}}/replay")
def replay_webhook(endpoint_id: UUID, viewer: ViewerDep, form: FormDep) -> RedirectResponse:
    uses = _uses(viewer)
    text = form.get("from_position").strip()
    if not text.isdigit() or int(text) < 1:
        viewer.flash("Replay from: a log position, a whole number from 1.", "error")
        return RedirectResponse(PATH, status_code=303)
    return act(
        viewer,
        PATH,
        lambda: uses.replay(endpoint_id, int(text)),
        f"Replay from position {text} queued.",
    )


@web.post(f"{PATH}/{{kind}}/{{target_id}}/deliveries/{{delivery_id}}/redeliver")
def redeliver(
    kind: str, target_id: UUID, delivery_id: int, viewer: ViewerDep, form: FormDep
) -> RedirectResponse:
    uses = _uses(viewer)
    if kind == "channels":
        return act(
            viewer,
            PATH,
            lambda: uses.redeliver_to_channel(target_id, delivery_id),
            "Message queued again.",
        )
    return act(
        viewer, PATH, lambda: uses.redeliver(target_id, delivery_id), "Delivery queued again."
    )


@web.post(f"{PATH}/channels/{{channel_id}}/disable")
def disable_channel(channel_id: UUID, viewer: ViewerDep, form: FormDep) -> RedirectResponse:
    uses = _uses(viewer)
    reason = form.get("reason").strip() or "disabled by an admin"
    return act(viewer, PATH, lambda: uses.disable_channel(channel_id, reason), "Channel disabled.")


@web.post(f"{PATH}/channels/{{channel_id}}/enable")
def enable_channel(channel_id: UUID, viewer: ViewerDep, form: FormDep) -> RedirectResponse:
    uses = _uses(viewer)
    return act(viewer, PATH, lambda: uses.reenable_channel(channel_id), "Channel enabled.")


def _problem(error: Exception) -> str:
    if isinstance(error, ApiError | OkrError):
        return str(getattr(error, "message", None) or error)
    errors = getattr(error, "errors", None)
    if callable(errors):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors())
    return str(error)


nav("Integrations", PATH, order=95, allowed=policy.may_administer)

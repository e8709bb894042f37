"""What every page shares: the router, the navigation, the viewer, forms, rendering, commands.

A page is a module in `api/web/pages/` that adds routes to `web` and, when it belongs in the
top navigation, one `nav(...)` line; its templates extend `layout.html`. Nothing else needs to
change to add a page (see docs/ui.md).

Authorization is the API's: pages call the API's own route functions (which apply
`api.policy` and `api.visibility`), and decide which forms to offer with the same `api.policy`
predicates. There is no second set of rules here.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import UUID

import anyio.to_thread
import jinja2
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from api import policy, positions
from api.deps import Services, facts_of
from api.errors import ApiError
from api.policy import ObjectiveFacts, Principal
from api.usecases import Caller
from api.web import charts
from api.web.session import Session
from domain.access import AccessToken, Role
from domain.base import CommandContext
from domain.errors import NotFound, OkrError
from domain.objective import Objective
from infra import answer
from projections.directory import DirectoryState

HERE = Path(__file__).parent
FORM_LIMIT = 64 * 1024

web = APIRouter(include_in_schema=False)
"""Every page's routes; `api.web.install` adds them to the app."""


# ------------------------------------------------------------------- navigation


def everyone(_: Principal) -> bool:
    return True


@dataclass(frozen=True)
class NavLink:
    label: str
    path: str
    order: int
    allowed: Callable[[Principal], bool] = everyone
    badge: Callable[[Viewer], int | None] | None = None
    """A count shown beside the label (e.g. the inbox's), or None for none."""


NAV: list[NavLink] = []


def nav(
    label: str,
    path: str,
    *,
    order: int,
    allowed: Callable[[Principal], bool] = everyone,
    badge: Callable[[Viewer], int | None] | None = None,
) -> None:
    """Put a page in the top navigation (lower `order` first); `allowed` hides it by role."""
    NAV[:] = sorted(
        [*(link for link in NAV if link.path != path), NavLink(label, path, order, allowed, badge)],
        key=lambda link: link.order,
    )


# ------------------------------------------------------------------------ names


@dataclass
class Names:
    """Names of people, teams and cycles from the API's directory (a snapshot per request)."""

    people: dict[str, str] = field(default_factory=dict)
    teams: dict[str, str] = field(default_factory=dict)
    cycles: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, directory: DirectoryState) -> Names:
        return cls(
            people={str(k): v.name for k, v in directory.people.items()},
            teams={str(k): v.name for k, v in directory.teams.items()},
            cycles={str(k): v.name for k, v in directory.cycles.items()},
        )

    def person(self, person_id: object) -> str:
        if person_id is None or person_id == "":
            return "–"
        if str(person_id) == "system":
            return "system"
        if str(person_id).startswith("source:"):
            return "data source"
        return self.people.get(str(person_id), "unknown person")

    def team(self, team_id: object) -> str:
        return self.teams.get(str(team_id), "–") if team_id else "–"

    def cycle(self, cycle_id: object) -> str:
        return self.cycles.get(str(cycle_id), "–") if cycle_id else "–"

    def owner(self, item: dict[str, Any] | Any) -> str:
        """The owner of an objective (a JSON dict or an object): its team or its person."""
        get = item.get if isinstance(item, dict) else lambda k: getattr(item, k, None)
        team = get("owner_team_id")
        return self.team(team) if team else self.person(get("owner_person_id"))


# ----------------------------------------------------------------------- viewer


class SignInRequired(Exception):
    """The page needs a signed-in viewer: answered with a redirect to the sign-in page."""


class Forbidden(Exception):
    """The viewer may not see this page: answered with a 403 page."""


class PageNotFound(Exception):
    def __init__(self, what: str = "page") -> None:
        super().__init__(what)
        self.what = what


def principal_of(services: Services, token_id: str | None) -> Principal | None:
    """The principal of a session's token, if the token is still live (not revoked, its
    person active): the same test as bearer authentication, by token id."""
    if not token_id:
        return None
    ledger = services.ledger
    try:
        token: object = ledger.repository.get(UUID(token_id))
    except (AggregateNotFoundError, ValueError):
        return None
    if not isinstance(token, AccessToken) or token.revoked or token.expired():
        return None
    try:
        person = ledger.get_person(token.person_id)
    except NotFound:
        return None
    if not person.active:
        return None
    role = Role(person.role) if person.role else token.role  # the person's role, once set
    return Principal(person_id=token.person_id, role=role, token_id=token.id)


def session_of(request: Request) -> Session:
    session = getattr(request.state, "session", None)
    if not isinstance(session, Session):  # outside the middleware (should not happen)
        session = request.state.session = Session(changed=True)
    return session


@dataclass
class Viewer:
    """The signed-in person looking at a page, and what a page needs to act for them."""

    request: Request
    services: Services
    principal: Principal
    session: Session
    _names: Names | None = None

    @property
    def ctx(self) -> CommandContext:
        return CommandContext(
            actor=self.principal.actor, request_id=getattr(self.request.state, "request_id", "")
        )

    @property
    def caller(self) -> Caller:
        """This viewer as the use cases' caller (api/usecases/)."""
        return Caller(self.services, self.principal, self.ctx)

    @property
    def names(self) -> Names:
        if self._names is None:
            self._names = self.ask(Names.of)
        return self._names

    @property
    def name(self) -> str:
        return self.names.person(self.principal.person_id)

    @property
    def role(self) -> str:
        return self.principal.role.value

    def call(self, route: Callable[..., Any], /, **arguments: Any) -> Any:
        """Call an API route function as this viewer: its context, principal and services."""
        return route(ctx=self.ctx, principal=self.principal, services=self.services, **arguments)

    def ask(self, question: Callable[[DirectoryState], Any]) -> Any:
        return self.services.directory.ask(question)

    def may(
        self, rule: Callable[[DirectoryState, Principal, ObjectiveFacts], bool], o: Objective
    ) -> bool:
        facts = facts_of(o)
        return bool(self.ask(lambda d: rule(d, self.principal, facts)))

    @property
    def reads_audit(self) -> bool:
        return policy.may_read_audit(self.principal)

    def flash(self, message: str, level: str = "info") -> None:
        self.session.flash(message, level)

    def wait_for(self, position: int | None) -> None:
        """Read your writes: let the read models reach a command's position first."""
        readmodels = self.services.readmodels
        if position and readmodels is not None:
            readmodels.wait_for(position, self.services.wait_timeout)


def get_viewer(request: Request) -> Viewer:
    services: Services = request.app.state.services
    session = session_of(request)
    principal = principal_of(services, session.token_id)
    if principal is None:
        if session.token_id:
            session.sign_out()
            session.flash("Your session ended; sign in again.", "info")
        raise SignInRequired
    request.state.principal = principal
    return Viewer(request, services, principal, session)


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


async def get_fresh_viewer(viewer: ViewerDep, seen: int | None = None) -> Viewer:
    """The viewer of a page that reads its writes: `seen` is the position the form's command
    answered (its redirect says so), and the read models reach it before the page reads (in
    the thread pool: only then is there a wait)."""
    if seen:
        await anyio.to_thread.run_sync(viewer.wait_for, seen)
    return viewer


FreshViewerDep = Annotated[Viewer, Depends(get_fresh_viewer)]


# ------------------------------------------------------------------------- forms


class CsrfFailed(Exception):
    """A form without the session's CSRF token."""


@dataclass
class Form:
    """A submitted urlencoded form; its CSRF token has been checked."""

    pairs: list[tuple[str, str]]

    def get(self, name: str, default: str = "") -> str:
        for key, value in self.pairs:
            if key == name:
                return value.strip()
        return default

    def getlist(self, name: str) -> list[str]:
        return [value.strip() for key, value in self.pairs if key == name and value.strip()]

    def text(self, name: str) -> str | None:
        """The field's text, or None when left empty."""
        value = self.get(name)
        return value or None

    def uuid(self, name: str) -> UUID | None:
        value = self.get(name)
        if not value:
            return None
        try:
            return UUID(value)
        except ValueError:
            raise FormError(f"{name.replace('_', ' ')}: not a valid choice") from None

    def chosen(self, name: str, missing: str) -> UUID:
        """The id the form must name; `missing` tells the person what to choose."""
        value = self.uuid(name)
        if value is None:
            raise FormError(missing)
        return value

    def key_result(self, prefix: str = "") -> dict[str, Any]:
        """A new key result's fields as the form names them (each after `prefix`, e.g. the
        drafting page's `kr_`), with the form's defaults: a metric, to increase."""
        return {
            "title": self.get(f"{prefix}title"),
            "measure": self.get(f"{prefix}measure") or "metric",
            "baseline": self.number(f"{prefix}baseline"),
            "target": self.number(f"{prefix}target"),
            "unit": self.get(f"{prefix}unit"),
            "direction": self.get(f"{prefix}direction") or "increase",
        }

    def number(self, name: str) -> float | None:
        value = self.get(name).replace(",", "")
        if not value:
            return None
        try:
            number = float(value)
        except ValueError:
            raise FormError(f"{name.replace('_', ' ')}: '{value}' is not a number") from None
        if not math.isfinite(number):
            raise FormError(f"{name.replace('_', ' ')}: not a finite number")
        return number

    def integer(self, name: str) -> int | None:
        number = self.number(name)
        if number is None:
            return None
        if number != int(number):
            raise FormError(f"{name.replace('_', ' ')}: a whole number, please")
        return int(number)

    def day(self, name: str) -> date | None:
        value = self.get(name)
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise FormError(f"{name.replace('_', ' ')}: not a date (YYYY-MM-DD)") from None

    def checked(self, name: str) -> bool:
        return self.get(name) in ("on", "true", "1", "yes")

    @property
    def version(self) -> int | None:
        """The aggregate version the form was rendered from (sent as If-Match)."""
        return self.integer("version")


class FormError(ValueError):
    """A form field that cannot be read as asked."""


async def read_form(request: Request) -> Form:
    """The form body (urlencoded, at most 64 KiB), refused without the session's CSRF token."""
    body = await request.body()
    if len(body) > FORM_LIMIT:
        raise CsrfFailed
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != "application/x-www-form-urlencoded":
        raise CsrfFailed
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=500)
    except (UnicodeDecodeError, ValueError):
        raise CsrfFailed from None
    form = Form(pairs)
    if not session_of(request).csrf_ok(form.get("csrf_token")):
        raise CsrfFailed
    return form


FormDep = Annotated[Form, Depends(read_form)]


# --------------------------------------------------------------------- rendering


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        progress_bar=charts.progress_bar,
        sparkline=charts.sparkline,
        fmt_number=charts.fmt_number,
        HEALTH_LABELS=HEALTH_LABELS,
        changes=changes,
        STATE_LABELS=STATE_LABELS,
    )
    env.filters.update(
        when=format_when,
        day=format_day,
        percent=format_percent,
        score=format_score,
        event_label=event_label,
        local_input=local_input,
    )
    return env


HEALTH_LABELS = {"on_track": "on track", "at_risk": "at risk", "off_track": "off track"}
STATE_LABELS = {
    "draft": "draft",
    "in_review": "in review",
    "changes_requested": "changes requested",
    "countered": "counter-proposed",
    "approved": "approved",
    "amendment_pending": "amendment pending",
    "graded": "graded",
    "abandoned": "abandoned",
}


def _instant(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_when(value: Any) -> str:
    """An instant as `2026-10-09 15:00 UTC`."""
    moment = _instant(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "–"


def format_day(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10] if value else "–"


def format_percent(value: Any) -> str:
    return "–" if value is None else f"{float(value):.0%}"


def format_score(value: Any) -> str:
    return "–" if value is None else f"{float(value):.2f}"


def event_label(event_type: str) -> str:
    """`Objective.AmendmentProposed` → `amendment proposed`."""
    name = event_type.rsplit(".", 1)[-1]
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in name).strip()
    return words


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Nested change data as `field: value`, ids and hashes left out, id keys dropped."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            key = str(key)
            if key.endswith(("_id", "hash")) and not isinstance(inner, dict):
                continue
            name = path if _UUID.match(key) else (f"{path}.{key}" if path else key)
            out.update(_flatten(inner, name))
        return out
    return {path or "value": value}


def changes(before: Any, after: Any) -> list[tuple[str, str, str]]:
    """An audit row's before and after as (field, before, after) lines for a person."""
    old, new = _flatten(before or {}), _flatten(after or {})

    def shown(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, float | int):
            return charts.fmt_number(value)
        text = json.dumps(value) if isinstance(value, list | dict) else str(value)
        return text if len(text) <= 80 else text[:77] + "…"

    return [
        (key.rsplit(".", 1)[-1].replace("_", " "), shown(old.get(key)), shown(new.get(key)))
        for key in dict.fromkeys([*old, *new])
        if old.get(key) != new.get(key) or key not in old
    ]


def local_input(value: Any) -> str:
    """An instant as a `datetime-local` input value in UTC (`2026-10-09T15:00`)."""
    moment = _instant(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if moment else ""


TEMPLATES = _environment()


def render(
    request: Request,
    template: str,
    viewer: Viewer | None = None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page: `template` with the viewer, the navigation, the CSRF token and the flashes."""
    session = session_of(request)
    links = []
    if viewer is not None:
        for link in NAV:
            if link.allowed(viewer.principal):
                links.append(
                    {
                        "label": link.label,
                        "path": link.path,
                        "current": _is_current(request.url.path, link.path),
                        "badge": link.badge(viewer) if link.badge else None,
                    }
                )
    html = TEMPLATES.get_template(template).render(
        request=request,
        viewer=viewer,
        names=viewer.names if viewer else Names(),
        nav=links,
        csrf_token=session.csrf,
        flashes=session.take_flashes(),
        moment=_moment(request, viewer),
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


TIME_TRAVEL_PAGES = frozenset({"/tree"})
"""Pages that open at a log position (`?position=N`); the footer of the others links to the
tree at the position they showed (docs/ui.md)."""


def _moment(request: Request, viewer: Viewer | None) -> dict[str, Any] | None:
    """The footer's "as of position N · chain 3f2a…": the position the page's reads reflect,
    the chain hash there, and a link that opens the page (or the tree) at that position.

    A page that read nothing positioned (a form, say) shows the directory it named people,
    teams and cycles from."""
    found = answer.current()
    hashes = getattr(request.app.state, "chain_hashes", None)
    if found is None or viewer is None or hashes is None:
        return None
    if found.position is None:
        with viewer.services.directory.current():
            positions.saw_directory(viewer.services.directory)
    stated = positions.stated(found, hashes)
    if stated is None:
        return None
    position, chain_hash = stated
    if request.url.path in TIME_TRAVEL_PAGES:
        here = str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
        link = with_query(here, position=position, as_of=None, seen=None)
    else:
        link = with_query("/tree", position=position)
    return {"position": position, "hash": chain_hash.hex(), "link": link}


def _is_current(path: str, link: str) -> bool:
    return path == link if link == "/" else path == link or path.startswith(link + "/")


def fragment(template: str, viewer: Viewer, **context: Any) -> HTMLResponse:
    """A piece of a page (for the progressive JavaScript), without the layout."""
    html = TEMPLATES.get_template(template).render(viewer=viewer, names=viewer.names, **context)
    return HTMLResponse(html)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def with_query(url: str, **params: object) -> str:
    """`url` with `params` set (None drops a parameter)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query += [(k, str(v)) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go back to (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


# ---------------------------------------------------------------------- commands


def problem_text(error: Exception) -> str:
    """What went wrong, in a sentence for a person."""
    if isinstance(error, ApiError | OkrError):
        return error.message[:1].upper() + error.message[1:]
    if isinstance(error, ValidationError):
        messages = []
        for item in error.errors():
            where = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "value"
            messages.append(f"{where.replace('_', ' ')}: {item.get('msg', 'invalid')}")
        return "; ".join(messages)
    if isinstance(error, IntegrityError):
        return "Someone else changed this at the same moment; look again and retry."
    return str(error)


def act(
    viewer: Viewer,
    back: str,
    command: Callable[[], Any],
    done: str,
    *,
    then: Callable[[Any], str] | None = None,
) -> RedirectResponse:
    """Run a command (an API route function); flash its outcome and go back (POST → 303 → GET),
    or on success to `then(result)`.

    On success the redirect carries `seen=<position>` so the next page waits until the read
    models show the change (read your writes).
    """
    try:
        result = command()
    except (ApiError, OkrError, ValidationError, IntegrityError, FormError) as error:
        if getattr(error, "rule", "") == "version_mismatch":
            viewer.flash(
                "This changed since you opened the page; here it is as it is now.", "error"
            )
        else:
            viewer.flash(problem_text(error), "error")
        return redirect(back)
    viewer.flash(done, "success")
    position = getattr(result, "position", None)
    return redirect(with_query(then(result) if then else back, seen=position))


@dataclass(frozen=True)
class Outcome:
    """What a page that answers its own form shows (no redirect: a secret made now is shown
    on this answer only, never again): the secret, or the form's problem, and the status."""

    secret: str | None = None
    problem: str | None = None
    status_code: int = 200

    @classmethod
    def made(cls, secret: str) -> Outcome:
        return cls(secret=secret, status_code=201)

    @classmethod
    def refused(cls, problem: str) -> Outcome:
        return cls(problem=problem, status_code=422)


SHOWN = Outcome()
"""The page as it is, no form answered."""


FormBuilder = Callable[[UUID, Viewer, Form], Any]
"""Runs the command a form asks for, given the id of what it is about, the viewer, the form."""


def form_command(resource: str, action: str, done: str) -> Callable[[FormBuilder], FormBuilder]:
    """A form about one thing (`resource`, e.g. `/kpis/{kpi_id}`), posted to `resource` +
    `action`: the decorated function runs its command, `act` flashes `done` and goes back to
    the thing's page."""
    (id_name,) = re.findall(r"{(\w+)}", resource)

    def register(build: FormBuilder) -> FormBuilder:
        def route(**values: Any) -> RedirectResponse:
            thing_id, viewer, form = values[id_name], values["viewer"], values["form"]
            back = resource.format(**{id_name: thing_id})
            return act(viewer, back, lambda: build(thing_id, viewer, form), done)

        keyword = inspect.Parameter.KEYWORD_ONLY
        route.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [
                inspect.Parameter(id_name, keyword, annotation=UUID),
                inspect.Parameter("viewer", keyword, annotation=ViewerDep),
                inspect.Parameter("form", keyword, annotation=FormDep),
            ],
            return_annotation=RedirectResponse,
        )
        route.__name__ = route.__qualname__ = build.__name__
        route.__doc__ = build.__doc__
        web.post(resource + action)(route)
        return build

    return register


def first(items: Iterable[Any], default: Any = None) -> Any:
    return next(iter(items), default)

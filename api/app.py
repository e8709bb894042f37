"""The FastAPI application: `create_app` wires the services into routes under /api/v1.

The application is built around services made elsewhere (the composition root in
infra/bootstrap.py, or a test fixture), so the same factory serves `okr serve` and the tests.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors, metrics, positions, schemas, web
from api.deps import Principals, Services, TreeCache
from api.directory import LogDirectory, request_began
from api.routes.access import access
from api.routes.audit import audit_routes as audit
from api.routes.cycles import cycles
from api.routes.health import health
from api.routes.imports import imports
from api.routes.initiatives import initiatives
from api.routes.kpis import kpis
from api.routes.ledger import ledger_routes
from api.routes.lint import coach
from api.routes.notifications import notifications
from api.routes.objectives import objectives
from api.routes.people import people, tokens
from api.routes.queries import queries
from api.routes.sources import sources
from api.routes.strategy import strategy
from api.routes.teams import teams
from api.routes.webhooks import webhooks
from api.scim import scim
from domain.application import OkrLedger
from infra.idempotency import IdempotencyStore
from infra.readmodels import ReadModels
from infra.settings import Settings, get_settings

PREFIX = "/api/v1"
IDEMPOTENCY_RETENTION = timedelta(hours=24)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

DESCRIPTION = """\
okrledger's HTTP API. Every change is an immutable event; every read is a projection of them.

**Authentication**: `Authorization: Bearer okr_…` (from `okr token create`). Roles come from the
token (admin, manager, member, auditor), team membership from the directory.

**Commands** answer `{"id", "version", "position"}` (and the created child's id). Pass
`position` as `min_position` to a read to see your own write. Writes to an existing aggregate
honour `If-Match` (412 when stale); POSTs honour `Idempotency-Key`.

**Errors** are RFC 9457 problem documents naming the `rule` (and `field`) they are about.
See docs/api.md for the full story.
"""


def create_app(
    ledger: OkrLedger,
    *,
    readmodels: ReadModels | None = None,
    idempotency: IdempotencyStore | None = None,
    wait_timeout: float = 5.0,
    ready_max_lag: int = 1000,
    ui: bool = True,
    settings: Settings | None = None,
) -> FastAPI:
    """The API over `ledger`, querying `readmodels` (infra.readmodels.ReadModels) when given.

    `idempotency` enables `Idempotency-Key` (its table is created here); `wait_timeout` bounds
    how long a read waits for `min_position`; `ready_max_lag` is how far the projections may
    trail the log for /ready to answer 200. `ui` mounts the web UI at `/` (api/web), its
    session secret from `settings`.
    """
    if idempotency is not None:
        idempotency.create_table()
        idempotency.purge(older_than=IDEMPOTENCY_RETENTION)
    app = FastAPI(
        title="okrledger",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
    )
    directory = LogDirectory(ledger)
    app.state.services = Services(
        ledger=ledger,
        directory=directory,
        readmodels=readmodels,
        idempotency=idempotency,
        wait_timeout=wait_timeout,
        ready_max_lag=ready_max_lag,
        settings=settings,
        principals=Principals(
            ledger, directory, (settings or get_settings()).principal_cache_seconds
        ),
        trees=TreeCache((settings or get_settings()).tree_cache_size),
    )
    errors.install(app)
    for router in (
        health,
        people,
        tokens,
        teams,
        cycles,
        queries,
        objectives,
        audit,
        access,
        strategy,
        kpis,
        initiatives,
        coach,
        sources,
        imports,
        ledger_routes,
        webhooks,
    ):
        app.include_router(router, prefix=PREFIX)
    app.include_router(notifications, prefix=PREFIX)  # docs/notifications.md
    metrics.install(app, settings)
    app.include_router(scim)  # /scim/v2: off (404) until OKR_SCIM_TOKEN is set
    if ui:
        web.install(app, settings or get_settings())

    app.add_middleware(RequestIdMiddleware)
    positions.install(app, ledger)
    _problem_media_type_only(app)
    return app


def _problem_media_type_only(app: FastAPI) -> None:
    """Error answers are `application/problem+json` only; FastAPI also lists application/json
    for a response with a model, so the generated schema is trimmed once."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if status[:1] in "45" and errors.PROBLEM_MEDIA_TYPE in content:
                            content.pop("application/json", None)
            app.openapi_schema = _published_names(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _published_names(schema: dict[str, Any]) -> dict[str, Any]:
    """Components named as clients know them (`api.schemas.OPENAPI_NAMES`: `ObjectiveOut` is
    published as `Objective`), with every `$ref` to them and their titles following."""
    components = schema.get("components", {}).get("schemas", {})
    renames = {old: new for old, new in schemas.OPENAPI_NAMES.items() if old in components}
    refs = {
        f"#/components/schemas/{old}": f"#/components/schemas/{new}" for old, new in renames.items()
    }

    def follow(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                key: refs.get(value, value) if key == "$ref" else follow(value)
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [follow(item) for item in node]
        return node

    for old, new in renames.items():
        component = components.pop(old)
        if component.get("title") == old:
            component["title"] = new
        components[new] = component
    return dict(follow(schema))


class RequestIdMiddleware:
    """Every request has an id (the client's X-Request-ID, or a new one); events record it,
    and the answer carries it. Pure ASGI: no response streaming through a task and a queue,
    as `@app.middleware("http")` would do."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_began.set(time.monotonic())
        given = Headers(scope=scope).get("X-Request-ID", "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)

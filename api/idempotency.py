"""`Idempotency-Key` on POST: a repeated request gets the first answer and writes nothing new.

Follows the IETF draft "The Idempotency-Key HTTP Header Field": keys are scoped to the caller
(the token's person); a key reused with a different request (method, path, query or body) is
a 422 `idempotency_key_reused`; a key whose first request is still running is a 409
`idempotency_key_in_use`. Only successful (2xx) answers are kept: a request that failed
releases its key, so the client may fix it and retry under the same key. Replays carry
`Idempotent-Replayed: true`.

It holds across a crash of the server at any point (infra/idempotency.py has the states): the
handler runs under a `Claim` (a ContextVar, copied into the thread pool with the request's
context) that the event store turns into the key's `written` state in the transaction of the
command's events. A retry after the server died

- before the commit finds the key `pending` with its owner gone: it runs the command (once);
- after the commit, before the answer was stored, finds `written`: the answer is rebuilt from
  the recorded result through the route's own `response_model` and `status_code` (`ETag` is
  the version, `Location` from `LOCATIONS`), stored, and replayed; the command is not run again;
- after the answer was stored finds `done`: the stored answer is replayed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from api import schemas
from api.deps import Services, authenticate, etag
from api.errors import problem
from api.policy import Principal
from infra.idempotency import (
    MAX_KEY_LENGTH,
    IdempotencyStore,
    KeyAlreadyWritten,
    Outcome,
    Reservation,
    StoredResponse,
    WrittenResult,
    claiming,
)
from infra.settings import get_settings

HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1," + str(MAX_KEY_LENGTH) + r"}$")
_REPLAYED_HEADERS = ("etag", "location")

LOCATIONS = {
    "/people": "/api/v1/people/{id}",
    "/teams": "/api/v1/teams/{id}",
    "/cycles": "/api/v1/cycles/{id}",
    "/objectives": "/api/v1/objectives/{id}",
    "/objectives/{objective_id}/key-results": "/api/v1/objectives/{id}",
    "/objectives/{objective_id}/carry-over": "/api/v1/objectives/{id}",
    "/kpis": "/api/v1/kpis/{id}",
}
"""The `Location` each POST route answers, by its path under `/api/v1`, from the written
aggregate's id: what a rebuilt answer (the server died between the commit and storing the
answer) carries. tests/api/test_idempotency_rebuild.py compares them with the handlers'."""


def request_hash(request: Request, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, request.url.query):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()


async def _principal(request: Request, services: Services) -> Principal | None:
    known = getattr(request.state, "principal", None)
    if isinstance(known, Principal):
        return known
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    if services.principals is not None:
        principal = await run_in_threadpool(services.principals.authenticate, secret.strip())
    else:
        principal = await run_in_threadpool(authenticate, services.ledger, secret.strip())
    if principal is not None:
        request.state.principal = principal
    return principal


def _in_use() -> Response:
    return problem(
        409,
        "idempotency_key_in_use",
        f"the first request with this {HEADER} is still running; retry shortly",
        HEADER,
        headers={"Retry-After": "1"},
    )


async def _document_key(
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            pattern=r"^[\x21-\x7e]{1,255}$",
            description="Send the same key again to get the first answer again, with no "
            "second write (kept for 24 hours, per caller). Reusing a key for another request "
            "is a 422.",
        ),
    ] = None,
) -> None:
    """Puts the header into OpenAPI; `IdempotentRoute` does the work before validation."""


class IdempotentRoute(APIRoute):
    """A route whose POSTs honour `Idempotency-Key`."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if "POST" in (kwargs.get("methods") or ()):
            kwargs["dependencies"] = [*(kwargs.get("dependencies") or []), Depends(_document_key)]
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            key = request.headers.get(HEADER)
            services: Services = request.app.state.services
            store = services.idempotency
            if request.method != "POST" or key is None or store is None:
                return await handler(request)
            if not _KEY.match(key):
                return problem(
                    422,
                    "idempotency_key_invalid",
                    f"{HEADER} is 1 to {MAX_KEY_LENGTH} visible ASCII characters",
                    HEADER,
                )
            principal = await _principal(request, services)
            if principal is None:
                return await handler(request)  # answers 401
            fingerprint = request_hash(request, await request.body())
            reservation = await run_in_threadpool(store.reserve, principal.actor, key, fingerprint)
            if reservation.outcome is Outcome.MISMATCH:
                return problem(
                    422,
                    "idempotency_key_reused",
                    f"this {HEADER} was used for a different request; use a new key",
                    HEADER,
                )
            if reservation.outcome is Outcome.IN_PROGRESS:
                return _in_use()
            if reservation.outcome is not Outcome.RESERVED:
                return await self._first_answer(store, principal.actor, key, reservation)
            settings = services.settings or get_settings()
            crash_point = settings.test_crash_point if settings.environment == "test" else None
            claim = store.claim(principal.actor, key, crash_point)
            try:
                with claiming(claim):
                    response = await handler(request)
            except KeyAlreadyWritten:
                # Another request with this key committed first (this one took over a
                # reservation whose owner looked gone): answer with what that one wrote.
                again = await run_in_threadpool(store.reserve, principal.actor, key, fingerprint)
                return await self._first_answer(store, principal.actor, key, again)
            except BaseException:
                await run_in_threadpool(store.release, principal.actor, key)
                raise
            if 200 <= response.status_code < 300:
                stored = StoredResponse(
                    status=response.status_code,
                    body=bytes(response.body),
                    content_type=response.media_type or "application/json",
                    headers={
                        name: response.headers[name]
                        for name in _REPLAYED_HEADERS
                        if name in response.headers
                    },
                )
                await run_in_threadpool(store.complete, principal.actor, key, stored)
                claim.crash("after_store")
            else:
                await run_in_threadpool(store.release, principal.actor, key)
            return response

        return route

    async def _first_answer(
        self, store: IdempotencyStore, principal: str, key: str, reservation: Reservation
    ) -> Response:
        """The first request's answer: stored (`done`), or rebuilt from what it wrote."""
        stored = reservation.response
        if reservation.outcome is Outcome.WRITTEN:
            assert reservation.written is not None
            stored = self.rebuild(reservation.written)
            await run_in_threadpool(store.complete, principal, key, stored)
        if stored is None:  # no answer to give yet (another request holds the key)
            return _in_use()
        return Response(
            stored.body,
            status_code=stored.status,
            media_type=stored.content_type,
            headers={**stored.headers, "Idempotent-Replayed": "true"},
        )

    def rebuild(self, written: WrittenResult) -> StoredResponse:
        """This route's answer for a command that wrote `written`, as the handler renders it:
        the route's status, its `response_model` (a CommandResult, with the command's extra id
        in its one extra field), the version as `ETag`, and `LOCATIONS`' `Location`."""
        model = self.response_model
        if not (isinstance(model, type) and issubclass(model, schemas.CommandResultOut)):
            msg = f"POST {self.path} answers no CommandResult: its answer cannot be rebuilt"
            raise TypeError(msg)
        fields: dict[str, Any] = {
            "id": written.id,
            "version": written.version,
            "position": written.position,
        }
        extra = [name for name in model.model_fields if name not in fields]
        if extra:
            (name,) = extra
            fields[name] = written.extra_id
        content = model.model_validate(fields).model_dump(mode="json")
        headers = {"etag": etag(written.version)}
        location = LOCATIONS.get(self.path.removeprefix("/api/v1"))
        if location is not None:
            headers["location"] = location.format(id=written.id)
        return StoredResponse(
            status=self.status_code or 200,
            body=bytes(JSONResponse(content).body),
            content_type="application/json",
            headers=headers,
        )

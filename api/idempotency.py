"""`Idempotency-Key` on POST: a repeated request gets the first answer and writes nothing new.

Follows the IETF draft "The Idempotency-Key HTTP Header Field": keys are scoped to the caller
(the token's person); a key reused with a different request (method, path, query or body) is
a 422 `idempotency_key_reused`; a key whose first request is still running is a 409
`idempotency_key_in_use`. Only successful (2xx) answers are kept: a request that failed
releases its key, so the client may fix it and retry under the same key. Replays carry
`Idempotent-Replayed: true`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from api.deps import Services, authenticate
from api.errors import problem
from api.policy import Principal
from infra.idempotency import MAX_KEY_LENGTH, Outcome, StoredResponse

HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1," + str(MAX_KEY_LENGTH) + r"}$")
_REPLAYED_HEADERS = ("etag", "location")


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


def _document_key(
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
            if reservation.outcome is Outcome.REPLAY:
                stored = reservation.response
                assert stored is not None
                return Response(
                    stored.body,
                    status_code=stored.status,
                    media_type=stored.content_type,
                    headers={**stored.headers, "Idempotent-Replayed": "true"},
                )
            if reservation.outcome is Outcome.MISMATCH:
                return problem(
                    422,
                    "idempotency_key_reused",
                    f"this {HEADER} was used for a different request; use a new key",
                    HEADER,
                )
            if reservation.outcome is Outcome.IN_PROGRESS:
                return problem(
                    409,
                    "idempotency_key_in_use",
                    f"the first request with this {HEADER} is still running; retry shortly",
                    HEADER,
                    headers={"Retry-After": "1"},
                )
            try:
                response = await handler(request)
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
            else:
                await run_in_threadpool(store.release, principal.actor, key)
            return response

        return route

"""Every read states the moment it shows: the `OKR-Position` and `OKR-Chain-Hash` headers.

A GET request records, while the route reads, the log position its answer was computed from
(infra/answer.py); a successful answer then carries that position and the chain hash at it, so a
saved answer can be re-created (`position=`) and checked against the store years later
(`GET /api/v1/audit/verify?position=N&hash=H`). Pure ASGI, like the request-id middleware.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import anyio.to_thread
from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.directory import LogDirectory
from domain.application import OkrLedger
from infra.answer import Answer, ChainHashes, answering, current, reflect_aggregate, saw
from infra.chain import ChainedApplicationRecorder

POSITION_HEADER = "OKR-Position"
HASH_HEADER = "OKR-Chain-Hash"
_READS = frozenset({"GET", "HEAD"})


def install(app: FastAPI, ledger: OkrLedger) -> None:
    """State every read's position and chain hash; `app.state.chain_hashes` serves the pages.

    A ledger without a hash chain (in memory, for the schema alone) states nothing."""
    _document_headers(app)
    if not isinstance(ledger.recorder, ChainedApplicationRecorder):
        return
    hashes = ChainHashes(ledger.recorder.chain)
    app.state.chain_hashes = hashes
    app.add_middleware(PositionMiddleware, hashes=hashes)


HEADERS = {
    POSITION_HEADER: {
        "description": "The log position this answer reflects (a notification id): the same "
        "read with `position=` this value gives the same answer.",
        "schema": {"type": "integer", "minimum": 0},
    },
    HASH_HEADER: {
        "description": "The hash chain's hash at that position (64 hex digits): check it later "
        "with `GET /api/v1/audit/verify?position=…&hash=…`.",
        "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    },
}


def _document_headers(app: FastAPI) -> None:
    """The OpenAPI document lists both headers on every read's successful answers."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        for path, operations in schema.get("paths", {}).items():
            read = operations.get("get")
            if read is None or path.endswith(("/health", "/metrics")):
                continue
            for status, response in read.get("responses", {}).items():
                if status.startswith("2"):
                    response.setdefault("headers", {}).update(HEADERS)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def stated(answer: Answer, hashes: ChainHashes) -> tuple[int, bytes] | None:
    """The answer's position and the chain hash at it (looked up when the read had none)."""
    if answer.position is None:
        return None
    if answer.hash is None:
        answer.hash = hashes.at(answer.position)
    else:
        hashes.remember(answer.position, answer.hash)
    return answer.position, answer.hash


class PositionMiddleware:
    """Adds `OKR-Position` and `OKR-Chain-Hash` to successful GET answers that read the log."""

    def __init__(self, app: ASGIApp, hashes: ChainHashes) -> None:
        self.app = app
        self.hashes = hashes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _READS:
            await self.app(scope, receive, send)
            return
        with answering() as answer:

            async def send_with_position(message: Message) -> None:
                if (
                    message["type"] == "http.response.start"
                    and 200 <= message["status"] < 300
                    and answer.position is not None
                ):
                    if answer.hash is None:
                        answer.hash = self.hashes.known(answer.position)
                    if answer.hash is None:  # a database round trip: not on the event loop
                        await anyio.to_thread.run_sync(stated, answer, self.hashes)
                    found = stated(answer, self.hashes)
                    assert found is not None
                    headers = MutableHeaders(scope=message)
                    headers[POSITION_HEADER] = str(found[0])
                    headers[HASH_HEADER] = found[1].hex()
                await send(message)

            await self.app(scope, receive, send_with_position)


def saw_aggregate(ledger: OkrLedger, aggregate_id: UUID, version: int) -> None:
    """A read of one aggregate from the event store: it reflects the notification id of the
    aggregate's event at the version read (docs/api.md)."""
    reflect_aggregate(ledger.recorder, aggregate_id, version)


def saw_head(ledger: OkrLedger) -> None:
    """A read of what is kept beside the log (delivery logs, the notifier's messages, the
    endpoints' list): it reflects the log up to the head there was when the read began."""
    head = ledger.recorder.max_notification_id()
    if head:
        saw(head)


def saw_directory(directory: LogDirectory) -> None:
    """A read of the API's directory (call while holding `directory.current()`): it reflects
    the last directory event applied."""
    saw(directory.position())


def reflected() -> int | None:
    """The position recorded for the answer so far (None outside a request or before a read)."""
    found = current()
    return None if found is None else found.position

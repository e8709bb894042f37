"""The web UI's static files, each answered whole: read before its headers go out.

Starlette's `StaticFiles` answers with a `FileResponse`, which sends the headers (the length
`stat` gave) and only then opens and reads the file. Whatever fails after the headers (the
process out of file descriptors, the file replaced between the `stat` and the read, a failed
read in a worker thread) can only close the connection, and the browser reports a body shorter
than its Content-Length (`net::ERR_CONTENT_LENGTH_MISMATCH`). The files are small: reading each
one first makes its answer whole, or a failure is an error answer before any header
(docs/ui.md, "Static files"). Ranges are not offered (`Accept-Ranges` is dropped), so a client
never asks for part of a file.
"""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

_FROM_THE_BODY = frozenset({"content-length", "accept-ranges"})


class WholeStaticFiles(StaticFiles):
    """`StaticFiles` whose answers carry their body: the length is the body's own."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if not isinstance(response, FileResponse):  # 304, 404, 405: whole already
            return response
        body = await anyio.to_thread.run_sync(Path(response.path).read_bytes)
        headers = {k: v for k, v in response.headers.items() if k not in _FROM_THE_BODY}
        return Response(body, status_code=response.status_code, headers=headers)

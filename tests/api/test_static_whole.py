"""A static file is answered whole: never a body shorter (or longer) than its Content-Length.

Chromium reports such an answer as `net::ERR_CONTENT_LENGTH_MISMATCH`. Every HTML and JSON
answer is whole before its headers go out; Starlette's `StaticFiles` sent a file's headers
(with the length `stat` gave) and only then opened and read the file, so whatever failed or
changed after the headers cut the body: here a deployment replaces a static file while a
browser reads it (the same cut follows an `open` failing for want of file descriptors, or a
read failing in its worker thread; docs/ui.md, "Static files").

The static files are the web UI's (`api.web.static_files`) over a folder of the test's, on a
real uvicorn server, read by a keep-alive HTTP/1.1 client while a writer swaps the file.
"""

from __future__ import annotations

import http.client
import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.routing import Mount

from api.web import static_files
from tests import servers

LONG = b"/* long */\n" + b"a" * 200_000 + b"\n"
SHORT = b"/* short */\n"
READS = 400


def _swap(folder: Path, stop: threading.Event) -> None:
    """Replace okr.js by its other version, atomically, as a deployment does, until `stop`."""
    versions = [LONG, SHORT]
    n = 0
    while not stop.is_set():
        staged = folder / f".okr.js.{n % 2}"
        staged.write_bytes(versions[n % 2])
        os.replace(staged, folder / "okr.js")
        n += 1


def test_a_static_file_replaced_while_it_is_read_is_still_answered_whole(tmp_path: Path) -> None:
    (tmp_path / "okr.js").write_bytes(LONG)
    app = Starlette(routes=[Mount("/static", static_files(tmp_path))])
    stop = threading.Event()
    cut: list[str] = []
    lengths: set[int] = set()
    ranges: set[str | None] = set()
    with servers.served(app) as url:
        writer = threading.Thread(target=_swap, args=(tmp_path, stop), name="okr-test-swap")
        writer.start()
        address = urlsplit(url)
        conn = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        try:
            for _ in range(READS):
                try:
                    conn.request("GET", "/static/okr.js")
                    answer = conn.getresponse()
                    body = answer.read()
                except (http.client.HTTPException, ConnectionError) as error:
                    cut.append(repr(error))  # the body ended before its Content-Length
                    conn.close()
                    continue
                assert answer.status == 200
                assert len(body) == int(answer.headers["Content-Length"])
                assert body in (LONG, SHORT)
                ranges.add(answer.headers.get("Accept-Ranges"))
                lengths.add(len(body))
        finally:
            stop.set()
            writer.join()
            conn.close()
    assert cut == [], f"{len(cut)} of {READS} answers cut short, e.g. {cut[0]}"
    assert lengths == {len(LONG), len(SHORT)}, "the writer never changed the file mid-run"
    assert ranges == {None}  # no part of a file is offered: a client never resumes one

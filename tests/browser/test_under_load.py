"""Every answer is whole under load: its body is exactly as long as its Content-Length.

Chromium once reported `net::ERR_CONTENT_LENGTH_MISMATCH` (a body shorter than its
Content-Length: the connection closed mid-body) on a page of the demo. Here the browser walks
every page while raw HTTP/1.1 clients read the same pages and static files on keep-alive
connections (plain, conditional with the ETag they were given, HEAD, and clients that hang up
after the headers, as a browser does when it navigates away), and a writer keeps changing the
objectives. Every complete answer must have the length it announced, the browser must see no
failed request, and the server must log no error (an exception after the headers were sent is
what cuts a body short).
"""

from __future__ import annotations

import http.client
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

from domain.base import CommandContext
from tests.browser.conftest import Browser, Site
from tests.browser.test_every_page import _pages

pytestmark = pytest.mark.browser

STATIC = ["/static/okr.css", "/static/okr.js", "/static/favicon.svg", "/static/strategy.css"]
CLIENTS = 4
BROWSER_ROUNDS = 2


@dataclass
class Tally:
    answers: int = 0
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> None:
        with self.lock:
            self.answers += 1

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {record.getMessage()}")


@pytest.fixture
def server_errors() -> Iterator[list[str]]:
    """Errors the server logs meanwhile (uvicorn logs a response cut after its headers)."""
    handler = _Errors()
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


def _read_everything(
    site: Site, paths: list[str], cookie: str, index: int, stop: threading.Event, tally: Tally
) -> None:
    """One keep-alive connection reading `paths` (plainly, conditionally, HEAD, or hanging up
    after the headers) until `stop`."""
    address = urlsplit(site.url)
    etags: dict[str, str] = {}
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
    n = index
    try:
        while not stop.is_set():
            path = paths[n % len(paths)]
            kind = ("plain", "conditional", "head", "hang-up")[(n // len(paths) + index) % 4]
            if kind == "head" and not path.startswith("/static/"):
                kind = "plain"  # the pages answer GET only
            n += 1
            headers = {"Cookie": cookie}
            if kind == "conditional" and path in etags:
                headers["If-None-Match"] = etags[path]
            try:
                conn.request("HEAD" if kind == "head" else "GET", path, headers=headers)
                answer = conn.getresponse()
                if kind == "hang-up":
                    conn.close()  # gone after the headers, as a browser leaving the page
                    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
                    continue
                body = answer.read()
            except (http.client.HTTPException, OSError) as error:
                tally.problem(f"{kind} {path}: {error!r}")
                conn.close()
                conn = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
                continue
            if answer.status not in (200, 304):
                tally.problem(f"{kind} {path}: HTTP {answer.status}")
            announced = answer.getheader("Content-Length")
            whole = announced is not None and int(announced) == len(body)
            if kind != "head" and answer.status == 200 and not whole:
                tally.problem(f"{kind} {path}: {len(body)} bytes, announced {announced}")
            if answer.getheader("ETag"):
                etags[path] = answer.getheader("ETag") or ""
            tally.count()
    finally:
        conn.close()


def _keep_writing(site: Site, stop: threading.Event, tally: Tally) -> None:
    """Check-ins on an objective of the demo, one after another, until `stop`."""
    objective_id, kr = site.approved_objective("Under load", target=1000)
    who = CommandContext(actor=str(site["kwame"].person_id))
    value = 0
    while not stop.is_set():
        value += 1
        try:
            site.ledger.check_in(objective_id, kr, value, 7, who)
        except Exception as error:  # a write failing is a finding too
            tally.problem(f"writer: {error!r}")
            return


def test_every_answer_is_as_long_as_it_says_under_load(
    browser: Browser, server_errors: list[str]
) -> None:
    site = browser.site
    browser.sign_in("admin")
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in browser.context.cookies())
    pages = _pages(browser)
    paths = [path for _, path, _ in pages] + STATIC

    stop = threading.Event()
    tally = Tally()
    workers = [
        threading.Thread(target=_read_everything, args=(site, paths, cookie, i, stop, tally))
        for i in range(CLIENTS)
    ] + [threading.Thread(target=_keep_writing, args=(site, stop, tally))]
    for worker in workers:
        worker.start()
    try:
        for _ in range(BROWSER_ROUNDS):
            for _name, path, expected in pages:
                answer = browser.go(path)
                assert answer.status == 200, path
                assert expected in browser.page.locator("main").inner_text(), path
    finally:
        stop.set()
        for worker in workers:
            worker.join(120)
    assert not any(worker.is_alive() for worker in workers)
    assert tally.answers >= CLIENTS * len(pages), tally.answers  # the clients did read
    assert not tally.problems, tally.problems[:20]
    assert not browser.errors, browser.errors  # console errors and failed requests
    assert not server_errors, server_errors

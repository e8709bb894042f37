"""Fixtures for the browser tests: the demo organisation on a real PostgreSQL, `okr serve`'s
app on a real uvicorn server, and Debian's Chromium driven by Playwright.

One database and one server serve the whole browser session (loading the demo takes a while);
each test opens its own browser context, so cookies never leak between tests, and builds the
objectives it acts on with the application's commands (fast) before acting in the browser.

Chromium is Debian's (`apt-get install chromium`, done by `make test`), never `playwright
install`; without it the tests are skipped with the command to run.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from demo import DemoSummary, load_demo
from domain.access import Role
from domain.application import OkrLedger
from domain.base import CommandContext
from infra.bulk import history_writer
from infra.chain import importing_history
from infra.eventstore import eventsourcing_env
from infra.readmodels import ReadModels
from infra.settings import Settings
from tests import servers
from tests.api.conftest import make_app
from tests.steps import draft, metric

CHROMIUM = os.environ.get("OKR_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
VIEWPORT = {"width": 1360, "height": 860}


@dataclass
class Person:
    key: str
    person_id: UUID
    token: str
    role: Role

    @property
    def ctx(self) -> CommandContext:
        return CommandContext(actor=str(self.person_id))


@dataclass
class Site:
    """The served demo: its base URL, the application behind it, people with tokens."""

    url: str
    database_url: str
    ledger: OkrLedger
    readmodels: ReadModels
    demo: DemoSummary
    people: dict[str, Person] = field(default_factory=dict)
    teams: dict[str, UUID] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Person:
        return self.people[key]

    @property
    def active_cycle_id(self) -> UUID:
        cycle_id = self.demo.active_cycle_id
        assert cycle_id is not None
        return cycle_id

    def settle(self) -> None:
        """Let the read models catch up with every write so far (they follow the log)."""
        head = self.ledger.recorder.max_notification_id() or 0
        assert self.readmodels.wait_for(head, 60), "the read models did not catch up"

    def approved_objective(
        self, title: str, *, owner: str = "kwame", approver: str = "elena", target: float = 40
    ) -> tuple[UUID, UUID]:
        """An approved objective of `owner` with one metric key result (0 → `target`)."""
        ledger, who, boss = self.ledger, self[owner], self[approver]
        objective_id = draft(
            ledger, who.ctx, self.active_cycle_id, title, owner_person_id=who.person_id
        )
        kr = metric(
            ledger, who.ctx, objective_id, f"{title}: signed customers", 0, target, unit="customers"
        )
        ledger.submit_objective(objective_id, boss.person_id, who.ctx)
        ledger.approve_objective(objective_id, boss.ctx)
        self.settle()
        return objective_id, kr


DEMO_PEOPLE = {
    # key: (e-mail, token role)
    "admin": ("demo-admin@acme.example", Role.ADMIN),
    "maya": ("maya.chen@acme.example", Role.MANAGER),
    "elena": ("elena.petrova@acme.example", Role.MANAGER),
    "kwame": ("kwame.mensah@acme.example", Role.MEMBER),
    "sofia": ("sofia.rossi@acme.example", Role.MEMBER),
}


@pytest.fixture(scope="session")
def browser_database_url(_postgres_server: Any, postgres_server_url: str) -> Iterator[str]:
    """A database for the whole browser session (as `database_url` makes, but shared)."""
    with _postgres_server.fresh_database() as url:
        yield url


@pytest.fixture(scope="session")
def site(browser_database_url: str) -> Iterator[Site]:
    """The demo loaded, the app (API + web UI) served by uvicorn on a free port."""
    settings = Settings(
        lock_timeout_seconds=5,
        pool_size=8,
        environment="test",
        source_allow_private=True,  # data sources served on localhost (test_data_sources.py)
    )
    ledger = OkrLedger(env=eventsourcing_env(browser_database_url, settings))
    readmodels = ReadModels(ledger, settings)
    try:
        demo = load_demo(
            ledger, history_clock=importing_history, history_writer=history_writer(ledger)
        )
        readmodels.start()
        served = Site("", browser_database_url, ledger, readmodels, demo)
        system = CommandContext.system()
        for key, (email, role) in DEMO_PEOPLE.items():
            person = ledger.find_person_by_email(email)
            assert person is not None, email
            secret, _ = ledger.issue_token(person.id, role, system, label="browser tests")
            served.people[key] = Person(key, person.id, secret, role)
        auditor_id = ledger.register_person("Ada Auditor", "ada.auditor@acme.example", system).id
        secret, _ = ledger.issue_token(auditor_id, Role.AUDITOR, system)
        served.people["auditor"] = Person("auditor", auditor_id, secret, Role.AUDITOR)
        served.settle()
        served.teams = {t["name"]: UUID(t["id"]) for t in readmodels.teams()}
        app = make_app(ledger, readmodels, settings, wait_timeout=5.0)
        with servers.served(app) as url:
            served.url = url
            yield served
    finally:
        readmodels.stop()
        ledger.close()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright (skipped, with the fix, when it is not installed)."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(f"no Chromium at {CHROMIUM}: run make test, or apt-get install -y chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


class Browser:
    """One browser context (its own cookies) with the helpers the tests share."""

    def __init__(self, context: Any, site: Site) -> None:
        self.context = context
        self.site = site
        self.page = context.new_page()
        self.page.set_default_timeout(10_000)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        # The console says "Failed to load resource: net::…" without the address: keep it.
        self.page.on("requestfailed", self._failed)

    def _failed(self, request: Any) -> None:
        failure = request.failure or ""
        if "ERR_ABORTED" not in failure:  # a load cut short by the next navigation is fine
            self.errors.append(f"{request.method} {request.url} failed: {failure}")

    def go(self, path: str) -> Any:
        response = self.page.goto(self.site.url + path)
        assert response is not None
        return response

    def sign_in(self, key: str) -> None:
        self.go("/sign-in")
        self.page.get_by_label("Access token").fill(self.site[key].token)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(re.compile(r"^(?!.*sign-in).*$"))

    def shot(self, name: str, *, full_page: bool = False) -> Path:
        """A screenshot into test-output/screenshots/."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def flash(self) -> str:
        return str(self.page.locator(".flashes").inner_text())


@contextmanager
def _a_browser(chromium: Any, site: Site) -> Iterator[Browser]:
    """A browser context of its own (cookies, session), closed afterwards."""
    context = chromium.new_context(viewport=VIEWPORT, locale="en-GB", timezone_id="UTC")
    try:
        yield Browser(context, site)
    finally:
        context.close()


@pytest.fixture
def browser(chromium: Any, site: Site) -> Iterator[Browser]:
    with _a_browser(chromium, site) as opened:
        yield opened


@pytest.fixture
def second_browser(chromium: Any, site: Site) -> Iterator[Browser]:
    """Another person at another computer (their own session)."""
    with _a_browser(chromium, site) as opened:
        yield opened

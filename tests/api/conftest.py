"""Fixtures for the HTTP API tests: the app on a real PostgreSQL, and a small organisation.

`world`'s people, teams, tokens and cycles are built through the application directly, once per
session, in a template database whose views are caught up; a test that asks for `world` gets
its own copy of that database (`database_url`), cloned by PostgreSQL, instead of an empty one.
The tests then act through HTTP only.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette suggests httpx2 over httpx; both work
    from fastapi.testclient import TestClient

from api.app import create_app
from domain.access import Role, token_id_for
from domain.application import OkrLedger
from domain.base import CommandContext
from domain.objective import Kind
from domain.scoring import Measure
from domain.team import MemberRole
from infra.eventstore import eventsourcing_env
from infra.idempotency import IdempotencyStore
from infra.readmodels import ReadModels
from infra.settings import Settings
from tests.servers import served
from tests.stopping import stop_views

API = "/api/v1"

ROLES = ("admin", "auditor", "manager", "member")
CALLER = {"admin": "admin", "auditor": "auditor", "manager": "mia", "member": "max"}
"""Who calls for each role in the authorization matrices."""
Request = tuple[str, str, dict[str, Any] | None]
"""A matrix case's request: method, path and JSON body."""


def allowed(*roles: str) -> dict[str, bool]:
    """A matrix rule: for each role, whether its caller may (only the `roles` named may)."""
    unknown = set(roles) - set(ROLES)
    assert not unknown, unknown
    return {role: role in roles for role in ROLES}


@pytest.fixture(scope="module")
def module_ledger(_postgres_server: Any, postgres_server_url: str) -> Iterator[OkrLedger]:
    """One database for a whole module (tests that only add to a shared world)."""
    with _postgres_server.fresh_database() as url:
        app = OkrLedger(env=eventsourcing_env(url, Settings(lock_timeout_seconds=5, pool_size=8)))
        try:
            yield app
        finally:
            app.close()


@pytest.fixture
def readmodels(ledger: OkrLedger) -> Iterator[ReadModels]:
    models = ReadModels(ledger, Settings())
    models.start()
    try:
        yield models
    finally:
        stop_views(models)


@pytest.fixture
def app(ledger: OkrLedger, readmodels: ReadModels) -> Any:
    return make_app(ledger, readmodels)


def make_app(
    ledger: OkrLedger,
    readmodels: ReadModels | None,
    settings: Settings | None = None,
    wait_timeout: float = 30,
) -> Any:
    """The API and web UI over `ledger`, reading `readmodels`, with `Idempotency-Key` on."""
    return create_app(
        ledger,
        readmodels=readmodels,
        idempotency=IdempotencyStore.for_recorder(ledger.recorder),
        wait_timeout=wait_timeout,
        settings=settings,
    )


def kpi_body(name: str = "Weekly active users", unit: str = "users", **more: Any) -> dict[str, Any]:
    """A KPI to POST: it rises, green from 9 and amber from 5, unless `more` says otherwise."""
    return {
        "name": name,
        "unit": unit,
        "direction": "increase",
        "thresholds": {"green": 9, "amber": 5},
        **more,
    }


class SettledClient(TestClient):
    """A test client whose every read comes after the read models applied every write made so
    far, through the API or straight through the ledger, as a client passing `min_position`
    would. Without it a read right after a write races the live runner (it loses under load)."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        services = app.state.services
        self._readmodels = services.readmodels
        self._head = services.ledger.recorder.max_notification_id  # as it is before any patch

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:
        if method.upper() == "GET" and self._readmodels is not None:
            head = self._head() or 0
            assert self._readmodels.wait_for(head, 60), "the read models did not catch up"
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with SettledClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    """The app served by uvicorn on a free port in a background thread; yields its base URL
    (the server has stopped before the read models and the ledger close)."""
    with served(app) as url:
        yield url


@dataclass
class Actor:
    person_id: UUID
    token: str
    role: Role

    @property
    def token_id(self) -> UUID:
        return token_id_for(self.token)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    """Acme: a company team with two teams below it, their managers and members."""

    ledger: OkrLedger
    actors: dict[str, Actor] = field(default_factory=dict)
    teams: dict[str, UUID] = field(default_factory=dict)
    cycle_id: UUID | None = None
    """A cycle in planning."""
    active_cycle_id: UUID | None = None
    """A started cycle (tracking)."""
    next_cycle_id: UUID | None = None
    """A later cycle in planning (a carry-over target)."""

    def __getitem__(self, name: str) -> Actor:
        return self.actors[name]

    def person(self, name: str, role: Role) -> Actor:
        ctx = CommandContext.system()
        person_id = self.ledger.register_person(name.title(), f"{name}@acme.example", ctx).id
        secret, _ = self.ledger.issue_token(person_id, role, ctx)
        self.actors[name] = Actor(person_id, secret, role)
        return self.actors[name]

    def another_token(self, name: str) -> dict[str, str]:
        """Headers with a second token of `name`'s person, in the same role."""
        actor = self.actors[name]
        secret, _ = self.ledger.issue_token(actor.person_id, actor.role, CommandContext.system())
        return {"Authorization": f"Bearer {secret}"}

    def team(self, name: str, parent: str | None = None, **members: MemberRole) -> UUID:
        ctx = CommandContext.system()
        parent_id = self.teams[parent] if parent else None
        team_id = self.ledger.form_team(name.title(), ctx, parent_id).id
        for person, role in members.items():
            self.ledger.add_team_member(team_id, self.actors[person].person_id, role, ctx)
        self.teams[name] = team_id
        return team_id


@dataclass
class Built:
    """An objective put into some state, with the ids a request about it needs."""

    objective_id: UUID
    key_result_id: UUID
    cycle_id: UUID
    amendment_id: UUID | None = None
    check_in_id: UUID | None = None


OWNER_MEMBER = {"platform": "max", "sales": "sue"}
STATES = (
    "draft",
    "in_review",
    "countered",
    "approved",
    "amendment_pending",
    "checked_in",
    "grading",
)


def objective_in(world: World, team: str, state: str, *, private: bool = False) -> Built:
    """An objective of `team` drafted by its member and, as `state` asks, submitted to the CEO,
    countered or approved by the CEO, amended or checked in by the member, or in a cycle now
    grading (its own cycle, so other objectives stay in the shared active one)."""
    ledger = world.ledger
    owner = CommandContext(actor=str(world[OWNER_MEMBER[team]].person_id))
    ceo = CommandContext(actor=str(world["ceo"].person_id))
    cycle_id = world.active_cycle_id
    if state == "grading":
        today = date.today()
        cycle_id = ledger.plan_cycle(
            "Grading", today - timedelta(days=80), today - timedelta(days=1), owner
        ).id
        ledger.start_cycle(cycle_id, owner)
    objective_id = ledger.draft_objective(
        cycle_id=cycle_id,
        title=f"{team} objective",
        kind=Kind.COMMITTED,
        ctx=owner,
        owner_team_id=world.teams[team],
        private=private,
    ).id
    kr = ledger.add_key_result(
        objective_id, title="Reach ten", measure=Measure.METRIC, baseline=0, target=10, ctx=owner
    ).extra_id
    assert kr is not None
    built = Built(objective_id, kr, cycle_id)
    if state == "draft":
        return built
    ledger.submit_objective(objective_id, world["ceo"].person_id, owner)
    if state == "in_review":
        return built
    if state == "countered":
        ledger.counter_propose(objective_id, {"title": "Better"}, "try this", ceo)
        return built
    ledger.approve_objective(objective_id, ceo)
    if state == "amendment_pending":
        built.amendment_id = ledger.propose_amendment(
            objective_id, {"key_results": {str(kr): {"target": 12}}}, "scope grew", owner
        ).extra_id
    if state in ("checked_in", "grading"):
        built.check_in_id = ledger.check_in(
            objective_id, kr, 4, 6, owner, effective_on=date.today() - timedelta(days=2)
        ).extra_id
    if state == "grading":
        ledger.open_grading(cycle_id, owner)
    return built


def build_world(ledger: OkrLedger) -> World:
    world = World(ledger)
    world.person("admin", Role.ADMIN)
    world.person("auditor", Role.AUDITOR)
    world.person("ceo", Role.MANAGER)
    world.person("mia", Role.MANAGER)  # manages platform
    world.person("max", Role.MEMBER)  # member of platform
    world.person("sam", Role.MANAGER)  # manages sales
    world.person("sue", Role.MEMBER)  # member of sales
    world.team("acme", ceo=MemberRole.MANAGER)
    world.team("platform", "acme", mia=MemberRole.MANAGER, max=MemberRole.MEMBER)
    world.team("sales", "acme", sam=MemberRole.MANAGER, sue=MemberRole.MEMBER)
    today = date.today()
    ctx = CommandContext.system()
    world.cycle_id = ledger.plan_cycle(
        "This quarter", today - timedelta(days=30), today + timedelta(days=60), ctx
    ).id
    world.active_cycle_id = ledger.plan_cycle(
        "Tracking", today - timedelta(days=30), today + timedelta(days=60), ctx
    ).id
    ledger.start_cycle(world.active_cycle_id, ctx)
    world.next_cycle_id = ledger.plan_cycle(
        "Next quarter", today + timedelta(days=61), today + timedelta(days=150), ctx
    ).id
    return world


@dataclass(frozen=True)
class WorldTemplate:
    """A database holding the world and its views caught up (nobody connected to it), and
    the world's people, tokens, teams and cycles as built there."""

    url: str
    world: World

    def on(self, ledger: OkrLedger) -> World:
        """The world again, on `ledger` (the application on a copy of the template)."""
        built = self.world
        return World(
            ledger,
            dict(built.actors),
            dict(built.teams),
            built.cycle_id,
            built.active_cycle_id,
            built.next_cycle_id,
        )


@pytest.fixture(scope="session")
def world_template(_postgres_server: Any, postgres_server_url: str) -> Iterator[WorldTemplate]:
    """The world built once for the session, as `build_world` builds it in a test, and the
    views' runner's first build of it done."""
    with _postgres_server.fresh_database("okr_world") as url:
        settings = Settings(lock_timeout_seconds=5, pool_size=4)
        app = OkrLedger(env=eventsourcing_env(url, settings))
        try:
            world = build_world(app)
            models = ReadModels(app, Settings())
            models.start()
            try:
                head = app.recorder.max_notification_id() or 0
                assert models.wait_for(head, 60), "the views did not build the world"
            finally:
                stop_views(models)
        finally:
            app.close()  # nobody may be connected to a template
        world.ledger = None  # type: ignore[assignment]  # each test has its own
        yield WorldTemplate(url, world)


@pytest.fixture
def database_url(
    request: pytest.FixtureRequest, _postgres_server: Any, postgres_server_url: str
) -> Iterator[str]:
    """A fresh database, dropped after the test: a copy of the world's template for a test
    that asks for `world`, empty for any other."""
    template = None
    if "world" in request.fixturenames:
        template = request.getfixturevalue("world_template").url
    with _postgres_server.fresh_database(template=template) as url:
        yield url


@pytest.fixture
def world(ledger: OkrLedger, world_template: WorldTemplate) -> World:
    """The world, on the test's own copy of the template database (`database_url`)."""
    return world_template.on(ledger)

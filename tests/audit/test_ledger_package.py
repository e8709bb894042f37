"""The full-ledger package: export the demo, import it into a fresh database, and every screen's
answer is the same; a changed package, a broken chain, a wrong secret or a non-empty store is
refused with nothing written."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import uuid4

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from psycopg.sql import SQL, Identifier
from pydantic import SecretStr

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from api.app import create_app
from demo import load_demo
from domain.access import Role
from domain.base import CommandContext
from infra.audit.checkpoints import checkpointer_for
from infra.audit.keys import write_new_signing_key
from infra.audit.personal import forget_person
from infra.bootstrap import build_ledger
from infra.chain import ChainReader, importing_history, verify_chain
from infra.idempotency import IdempotencyStore
from infra.ledger_package import (
    MANIFEST,
    export_ledger,
    import_ledger,
)
from infra.readmodels import ReadModels
from infra.settings import Settings

pytestmark = pytest.mark.postgres

API = "/api/v1"
SECRET = "5e" * 24
OTHER_SECRET = "a7" * 24
EVENTS_TABLE = "okrledger_events"


def new_database(server: Any, server_url: str) -> str:
    name = f"okr_test_{uuid4().hex[:16]}"
    with server.admin() as conn:
        conn.execute(SQL("CREATE DATABASE {}").format(Identifier(name)) + server.create_options)
    return make_conninfo(server_url, dbname=name)


def drop_database(server: Any, url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with server.admin() as conn:
        conn.execute(SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(Identifier(str(name))))


def settings_for(url: str, data_dir: Path, secret: str | None = SECRET) -> Settings:
    key_file = data_dir / "audit-signing-key.pem"
    if not key_file.exists():
        write_new_signing_key(key_file)
    return Settings(
        database_url=url,
        data_dir=data_dir,
        audit_signing_key_file=key_file,
        person_id_secret=None if secret is None else SecretStr(secret),
        lock_timeout_seconds=5,
        pool_size=4,
        environment="test",
    )


def count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(SQL("SELECT count(*) FROM {}").format(Identifier(table))).fetchone()
    assert row is not None
    return int(row[0])


@dataclass
class Stores:
    origin: Settings
    package: Path
    admin_token: str
    cycle_ids: list[str]


@pytest.fixture(scope="module")
def databases(_postgres_server: Any, postgres_server_url: str) -> Iterator[list[str]]:
    """Databases made on demand for this module, dropped at its end."""
    made: list[str] = []
    yield made
    for url in made:
        drop_database(_postgres_server, url)


@pytest.fixture(scope="module")
def stores(
    _postgres_server: Any,
    postgres_server_url: str,
    databases: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Stores:
    """The demo organisation (a forgotten person, signed checkpoints), exported once."""
    url = new_database(_postgres_server, postgres_server_url)
    databases.append(url)
    settings = settings_for(url, tmp_path_factory.mktemp("origin"))
    ledger = build_ledger(settings)
    try:
        summary = load_demo(ledger, history_clock=importing_history)
        system = CommandContext.system()
        token, _ = ledger.issue_token(summary.admin_person_id, Role.ADMIN, system)
        forget_person(ledger, "sofia.rossi@acme.example", "asked to be forgotten", system)
        checkpointer_for(ledger.recorder, settings).sign_head("export")
        package = tmp_path_factory.mktemp("package") / "ledger"
        export_ledger(ledger, settings, package, compress=True)
    finally:
        ledger.close()
    return Stores(settings, package, token, [str(c) for c in summary.cycle_ids])


@pytest.fixture(scope="module")
def imported(
    stores: Stores,
    _postgres_server: Any,
    postgres_server_url: str,
    databases: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    url = new_database(_postgres_server, postgres_server_url)
    databases.append(url)
    settings = settings_for(url, tmp_path_factory.mktemp("target"))
    import_ledger(stores.package, settings)
    return settings


@contextmanager
def serving(settings: Settings) -> Iterator[TestClient]:
    """The API over a store, its views caught up with the whole log."""
    ledger = build_ledger(settings)
    readmodels = ReadModels(ledger, settings)
    readmodels.start()
    try:
        head = ledger.recorder.max_notification_id() or 0
        assert readmodels.wait_for(head, 120), "the read models did not catch up"
        app = create_app(
            ledger,
            readmodels=readmodels,
            idempotency=IdempotencyStore.for_recorder(ledger.recorder),
            wait_timeout=30,
            settings=settings,
        )
        with TestClient(app, raise_server_exceptions=True) as client:
            yield client
    finally:
        readmodels.stop()
        ledger.close()


def answers(client: TestClient, token: str, paths: list[str]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    found: dict[str, Any] = {}
    for path in paths:
        response = client.get(API + path, headers=headers)
        assert response.status_code == 200, (path, response.text)
        body = response.json() if "jsonl" not in path else response.text
        found[path] = {
            "body": body,
            "position": response.headers.get("OKR-Position"),
            "chain_hash": response.headers.get("OKR-Chain-Hash"),
        }
    return found


def screens(stores: Stores, client: TestClient) -> list[str]:
    """Every screen's query over the demo: lists, trees, replays, histories, the audit trail,
    comparisons, the strategy, and the tree and strategy as of sampled instants."""
    headers = {"Authorization": f"Bearer {stores.admin_token}"}
    paths = ["/cycles?limit=100", "/teams?limit=100", "/people?limit=100", "/strategy", "/kpis"]
    paths.append("/compare?cycles=" + ",".join(stores.cycle_ids))
    for first in range(0, 20_000, 5_000):
        paths.append(f"/audit?format=jsonl&limit=5000&offset={first}")
    objectives: list[str] = []
    for cycle in stores.cycle_ids:
        paths += [f"/cycles/{cycle}/tree", f"/cycles/{cycle}/replay?step=week"]
        page = client.get(f"{API}/objectives?cycle_id={cycle}&limit=100", headers=headers).json()
        objectives += [item.get("id") or item["objective_id"] for item in page["items"]]
    paths += [f"/objectives/{objective}/history" for objective in objectives[::3]]
    paths += [f"/objectives/{objective}" for objective in objectives[::3]]
    with psycopg.connect(stores.origin.database_url or "") as conn:
        times = [
            row[0]
            for row in conn.execute(
                SQL("SELECT committed_at FROM {} ORDER BY position").format(
                    Identifier(f"{EVENTS_TABLE}_chain")
                )
            )
        ]
    for moment in [times[len(times) * k // 6] for k in range(1, 6)]:
        instant = quote((moment + timedelta(microseconds=1)).isoformat())
        paths.append(f"/strategy?as_of={instant}")
        paths += [f"/cycles/{cycle}/tree?as_of={instant}" for cycle in stores.cycle_ids]
    paths.append(
        f"/diff?from={quote(times[len(times) // 3].isoformat())}&to={quote(times[-1].isoformat())}"
    )
    return paths


# ---------------------------------------------------------------------------------- round trip


def test_every_screen_of_the_imported_store_equals_the_original(
    stores: Stores, imported: Settings
) -> None:
    with serving(stores.origin) as client:
        paths = screens(stores, client)
        before = answers(client, stores.admin_token, paths)
    with serving(imported) as client:
        after = answers(client, stores.admin_token, paths)
    assert len(paths) > 40
    different = [path for path in paths if before[path] != after[path]]
    assert different == [], different[:5]
    people = json.dumps(before["/people?limit=100"]["body"])
    assert "forgotten person #1" in people.lower() and "Maya Chen" in people


def test_the_imported_chain_is_the_original_and_verifies(
    stores: Stores, imported: Settings
) -> None:
    origin_url, target_url = stores.origin.database_url or "", imported.database_url or ""
    query = SQL(
        "SELECT c.position, c.prev_position, c.committed_at, c.hash, c.imported, "
        "e.originator_id, e.originator_version, e.topic, e.state "
        "FROM {} c JOIN {} e ON e.notification_id = c.position ORDER BY c.position"
    ).format(Identifier(f"{EVENTS_TABLE}_chain"), Identifier(EVENTS_TABLE))
    with psycopg.connect(origin_url) as one, psycopg.connect(target_url) as two:
        assert one.execute(query).fetchall() == two.execute(query).fetchall()
    for settings in (stores.origin, imported):
        ledger = build_ledger(settings)
        try:
            report = verify_chain(ChainReader.for_recorder(ledger.recorder), record=False)
        finally:
            ledger.close()
        assert report.ok, report
    manifest = json.loads((stores.package / MANIFEST).read_text())
    assert manifest["head"]["position"] == report.head_position
    assert manifest["head"]["hash"] == (report.head_hash or b"").hex()
    assert manifest["counts"]["events"] == count(target_url, EVENTS_TABLE)
    assert manifest["counts"]["checkpoints"] >= 1
    assert (
        count(target_url, f"{EVENTS_TABLE}_chain_checkpoints") == manifest["counts"]["checkpoints"]
    )


def test_a_new_event_in_the_imported_store_extends_the_chain(imported: Settings) -> None:
    ledger = build_ledger(imported)
    try:
        head = ledger.recorder.max_notification_id() or 0
        registered = ledger.register_person(
            "Nia Okafor", "nia@acme.example", CommandContext.system()
        )
        assert registered.position is not None and registered.position > head
        report = verify_chain(ChainReader.for_recorder(ledger.recorder), record=False)
        assert report.ok and report.head_position == registered.position
        assert ledger.find_person_by_email("maya.chen@acme.example") is not None
    finally:
        ledger.close()

"""The full-ledger package: export the demo, import it into a fresh database, and every screen's
answer is the same; a changed package, a broken chain, a wrong secret or a non-empty store is
refused with nothing written."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import shutil
import tarfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from psycopg.sql import SQL, Identifier
from pydantic import SecretStr

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from demo import load_demo
from domain.access import Role
from domain.base import CommandContext
from infra.audit.checkpoints import checkpointer_for
from infra.audit.keys import write_new_signing_key
from infra.audit.personal import forget_person
from infra.bootstrap import build_ledger
from infra.chain import ChainReader, importing_history, verify_chain
from infra.ledger_package import (
    EVENTS,
    MANIFEST,
    ChainBroken,
    PackageError,
    PackageInvalid,
    PackageTampered,
    StoreNotEmpty,
    WrongKey,
    export_ledger,
    import_ledger,
    open_package,
)
from infra.readmodels import ReadModels
from infra.settings import Settings
from tests.api.conftest import make_app
from tests.audit.conftest import an_org, okr

pytestmark = pytest.mark.postgres

API = "/api/v1"
SECRET = "5e" * 24
OTHER_SECRET = "a7" * 24
EVENTS_TABLE = "okrledger_events"


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
    member_token: str
    cycle_ids: list[str]


@pytest.fixture(scope="module")
def databases(_postgres_server: Any, postgres_server_url: str) -> Iterator[list[str]]:
    """Databases made on demand for this module, dropped at its end."""
    made: list[str] = []
    yield made
    for url in made:
        _postgres_server.drop_database(url)


@pytest.fixture(scope="module")
def stores(
    _postgres_server: Any,
    postgres_server_url: str,
    databases: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Stores:
    """The demo organisation (a forgotten person, signed checkpoints), exported once."""
    url = _postgres_server.new_database()
    databases.append(url)
    settings = settings_for(url, tmp_path_factory.mktemp("origin"))
    ledger = build_ledger(settings)
    try:
        summary = load_demo(ledger, history_clock=importing_history)
        system = CommandContext.system()
        token, _ = ledger.issue_token(summary.admin_person_id, Role.ADMIN, system)
        kwame = ledger.find_person_by_email("kwame.mensah@acme.example")
        assert kwame is not None
        member_token, _ = ledger.issue_token(kwame.id, Role.MEMBER, system)
        forget_person(ledger, "sofia.rossi@acme.example", "asked to be forgotten", system)
        checkpointer_for(ledger.recorder, settings).sign_head("export")
        package = tmp_path_factory.mktemp("package") / "ledger"
        export_ledger(ledger, settings, package, compress=True)
    finally:
        ledger.close()
    return Stores(settings, package, token, member_token, [str(c) for c in summary.cycle_ids])


@pytest.fixture(scope="module")
def imported(
    stores: Stores,
    _postgres_server: Any,
    postgres_server_url: str,
    databases: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    url = _postgres_server.new_database()
    databases.append(url)
    data_dir = tmp_path_factory.mktemp("target")
    # The exporter's public key, trusted as an operator would after comparing its key id.
    exported_keys = json.loads((stores.package / "audit_public_keys.json").read_text())["keys"]
    assert len(exported_keys) == 1
    trusted = data_dir / "origin-audit-key.pub.pem"
    trusted.write_text(exported_keys[0]["pem"])
    settings = settings_for(url, data_dir).model_copy(update={"audit_public_key_files": (trusted,)})
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
        app = make_app(ledger, readmodels, settings)
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
    paths += ["/audit/verify", "/stale", "/inbox"]
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


def test_a_new_event_in_the_imported_store_extends_the_chain(
    stores: Stores, empty_store: Settings
) -> None:
    import_ledger(stores.package, empty_store, rebuild=False)
    ledger = build_ledger(empty_store)
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


# ---------------------------------------------------------------------------------- refusals


def tables_in(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
    return [str(row[0]) for row in rows]


def rewrite_events(package: Path, copy_to: Path, edit: Any, *, rehash: bool) -> Path:
    """A copy of the package with its event lines passed through ``edit``; with ``rehash`` the
    manifest is made to agree (a forger's package), else it keeps the original hashes."""
    shutil.copytree(package, copy_to)
    name = f"{EVENTS}.gz"
    with gzip.open(copy_to / name, "rt", encoding="utf-8") as stream:
        lines = [json.loads(line) for line in stream]
    lines = edit(lines)
    data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
    with gzip.open(copy_to / name, "wb") as stream:
        stream.write(data)
    if rehash:
        manifest = json.loads((copy_to / MANIFEST).read_text())
        raw = (copy_to / name).read_bytes()
        manifest["files"][name] |= {"sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw)}
        manifest["counts"]["events"] = len(lines)
        (copy_to / MANIFEST).write_text(json.dumps(manifest))
    return copy_to


def check_in_line(lines: list[dict[str, Any]]) -> dict[str, Any]:
    return next(line for line in lines if line["topic"].endswith("Objective.ProgressReported"))


def one_byte_changed(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    line = check_in_line(lines)
    assert '"value":' in line["state"]
    line["state"] = line["state"].replace('"value":', '"value":1', 1)
    return lines


@pytest.fixture
def empty_store(
    _postgres_server: Any, postgres_server_url: str, databases: list[str], tmp_path: Path
) -> Settings:
    url = _postgres_server.new_database()
    databases.append(url)
    return settings_for(url, tmp_path / "data")


def test_a_package_changed_after_export_is_refused_before_the_store_is_touched(
    stores: Stores, empty_store: Settings, tmp_path: Path
) -> None:
    tampered = rewrite_events(stores.package, tmp_path / "p", one_byte_changed, rehash=False)
    with pytest.raises(PackageTampered, match=r"events\.jsonl\.gz does not match the manifest"):
        import_ledger(tampered, empty_store)
    assert tables_in(empty_store.database_url or "") == []
    untouched = Path(shutil.copytree(stores.package, tmp_path / "q"))
    (untouched / "person_keys.jsonl").write_bytes(b"")
    with pytest.raises(PackageTampered, match=r"person_keys\.jsonl does not match"):
        import_ledger(untouched, empty_store)


@pytest.mark.parametrize(
    ("edit", "rule"),
    [
        (one_byte_changed, r"position \d+ does not match its chain link: it was edited"),
        (
            lambda lines: lines[:10] + lines[11:],
            r"position \d+ links back to \d+, but the previous event is at \d+",
        ),
        (
            lambda lines: [*lines[:10], lines[11], lines[10], *lines[12:]],
            r"links back to",
        ),
    ],
    ids=["edited", "deleted", "reordered"],
)
def test_a_package_whose_chain_was_edited_is_refused_with_nothing_written(
    stores: Stores, empty_store: Settings, tmp_path: Path, edit: Any, rule: str
) -> None:
    forged = rewrite_events(stores.package, tmp_path / "p", edit, rehash=True)
    with pytest.raises(ChainBroken, match=rule):
        import_ledger(forged, empty_store)
    url = empty_store.database_url or ""
    assert count(url, EVENTS_TABLE) == 0
    assert count(url, f"{EVENTS_TABLE}_chain") == 0
    assert count(url, "okrledger_person_keys") == 0


def test_the_wrong_person_id_secret_is_refused_with_a_clear_message(
    stores: Stores, empty_store: Settings
) -> None:
    wrong = empty_store.model_copy(update={"person_id_secret": SecretStr(OTHER_SECRET)})
    with pytest.raises(WrongKey, match="OKR_PERSON_ID_SECRET differs from the secret the package"):
        import_ledger(stores.package, wrong)
    missing = empty_store.model_copy(update={"person_id_secret": None})
    with pytest.raises(WrongKey, match="sealed under an OKR_PERSON_ID_SECRET"):
        import_ledger(stores.package, missing)
    assert tables_in(empty_store.database_url or "") == []
    # The person keys in the package are sealed: the file alone does not open a name.
    keys = [json.loads(line) for line in (stores.package / "person_keys.jsonl").open()]
    assert len(keys) > 5
    assert all(len(base64.b64decode(key["key"])) > 32 for key in keys if key["key"])
    # With the right secret the same store takes it.
    report = import_ledger(stores.package, empty_store, rebuild=False)
    assert report.events == count(empty_store.database_url or "", EVENTS_TABLE)


def test_a_store_that_is_not_empty_is_refused(stores: Stores, imported: Settings) -> None:
    url = imported.database_url or ""
    before = count(url, EVENTS_TABLE)
    with pytest.raises(StoreNotEmpty, match="already holds events: a ledger package loads only"):
        import_ledger(stores.package, imported)
    assert count(url, EVENTS_TABLE) == before


# ------------------------------------------------------------------- a store without a secret


def test_a_store_that_keeps_its_own_secret_round_trips_through_the_cli(
    database_url: str,
    empty_store: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    origin = settings_for(database_url, tmp_path / "origin", secret=None)
    ledger = build_ledger(origin)
    try:
        org = an_org(ledger)
        forget_person(ledger, "person1@acme.example", "asked", CommandContext.system())
    finally:
        ledger.close()
    package = tmp_path / "package"
    ran = okr(origin, "export", "--out", str(package), monkeypatch=monkeypatch)
    assert ran.exit_code == 0, ran.output
    assert "events" in ran.output and (package / EVENTS).exists()
    assert json.loads((package / MANIFEST).read_text())["person_keys_sealed"] is False

    target = empty_store.model_copy(update={"person_id_secret": None})
    ran = okr(target, "import-ledger", str(package), monkeypatch=monkeypatch)
    assert ran.exit_code == 0, ran.output
    assert "verified" in ran.output
    ledger = build_ledger(target)
    try:
        person = ledger.find_person_by_email("person0@acme.example")
        assert person is not None and person.id == org.people["person0@acme.example"]
        assert person.name == "Person Number0"
        assert ledger.find_person_by_email("person1@acme.example") is None
    finally:
        ledger.close()

    again = okr(target, "import-ledger", str(package), monkeypatch=monkeypatch)
    assert again.exit_code == 1
    assert "Refused (not-empty)" in again.output
    keyed = target.model_copy(update={"person_id_secret": SecretStr(SECRET)})
    wrong = okr(keyed, "import-ledger", str(package), monkeypatch=monkeypatch)
    assert wrong.exit_code == 1
    assert "Refused (wrong-key)" in wrong.output
    assert "unset OKR_PERSON_ID_SECRET" in wrong.output


# ---------------------------------------------------------------------------------- over HTTP


def test_an_admin_downloads_the_package_over_http_and_others_may_not(
    stores: Stores, tmp_path: Path
) -> None:
    with serving(stores.origin) as client:
        refused = client.get(
            f"{API}/export", headers={"Authorization": f"Bearer {stores.member_token}"}
        )
        response = client.get(
            f"{API}/export", headers={"Authorization": f"Bearer {stores.admin_token}"}
        )
    assert refused.status_code == 403
    assert refused.json()["rule"] == "admin_only"
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-tar"
    assert "okrledger-ledger-" in response.headers["content-disposition"]
    with tarfile.open(fileobj=io.BytesIO(response.content)) as tar:
        tar.extractall(tmp_path, filter="data")
    package = open_package(tmp_path / "okrledger-ledger", stores.origin)
    original = json.loads((stores.package / MANIFEST).read_text())
    assert package.manifest["head"] == original["head"]
    assert package.manifest["counts"] == original["counts"]


# ------------------------------------------------------------------------ edges of the format


def test_an_empty_store_round_trips_and_a_folder_that_is_no_package_is_refused(
    database_url: str, empty_store: Settings, tmp_path: Path
) -> None:
    origin = settings_for(database_url, tmp_path / "origin")
    ledger = build_ledger(origin)
    try:
        exported = export_ledger(ledger, origin, tmp_path / "empty")
        with pytest.raises(PackageError, match="is not empty: export into a new or empty folder"):
            export_ledger(ledger, origin, tmp_path / "empty")
    finally:
        ledger.close()
    assert exported.events == 0 and exported.head_position is None
    report = import_ledger(tmp_path / "empty", empty_store)
    assert report.events == 0
    assert count(empty_store.database_url or "", EVENTS_TABLE) == 0

    with pytest.raises(PackageInvalid, match=r"has no manifest\.json: not a ledger package"):
        import_ledger(tmp_path, empty_store)
    later = Path(shutil.copytree(tmp_path / "empty", tmp_path / "later"))
    manifest = json.loads((later / MANIFEST).read_text())
    (later / MANIFEST).write_text(json.dumps(manifest | {"format_version": 2}))
    with pytest.raises(PackageInvalid, match="format_version 2 is not one this okrledger reads"):
        import_ledger(later, empty_store)


def test_a_malformed_line_rolls_the_whole_load_back(
    stores: Stores, empty_store: Settings, tmp_path: Path
) -> None:
    def broken(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        del lines[len(lines) // 2]["topic"]
        return lines

    forged = rewrite_events(stores.package, tmp_path / "p", broken, rehash=True)
    with pytest.raises(PackageInvalid, match=r"the line after position \d+ is malformed"):
        import_ledger(forged, empty_store, page_size=100)
    url = empty_store.database_url or ""
    assert count(url, EVENTS_TABLE) == 0
    assert count(url, f"{EVENTS_TABLE}_chain") == 0


def test_rows_the_tables_refuse_roll_the_whole_load_back(
    stores: Stores, empty_store: Settings, tmp_path: Path
) -> None:
    package = Path(shutil.copytree(stores.package, tmp_path / "p"))
    path = package / "person_keys.jsonl"
    keys = [json.loads(line) for line in path.read_text().splitlines()]
    keys[0]["key"] = None  # a destroyed key without the number it was forgotten under
    data = "".join(json.dumps(key) + "\n" for key in keys).encode()
    path.write_bytes(data)
    manifest = json.loads((package / MANIFEST).read_text())
    manifest["files"]["person_keys.jsonl"] |= {
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
    }
    (package / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(PackageInvalid, match="the package does not load: CheckViolation"):
        import_ledger(package, empty_store)
    assert count(empty_store.database_url or "", EVENTS_TABLE) == 0

"""The full-ledger package: the whole store written out, and loaded into an empty store.

``okr export --out DIR`` writes a folder a customer can read without okrledger (JSON and JSON
Lines, optionally gzip-compressed; the format is ``docs/ledger-format.md``)::

    manifest.json       format and product version, counts, head position and chain hash,
                        the SHA-256 and size of every other file
    events.jsonl[.gz]   one line per stored event, in position order: the event exactly as
                        stored (id, version, topic, state bytes) and its chain link
    person_keys.jsonl   the per-person keys that open the sealed personal fields; sealed in
                        turn under OKR_PERSON_ID_SECRET when the store has one
    person_ids.json     how this store keys person ids (the secret's mode, and its fingerprint
                        or, when the store made its own, the secret itself)
    checkpoints.jsonl   the signed chain checkpoints, as ``okr audit checkpoint --json`` prints

Export reads one consistent snapshot (``REPEATABLE READ``) through server-side cursors, so its
memory does not grow with the log. ``okr import-ledger DIR`` checks the manifest's hashes and
the person-id secret before it touches the database, then loads everything in one transaction
with ``COPY`` (positions, commit times and links exactly as exported), recomputing every link as
it streams (a broken chain rolls the whole load back), commits, verifies the stored chain as
``okr audit verify`` does, and rebuilds the views.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from uuid import UUID

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from eventsourcing.persistence import DataError, IntegrityError
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from infra.audit.checkpoints import CheckpointStore
from infra.audit.keys import public_key_pem, trusted_public_keys
from infra.audit.personal import _fingerprint  # the store's own, so the two compare
from infra.chain import GENESIS_POSITION, ChainedApplicationRecorder, ChainReader, verify_chain
from infra.chainhash import GENESIS_HASH, link_hash

if TYPE_CHECKING:
    from psycopg import Connection

    from domain.application import OkrLedger
    from infra.settings import Settings

FORMAT = "okrledger-ledger"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
EVENTS = "events.jsonl"
PERSON_KEYS = "person_keys.jsonl"
PERSON_IDS = "person_ids.json"
CHECKPOINTS = "checkpoints.jsonl"
PUBLIC_KEYS = "audit_public_keys.json"
PAGE_SIZE = 5000
_KEY_WRAP_INFO = b"okrledger:ledger-package:person-keys:v1"
_NONCE_SIZE = 12

Progress = Callable[[int, int, str], None]
"""``progress(done, total, phase)``: events written or loaded so far."""


class PackageError(Exception):
    """A package that cannot be exported or imported; ``code`` names the rule it broke."""

    code = "package"


class PackageInvalid(PackageError):
    """The folder is not a ledger package this version reads."""

    code = "invalid"


class PackageTampered(PackageError):
    """A file differs from the hash or size the manifest records."""

    code = "tampered"


class WrongKey(PackageError):
    """This deployment's OKR_PERSON_ID_SECRET is not the one the package's store used."""

    code = "wrong-key"


class StoreNotEmpty(PackageError):
    """The target store already holds events or keys: a package only loads into an empty one."""

    code = "not-empty"


class ChainBroken(PackageError):
    """The package's events do not hash to its chain links."""

    code = "chain"


@dataclass(frozen=True)
class ExportReport:
    directory: Path
    events: int
    person_keys: int
    checkpoints: int
    head_position: int | None
    head_hash: str | None
    seconds: float
    files: dict[str, str] = field(default_factory=dict)
    """File name → SHA-256 (hex)."""

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class ImportReport:
    events: int
    person_keys: int
    checkpoints: int
    head_position: int | None
    head_hash: str | None
    seconds: dict[str, float]
    """Phase → seconds: check, load, verify, rebuild."""

    @property
    def load_rate(self) -> float:
        load = self.seconds.get("load", 0.0)
        return self.events / load if load else 0.0


# ------------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class _Tables:
    """The qualified names of the tables a package covers, for one application's store."""

    events: Composed
    chain: Composed
    person_keys: Composed
    secrets: Composed
    forgotten_sequence: str
    checkpoints: Composed
    events_name: str

    @classmethod
    def of(cls, recorder: ChainedApplicationRecorder, prefix: str) -> _Tables:
        schema = recorder.datastore.schema
        reader = ChainReader(recorder.datastore, recorder.events_table_name)
        checkpoints = CheckpointStore(recorder)

        def table(name: str) -> Composed:
            return SQL("{}.{}").format(Identifier(schema), Identifier(name))

        return cls(
            events=reader.qualified_events,
            chain=reader.qualified_chain,
            person_keys=table(f"{prefix}_person_keys"),
            secrets=table(f"{prefix}_secrets"),
            forgotten_sequence=f'"{schema}"."{prefix}_forgotten_person_seq"',
            checkpoints=checkpoints.table,
            events_name=f'"{schema}"."{recorder.events_table_name}"',
        )


def _recorder(ledger: OkrLedger) -> ChainedApplicationRecorder:
    recorder = ledger.recorder
    if not isinstance(recorder, ChainedApplicationRecorder):
        msg = f"{type(recorder).__name__} does not keep a hash chain: nothing to export"
        raise PackageError(msg)
    return recorder


def _prefix(ledger: OkrLedger) -> str:
    # The person-key tables are named after the application (``AuditedPostgresFactory``).
    return ledger.factory.env.name.lower() or "stored"


# ------------------------------------------------------------------------------- files


class _HashingWriter:
    """Writes text lines to a file (gzip-compressed or not), hashing the bytes on disk."""

    def __init__(self, path: Path, *, compress: bool) -> None:
        self.path = path
        self.raw: IO[bytes] = path.open("wb")
        self.sha = hashlib.sha256()
        self.size = 0
        self.rows = 0
        self.compressor: gzip.GzipFile | None = None
        sink: IO[bytes] = self  # type: ignore[assignment]
        if compress:
            # mtime 0: the same store exports to the same bytes.
            self.compressor = gzip.GzipFile(filename="", mode="wb", fileobj=sink, mtime=0)
        self.buffer: list[bytes] = []

    # the file-like face the gzip writer writes to
    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        self.raw.write(data)
        return len(data)

    def flush(self) -> None:
        self.raw.flush()

    def line(self, document: dict[str, Any]) -> None:
        # orjson: compact, UTF-8 (non-ASCII as is), as json.dumps(separators=(",", ":")).
        self.buffer.append(orjson.dumps(document))
        self.rows += 1
        if len(self.buffer) >= 1000:
            self._drain()

    def _drain(self) -> None:
        if not self.buffer:
            return
        data = b"\n".join(self.buffer) + b"\n"
        self.buffer.clear()
        if self.compressor is not None:
            self.compressor.write(data)
        else:
            self.write(data)

    def close(self) -> dict[str, Any]:
        self._drain()
        if self.compressor is not None:
            self.compressor.close()
        self.raw.close()
        return {"sha256": self.sha.hexdigest(), "bytes": self.size, "rows": self.rows}


def _write_json(path: Path, document: dict[str, Any]) -> dict[str, Any]:
    data = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    path.write_bytes(data)
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def _time(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds, as PostgreSQL keeps them."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _state_fields(state: bytes) -> dict[str, str]:
    try:
        return {"state": state.decode("utf-8"), "state_encoding": "utf-8"}
    except UnicodeDecodeError:
        return {"state": base64.b64encode(state).decode("ascii"), "state_encoding": "base64"}


def _state_bytes(line: dict[str, Any]) -> bytes:
    encoding = line.get("state_encoding")
    if encoding == "utf-8":
        return str(line["state"]).encode("utf-8")
    if encoding == "base64":
        return base64.b64decode(str(line["state"]), validate=True)
    msg = f"position {line.get('position')}: state_encoding must be utf-8 or base64"
    raise PackageInvalid(msg)


def _wrapping_key(secret: bytes) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_WRAP_INFO).derive(
        secret
    )
    return AESGCM(derived)


def _configured_secret(settings: Settings) -> bytes | None:
    if settings.person_id_secret is None:
        return None
    return bytes.fromhex(settings.person_id_secret.get_secret_value().strip())


def _product_version() -> str:
    try:
        return metadata.version("okrledger")
    except metadata.PackageNotFoundError:
        return "unknown"


# ------------------------------------------------------------------------------- export


def export_ledger(
    ledger: OkrLedger,
    settings: Settings,
    out: Path,
    *,
    compress: bool = False,
    page_size: int = PAGE_SIZE,
    progress: Progress | None = None,
) -> ExportReport:
    """Write the whole store to ``out`` (created; must be empty) as a ledger package."""
    recorder = _recorder(ledger)
    tables = _Tables.of(recorder, _prefix(ledger))
    report_progress = progress or (lambda done, total, phase: None)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        msg = f"{out} is not empty: export into a new or empty folder"
        raise PackageError(msg)
    started = time.perf_counter()
    files: dict[str, dict[str, Any]] = {}
    with recorder.datastore.get_connection() as conn, conn.transaction(force_rollback=True):
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
        total = _count(conn, tables.chain)
        events_name = EVENTS + (".gz" if compress else "")
        events, head = _export_events(
            conn, tables, out / events_name, compress, page_size, total, report_progress
        )
        files[events_name] = events
        person_ids, secret = _export_person_ids(conn, tables, settings)
        files[PERSON_IDS] = _write_json(out / PERSON_IDS, person_ids)
        files[PERSON_KEYS] = _export_person_keys(conn, tables, out / PERSON_KEYS, secret)
        files[CHECKPOINTS] = _export_checkpoints(conn, tables, out / CHECKPOINTS, recorder)
    files[PUBLIC_KEYS] = _write_json(out / PUBLIC_KEYS, _public_keys(settings))
    seconds = time.perf_counter() - started
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "product": "okrledger",
        "product_version": _product_version(),
        "exported_at": _time(datetime.now(UTC)),
        "log": recorder.events_table_name,
        "counts": {
            "events": events["rows"],
            "person_keys": files[PERSON_KEYS]["rows"],
            "checkpoints": files[CHECKPOINTS]["rows"],
        },
        "head": head,
        "person_keys_sealed": person_ids["mode"] == "configured",
        "files": files,
    }
    _write_json(out / MANIFEST, manifest)
    return ExportReport(
        directory=out,
        events=events["rows"],
        person_keys=files[PERSON_KEYS]["rows"],
        checkpoints=files[CHECKPOINTS]["rows"],
        head_position=None if head is None else head["position"],
        head_hash=None if head is None else head["hash"],
        seconds=seconds,
        files={name: str(entry["sha256"]) for name, entry in files.items()},
    )


def _count(conn: Connection[Any], table: Composed) -> int:
    row = (
        conn.cursor(row_factory=tuple_row)
        .execute(SQL("SELECT count(*) FROM {}").format(table))
        .fetchone()
    )
    return 0 if row is None else int(row[0])


def _table_exists(conn: Connection[Any], table: Composed) -> bool:
    row = (
        conn.cursor(row_factory=tuple_row)
        .execute("SELECT to_regclass(%s)", (table.as_string(conn),))
        .fetchone()
    )
    return row is not None and row[0] is not None


def _export_events(
    conn: Connection[Any],
    tables: _Tables,
    path: Path,
    compress: bool,
    page_size: int,
    total: int,
    progress: Progress,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    writer = _HashingWriter(path, compress=compress)
    head: dict[str, Any] | None = None
    query = SQL(
        # Text columns formatted by the server, which does it faster than Python here.
        "SELECT c.position, e.originator_id::text, e.originator_version, e.topic, e.state, "
        "c.prev_position, encode(c.hash, 'hex'), "
        "to_char(c.committed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
        "c.imported "
        "FROM {chain} c LEFT JOIN {events} e ON e.notification_id = c.position "
        "ORDER BY c.position"
    ).format(chain=tables.chain, events=tables.events)
    try:
        with conn.cursor("okr_ledger_export", row_factory=tuple_row) as cursor:
            cursor.itersize = page_size
            cursor.execute(query)
            for row in cursor:
                position, originator_id, version, topic, state, prev, link, at, imported = row
                if state is None or topic is None:
                    msg = (
                        f"position {position} has a chain link but no event: "
                        "run `okr audit verify` before exporting"
                    )
                    raise PackageError(msg)
                writer.line(
                    {
                        "position": position,
                        "originator_id": originator_id,
                        "originator_version": version,
                        "topic": topic,
                        **_state_fields(bytes(state)),
                        "prev_position": prev,
                        "hash": link,
                        "committed_at": at,
                        "imported": imported,
                    }
                )
                head = {"position": position, "hash": link, "committed_at": at}
                if writer.rows % page_size == 0:
                    progress(writer.rows, total, "export")
    finally:
        entry = writer.close()
    progress(writer.rows, total, "export")
    orphan = (
        conn.cursor(row_factory=tuple_row)
        .execute(
            SQL(
                "SELECT e.notification_id FROM {events} e LEFT JOIN {chain} c "
                "ON c.position = e.notification_id WHERE c.position IS NULL LIMIT 1"
            ).format(events=tables.events, chain=tables.chain)
        )
        .fetchone()
    )
    if orphan is not None:
        msg = (
            f"the event at position {orphan[0]} has no chain link: "
            "run `okr audit verify` before exporting"
        )
        raise PackageError(msg)
    return entry, head


def _export_person_ids(
    conn: Connection[Any], tables: _Tables, settings: Settings
) -> tuple[dict[str, Any], bytes | None]:
    """The store's person-id secret, as a document, and the secret that seals the keys."""
    row = (
        conn.cursor(row_factory=tuple_row)
        .execute(SQL("SELECT mode, value FROM {} WHERE name = 'person_id'").format(tables.secrets))
        .fetchone()
    )
    if row is None:
        return {"mode": "public"}, None
    mode, value = str(row[0]), bytes(row[1])
    if mode == "configured":
        secret = _configured_secret(settings)
        if secret is None or not hmac.compare_digest(_fingerprint(secret), value):
            msg = "OKR_PERSON_ID_SECRET is missing or differs from this store's"
            raise WrongKey(msg)
        return {"mode": mode, "fingerprint": value.hex()}, secret
    if mode == "stored":
        return {"mode": mode, "secret": value.hex()}, None
    return {"mode": mode}, None


def _export_person_keys(
    conn: Connection[Any], tables: _Tables, path: Path, secret: bytes | None
) -> dict[str, Any]:
    writer = _HashingWriter(path, compress=False)
    wrap = None if secret is None else _wrapping_key(secret)
    try:
        if not _table_exists(conn, tables.person_keys):
            return writer.close()
        rows = conn.cursor(row_factory=tuple_row).execute(
            SQL(
                "SELECT person_id, key, created_at, forgotten_number, forgotten_at FROM {} "
                "ORDER BY person_id"
            ).format(tables.person_keys)
        )
        for person_id, key, created_at, number, forgotten_at in rows:
            sealed: str | None = None
            if key is not None:
                raw = bytes(key)
                if wrap is not None:
                    nonce = os.urandom(_NONCE_SIZE)
                    raw = nonce + wrap.encrypt(nonce, raw, str(person_id).encode("utf-8"))
                sealed = base64.b64encode(raw).decode("ascii")
            writer.line(
                {
                    "person_id": person_id,
                    "key": sealed,
                    "created_at": _time(created_at),
                    "forgotten_number": number,
                    "forgotten_at": None if forgotten_at is None else _time(forgotten_at),
                }
            )
    finally:
        entry = writer.close()
    return entry


def _export_checkpoints(
    conn: Connection[Any], tables: _Tables, path: Path, recorder: ChainedApplicationRecorder
) -> dict[str, Any]:
    writer = _HashingWriter(path, compress=False)
    try:
        if _table_exists(conn, tables.checkpoints):
            rows = conn.cursor(row_factory=tuple_row).execute(
                SQL(
                    "SELECT position, hash, signed_at, key_id, reason, signature FROM {} "
                    "ORDER BY position, signed_at, id"
                ).format(tables.checkpoints)
            )
            for position, link, signed_at, key_id, reason, signature in rows:
                writer.line(
                    {
                        "log": recorder.events_table_name,
                        "position": position,
                        "hash": bytes(link).hex(),
                        "signed_at": _time(signed_at),
                        "key_id": key_id,
                        "reason": reason,
                        "signature": base64.b64encode(bytes(signature)).decode("ascii"),
                    }
                )
    finally:
        entry = writer.close()
    return entry


def _public_keys(settings: Settings) -> dict[str, Any]:
    """The public keys this deployment trusts for checkpoint signatures (a convenience for the
    importing deployment's OKR_AUDIT_PUBLIC_KEY_FILES, never trusted by the import itself)."""
    keys = trusted_public_keys(settings)
    return {
        "keys": [
            {"key_id": key, "pem": public_key_pem(public).decode("ascii")}
            for key, public in sorted(keys.items())
        ]
    }


# ------------------------------------------------------------------------------- import


@dataclass(frozen=True)
class Package:
    """A package whose files match its manifest, checked against this deployment's secret."""

    directory: Path
    manifest: dict[str, Any]
    person_ids: dict[str, Any]
    secret: bytes | None
    """The configured secret that seals the package's person keys (``None``: not sealed)."""

    @property
    def events_file(self) -> str:
        names = [name for name in self.manifest["files"] if name.startswith(EVENTS)]
        if len(names) != 1:
            msg = f"the manifest must list exactly one {EVENTS} file, found {names}"
            raise PackageInvalid(msg)
        return str(names[0])

    @property
    def event_count(self) -> int:
        return int(self.manifest["counts"]["events"])


def open_package(directory: Path, settings: Settings) -> Package:
    """Read and check a package without touching any database.

    Refuses a folder that is not a package of a format version this reads, a file whose
    SHA-256 or size differs from the manifest's (:class:`PackageTampered`), and a deployment
    whose ``OKR_PERSON_ID_SECRET`` is not the one the exporting store used (:class:`WrongKey`).
    """
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"{directory} has no {MANIFEST}: not a ledger package"
        raise PackageInvalid(msg) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        msg = f"{MANIFEST} is not JSON: {error}"
        raise PackageInvalid(msg) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        msg = f"{MANIFEST}: format must be {FORMAT!r}"
        raise PackageInvalid(msg)
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        msg = f"{MANIFEST}: format_version {version!r} is not one this okrledger reads (1..{FORMAT_VERSION})"
        raise PackageInvalid(msg)
    files = manifest.get("files")
    if not isinstance(files, dict):
        msg = f"{MANIFEST}: files must map each file name to its sha256 and bytes"
        raise PackageInvalid(msg)
    for required in (PERSON_IDS, PERSON_KEYS, CHECKPOINTS):
        if required not in files:
            msg = f"{MANIFEST}: files must list {required}"
            raise PackageInvalid(msg)
    for name, entry in files.items():
        if "/" in name or "\\" in name or name.startswith("."):
            msg = f"{MANIFEST}: {name!r} is not a file name in the package folder"
            raise PackageInvalid(msg)
        _check_file(directory / name, name, entry)
    try:
        person_ids = json.loads((directory / PERSON_IDS).read_text(encoding="utf-8"))
        counts = manifest["counts"]
        if not isinstance(person_ids, dict) or not isinstance(counts.get("events"), int):
            raise TypeError(f"{PERSON_IDS} must be an object and counts.events a number")
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
        msg = f"{MANIFEST} or {PERSON_IDS} is malformed: {e}"
        raise PackageInvalid(msg) from None
    package = Package(directory, manifest, person_ids, _check_secret(person_ids, settings))
    _ = package.events_file
    return package


def _check_file(path: Path, name: str, entry: Any) -> None:
    if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
        msg = f"{MANIFEST}: files.{name} must have a sha256"
        raise PackageInvalid(msg)
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        msg = f"{name} is listed in the manifest but missing"
        raise PackageTampered(msg) from None
    if size != entry.get("bytes") or not hmac.compare_digest(digest.hexdigest(), entry["sha256"]):
        msg = (
            f"{name} does not match the manifest (SHA-256 {digest.hexdigest()}, "
            f"{size} bytes; the manifest says {entry['sha256']}, {entry.get('bytes')} bytes): "
            "the package was changed after export"
        )
        raise PackageTampered(msg)


def _check_secret(person_ids: dict[str, Any], settings: Settings) -> bytes | None:
    mode = person_ids.get("mode")
    configured = _configured_secret(settings)
    if mode == "configured":
        if configured is None:
            msg = (
                "the package's person ids and keys are sealed under an OKR_PERSON_ID_SECRET: "
                "set the exporting deployment's secret to import it"
            )
            raise WrongKey(msg)
        if not hmac.compare_digest(
            _fingerprint(configured).hex(), str(person_ids.get("fingerprint"))
        ):
            msg = (
                "OKR_PERSON_ID_SECRET differs from the secret the package was exported with: "
                "its person ids and sealed personal data cannot be read with this one"
            )
            raise WrongKey(msg)
        return configured
    if mode in ("stored", "public"):
        if configured is not None:
            msg = (
                "the package's store keyed person ids without OKR_PERSON_ID_SECRET "
                f"({mode}): unset OKR_PERSON_ID_SECRET to import it"
            )
            raise WrongKey(msg)
        return None
    msg = f"{PERSON_IDS}: mode must be configured, stored or public, not {mode!r}"
    raise PackageInvalid(msg)


def import_ledger(
    directory: Path,
    settings: Settings,
    *,
    page_size: int = PAGE_SIZE,
    rebuild: bool = True,
    progress: Progress | None = None,
) -> ImportReport:
    """Load the package in ``directory`` into the empty store ``settings`` name, verify the
    chain and rebuild the views. Nothing is written when the package, the secret or the store
    is refused, or when the package's chain does not verify."""
    from infra.bootstrap import build_ledger
    from infra.views.rebuild import Rebuild

    report_progress = progress or (lambda done, total, phase: None)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    package = open_package(directory, settings)
    seconds["check"] = time.perf_counter() - clock
    ledger = build_ledger(settings)
    try:
        recorder = _recorder(ledger)
        CheckpointStore(recorder).create_tables()
        clock = time.perf_counter()
        tables = _Tables.of(recorder, _prefix(ledger))
        loaded = _Loader(package, recorder, tables, page_size, report_progress).run()
        seconds["load"] = time.perf_counter() - clock
    finally:
        ledger.close()
    # A fresh application: the person-id secret it reads is the package's now.
    ledger = build_ledger(settings)
    try:
        clock = time.perf_counter()
        verified = verify_chain(ChainReader.for_recorder(ledger.recorder), page_size=page_size)
        seconds["verify"] = time.perf_counter() - clock
        if not verified.ok:
            msg = (
                f"the imported chain does not verify: {verified.problem} at position "
                f"{verified.position} ({verified.detail})"
            )
            raise ChainBroken(msg)
        if rebuild:
            clock = time.perf_counter()
            Rebuild(ledger, settings, page_size=page_size, progress=progress).run(None)
            seconds["rebuild"] = time.perf_counter() - clock
    finally:
        ledger.close()
    head = package.manifest.get("head")
    return ImportReport(
        events=loaded.events,
        person_keys=loaded.person_keys,
        checkpoints=loaded.checkpoints,
        head_position=None if not head else int(head["position"]),
        head_hash=None if not head else str(head["hash"]),
        seconds=seconds,
    )


@dataclass
class _Loaded:
    events: int = 0
    person_keys: int = 0
    checkpoints: int = 0


@dataclass
class _Loader:
    """One transaction: refuse a non-empty store, then ``COPY`` every file in, link by link."""

    package: Package
    recorder: ChainedApplicationRecorder
    tables: _Tables
    page_size: int
    progress: Progress
    loaded: _Loaded = field(default_factory=_Loaded)

    def run(self) -> _Loaded:
        try:
            with self.recorder.datastore.get_connection() as conn, conn.transaction():
                conn.execute(
                    SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(self.tables.events),
                )
                conn.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
                self._refuse_non_empty(conn)
                self._person_ids(conn)
                self._events(conn)
                self._person_keys(conn)
                self._checkpoints(conn)
        except PackageError:
            raise
        except (KeyError, ValueError, TypeError, IntegrityError, DataError) as error:
            # A field missing or of the wrong type, or rows the tables' constraints refuse
            # (a position twice, a destroyed key without its number): rolled back. The
            # datastore raises PostgreSQL's errors as eventsourcing's.
            cause = error.__cause__ or error
            msg = f"the package does not load: {type(cause).__name__}: {cause}"
            raise PackageInvalid(msg) from None
        return self.loaded

    def _refuse_non_empty(self, conn: Connection[Any]) -> None:
        for what, table in (
            ("events", self.tables.events),
            ("chain links", self.tables.chain),
            ("person keys", self.tables.person_keys),
            ("signed checkpoints", self.tables.checkpoints),
        ):
            row = (
                conn.cursor(row_factory=tuple_row)
                .execute(SQL("SELECT 1 FROM {} LIMIT 1").format(table))
                .fetchone()
            )
            if row is not None:
                msg = (
                    f"the target store already holds {what}: a ledger package loads only into "
                    "an empty store (a new database, or a new OKR_DATA_DIR)"
                )
                raise StoreNotEmpty(msg)

    def _person_ids(self, conn: Connection[Any]) -> None:
        """Put the package's person-id secret record in place of the empty store's own."""
        document = self.package.person_ids
        mode = str(document["mode"])
        if mode == "configured":
            value = bytes.fromhex(str(document["fingerprint"]))
        elif mode == "stored":
            value = bytes.fromhex(str(document["secret"]))
        else:
            value = b""
        conn.execute(SQL("DELETE FROM {} WHERE name = 'person_id'").format(self.tables.secrets))
        conn.execute(
            SQL("INSERT INTO {} (name, mode, value) VALUES ('person_id', %s, %s)").format(
                self.tables.secrets
            ),
            (mode, value),
        )

    def _lines(self, name: str) -> Iterator[dict[str, Any]]:
        path = self.package.directory / name
        with gzip.open(path, "rb") if name.endswith(".gz") else path.open("rb") as raw:
            for number, line in enumerate(raw, start=1):
                if not line.strip():
                    continue
                try:
                    document = orjson.loads(line)
                except orjson.JSONDecodeError as error:
                    msg = f"{name} line {number} is not JSON: {error}"
                    raise PackageInvalid(msg) from None
                if not isinstance(document, dict):
                    msg = f"{name} line {number} must be a JSON object"
                    raise PackageInvalid(msg)
                yield document

    def _events(self, conn: Connection[Any]) -> None:
        """Stream the events file, checking each link as it comes, and ``COPY`` it in pages
        (events, then their links), so memory holds one page whatever the log's length."""
        name = self.package.events_file
        total = self.package.event_count
        prev_position = GENESIS_POSITION
        prev_hash = GENESIS_HASH
        prev_time: datetime | None = None
        page: list[tuple[tuple[Any, ...], tuple[Any, ...]]] = []
        for line in self._lines(name):
            try:
                position = int(line["position"])
                originator_id = str(line["originator_id"])
                version = int(line["originator_version"])
                topic = str(line["topic"])
                state = _state_bytes(line)
                stored_prev = int(line["prev_position"])
                stored_hash = bytes.fromhex(str(line["hash"]))
                committed_at = _parse_time(str(line["committed_at"]))
                imported = bool(line["imported"])
            except (KeyError, ValueError, TypeError) as error:
                msg = f"{name}: the line after position {prev_position} is malformed: {error}"
                raise PackageInvalid(msg) from None
            if position <= prev_position or stored_prev != prev_position:
                msg = (
                    f"position {position} links back to {stored_prev}, but the previous "
                    f"event is at {prev_position}: an event was removed, added or reordered"
                )
                raise ChainBroken(msg)
            expected = link_hash(prev_hash, position, originator_id, version, topic, state)
            if not hmac.compare_digest(expected, stored_hash):
                msg = (
                    f"the event at position {position} does not match its chain link: "
                    "it was edited after it was chained"
                )
                raise ChainBroken(msg)
            if prev_time is not None and committed_at < prev_time:
                msg = f"position {position} was committed before the previous event"
                raise ChainBroken(msg)
            page.append(
                (
                    (position, UUID(originator_id), version, topic, state),
                    (position, stored_prev, committed_at, stored_hash, imported),
                )
            )
            prev_position, prev_hash, prev_time = position, stored_hash, committed_at
            if len(page) >= self.page_size:
                self._copy_page(conn, page)
                self.progress(self.loaded.events, total, "import")
        self._copy_page(conn, page)
        self.progress(self.loaded.events, total, "import")
        head = self.package.manifest.get("head")
        if self.loaded.events != total or (
            head and (int(head["position"]), str(head["hash"])) != (prev_position, prev_hash.hex())
        ):
            msg = (
                f"{name} holds {self.loaded.events} events up to position {prev_position}; the "
                f"manifest promises {total} up to {head and head.get('position')}"
            )
            raise ChainBroken(msg)
        if self.loaded.events:
            conn.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), %s)",
                (self.tables.events_name, prev_position),
            )

    def _copy_page(
        self, conn: Connection[Any], page: list[tuple[tuple[Any, ...], tuple[Any, ...]]]
    ) -> None:
        if not page:
            return
        events = SQL(
            "COPY {} (notification_id, originator_id, originator_version, topic, state) "
            "FROM STDIN (FORMAT binary)"
        ).format(self.tables.events)
        links = SQL(
            "COPY {} (position, prev_position, committed_at, hash, imported) "
            "FROM STDIN (FORMAT binary)"
        ).format(self.tables.chain)
        # Binary: the state and hash bytes go as they are, not hex-escaped.
        with conn.cursor() as curs:
            with curs.copy(events) as copy:
                copy.set_types(["bigint", "uuid", "bigint", "text", "bytea"])
                for event, _ in page:
                    copy.write_row(event)
            with curs.copy(links) as copy:
                copy.set_types(["bigint", "bigint", "timestamptz", "bytea", "bool"])
                for _, link in page:
                    copy.write_row(link)
        self.loaded.events += len(page)
        page.clear()

    def _person_keys(self, conn: Connection[Any]) -> None:
        wrap = None if self.package.secret is None else _wrapping_key(self.package.secret)
        statement = SQL(
            "COPY {} (person_id, key, created_at, forgotten_number, forgotten_at) FROM STDIN"
        ).format(self.tables.person_keys)
        highest = 0
        with conn.cursor() as curs, curs.copy(statement) as copy:
            for line in self._lines(PERSON_KEYS):
                person_id = str(line["person_id"])
                key: bytes | None = None
                if line.get("key") is not None:
                    key = base64.b64decode(str(line["key"]), validate=True)
                    if wrap is not None:
                        try:
                            key = wrap.decrypt(
                                key[:_NONCE_SIZE], key[_NONCE_SIZE:], person_id.encode("utf-8")
                            )
                        except InvalidTag:
                            msg = (
                                f"the key of person {person_id} does not open with this "
                                "OKR_PERSON_ID_SECRET"
                            )
                            raise WrongKey(msg) from None
                number = line.get("forgotten_number")
                forgotten_at = line.get("forgotten_at")
                copy.write_row(
                    (
                        person_id,
                        key,
                        _parse_time(str(line["created_at"])),
                        number,
                        None if forgotten_at is None else _parse_time(str(forgotten_at)),
                    )
                )
                highest = max(highest, int(number or 0))
                self.loaded.person_keys += 1
        if highest:
            conn.execute(
                "SELECT setval(%s::regclass, %s)", (self.tables.forgotten_sequence, highest)
            )

    def _checkpoints(self, conn: Connection[Any]) -> None:
        statement = SQL(
            "COPY {} (position, hash, signed_at, key_id, reason, signature) FROM STDIN"
        ).format(self.tables.checkpoints)
        with conn.cursor() as curs, curs.copy(statement) as copy:
            for line in self._lines(CHECKPOINTS):
                copy.write_row(
                    (
                        int(line["position"]),
                        bytes.fromhex(str(line["hash"])),
                        _parse_time(str(line["signed_at"])),
                        str(line["key_id"]),
                        str(line["reason"]),
                        base64.b64decode(str(line["signature"]), validate=True),
                    )
                )
                self.loaded.checkpoints += 1

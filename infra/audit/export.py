"""``okr audit export``: a bundle an outside auditor verifies with no database and no okrledger.

The bundle (a directory)::

    events.jsonl       one stored event per line, in log order: position, prev_position,
                       committed_at, imported, originator_id, originator_version, topic,
                       state (base64 of exactly the bytes hashed) and hash (hex)
    chain.json         the log, the exported range, its anchor (the chain hash just before the
                       first exported event), the count and the head
    checkpoints.jsonl  the signed chain checkpoints that fall in the range
    public_key.pem     the audit key's public half
    people.jsonl       person id → name as okrledger shows it now ("forgotten person #N" once
                       erased); not part of the chain: the company's word, covered by the manifest
    verify.py          the standalone verifier (stdlib + cryptography)
    README.md          what the auditor does, and what a pass proves
    manifest.json      SHA-256 of every file above
    manifest.sig       Ed25519 signature of manifest.json

Exports of a cycle (its first event to its close) or a time range carry the anchor, so the slice
links into the whole chain; a checkpoint signed at the slice's last event covers the slice.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from eventsourcing.utils import get_topic
from psycopg import Connection
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed

import infra.chainhash
from domain.person import Person
from infra.audit import standalone
from infra.audit.checkpoints import ChainTamperedError, Checkpoint, Checkpointer
from infra.audit.keys import load_signing_key, public_key_pem, trusted_public_keys
from infra.audit.standalone import (
    BUNDLE_FORMAT,
    CHAIN,
    CHECKPOINTS,
    EVENTS,
    MANIFEST,
    MANIFEST_SIGNATURE,
    PUBLIC_KEY,
    BundleReport,
    format_time,
    key_id,
    verify_bundle,
)
from infra.audit.verify import audit_verify
from infra.chain import ChainReader
from infra.settings import Settings, get_settings

if TYPE_CHECKING:
    from uuid import UUID

    from domain.application import OkrLedger

PEOPLE = "people.jsonl"
VERIFIER = "verify.py"
README = "README.md"
_PAGE = 5000


class ExportError(Exception):
    """The export cannot be made as asked."""


class Scope(TypedDict, total=False):
    """What an export covers: one cycle, or the events committed in a time range (an end left
    out is open); neither, the whole log."""

    cycle_id: UUID | None
    from_time: datetime | None
    to_time: datetime | None


@dataclass(frozen=True)
class ExportSummary:
    out: Path
    description: str
    count: int
    first_position: int | None
    head_position: int | None
    head_hash: str | None
    anchor_position: int | None
    checkpoints: int
    key_id: str | None
    report: BundleReport
    """The bundle's own verifier, run on it straight after writing."""


def render_verifier() -> str:
    """``verify.py``: the standalone module with ``infra/chainhash.py`` copied in verbatim."""
    source = Path(standalone.__file__).read_text("utf-8")
    chainhash = Path(infra.chainhash.__file__).read_text("utf-8")
    begin, end = "# BEGIN chainhash\n", "# END chainhash\n"
    start, stop = source.index(begin) + len(begin), source.index(end)
    body = chainhash.replace("from __future__ import annotations\n", "")
    digest = hashlib.sha256(chainhash.encode()).hexdigest()
    inlined = f"# infra/chainhash.py (sha256 {digest}), verbatim:\n{body}\n"
    return source[:start] + inlined + source[stop:]


def export_bundle(
    ledger: OkrLedger, out: Path, *, settings: Settings | None = None, **scope: Unpack[Scope]
) -> ExportSummary:
    """Write the bundle for the whole log, one cycle, or a time range into ``out``."""
    settings = settings or get_settings()
    if out.exists() and any(out.iterdir()):
        msg = f"{out} is not empty"
        raise ExportError(msg)
    key = load_signing_key(settings)
    reader = ChainReader.for_recorder(ledger.recorder)
    low, high, description = _range(ledger, reader, scope)
    checkpointer = Checkpointer(ledger.recorder, key, settings.audit_checkpoint_interval)
    try:
        checkpointer.catch_up()
    except ChainTamperedError as error:
        msg = f"refusing to export: {error}"
        raise ExportError(msg) from None
    if key is not None:
        keys = trusted_public_keys(settings)
        found = audit_verify(ledger, to_position=high, trusted_keys=keys)
        if not found.ok:
            problem = found.first_problem
            assert problem is not None
            msg = f"refusing to sign an export of a chain that is {problem.problem} at "
            raise ExportError(msg + f"{problem.position}: {problem.detail}")
    out.mkdir(parents=True, exist_ok=True)
    chain = write_events_file(reader, out / EVENTS, low, high, description)
    checkpoints = checkpointer.store.list(chain["anchor_position"] or 0, high)
    if key is not None and chain["head"] is not None:
        head = chain["head"]
        if not any(c.position == head["position"] for c in checkpoints):
            checkpoints.append(
                checkpointer.sign_at(head["position"], bytes.fromhex(head["hash"]), "export")
            )
    _write_lines(out / CHECKPOINTS, (c.as_json() for c in checkpoints))
    if key is not None:
        (out / PUBLIC_KEY).write_bytes(public_key_pem(key.public_key()))
    _write_lines(out / PEOPLE, _people(ledger, reader, high))
    (out / VERIFIER).write_text(render_verifier(), "utf-8")
    kid = key_id(key.public_key()) if key is not None else None
    (out / README).write_text(_readme(chain, description, kid, len(checkpoints)), "utf-8")
    del chain["anchor_position"]
    _write_manifest(out, chain, description, kid)
    if key is not None:
        signature = key.sign((out / MANIFEST).read_bytes())
        (out / MANIFEST_SIGNATURE).write_text(base64.b64encode(signature).decode() + "\n")
    report = verify_bundle(out, key_ids=(kid,) if kid else (), allow_unsigned=key is None)
    head = chain["head"]
    anchor = chain["anchor"]
    return ExportSummary(
        out=out,
        description=description,
        count=chain["count"],
        first_position=chain["first_position"],
        head_position=head["position"] if head else None,
        head_hash=head["hash"] if head else None,
        anchor_position=anchor["position"] if anchor else None,
        checkpoints=len(checkpoints),
        key_id=kid,
        report=report,
    )


# ------------------------------------------------------------------------------ the range


def _range(
    ledger: OkrLedger, reader: ChainReader, scope: Scope
) -> tuple[int | None, int | None, str]:
    """(first position, last position, description); ``None`` ends are open."""
    cycle_id, from_time, to_time = (
        scope.get("cycle_id"),
        scope.get("from_time"),
        scope.get("to_time"),
    )
    if cycle_id is not None:
        if from_time is not None or to_time is not None:
            msg = "export a cycle or a time range, not both"
            raise ExportError(msg)
        return _cycle_range(ledger, reader, cycle_id)
    for instant in (from_time, to_time):
        if instant is not None and instant.tzinfo is None:
            msg = "export times must be timezone-aware"
            raise ExportError(msg)
    low = None if from_time is None else _first_position_at_or_after(reader, from_time)
    high = None if to_time is None else reader.position_at(to_time)
    if to_time is not None and high is None:
        high = 0  # nothing was committed by then
    parts = [
        f"committed from {format_time(from_time)}" if from_time else "",
        f"up to {format_time(to_time)}" if to_time else "",
    ]
    return low, high, " ".join(p for p in parts if p) or "the whole log"


def _cycle_range(
    ledger: OkrLedger, reader: ChainReader, cycle_id: UUID
) -> tuple[int, int | None, str]:
    cycle = ledger.get_cycle(cycle_id)
    closed = get_topic(type(cycle).Closed)
    [row] = _select(
        reader,
        SQL(
            "SELECT min(notification_id), max(notification_id) FILTER (WHERE topic = %s) "
            "FROM {} WHERE originator_id = %s"
        ).format(reader.qualified_events),
        (closed, cycle_id),
    )
    assert row[0] is not None
    first, close = int(row[0]), row[1]
    until = f"its close at {close}" if close is not None else "now (it is not closed)"
    return first, close, f"cycle {cycle.name} ({cycle_id}): position {first} to {until}"


def _first_position_at_or_after(reader: ChainReader, instant: datetime) -> int:
    rows = _select(
        reader,
        SQL(
            "SELECT position FROM {} WHERE committed_at >= %s "
            "ORDER BY committed_at, position LIMIT 1"
        ).format(reader.qualified_chain),
        (instant,),
    )
    return int(rows[0][0]) if rows else 2**62  # nothing since: an empty range


# ----------------------------------------------------------------------------- the files


def write_events_file(
    reader: ChainReader,
    path: Path,
    low: int | None = None,
    high: int | None = None,
    description: str = "the whole log",
) -> dict[str, Any]:
    """Stream positions ``low..high`` into ``path`` from one snapshot; return ``chain.json``'s
    content (plus ``anchor_position``)."""
    low = 1 if low is None else low
    high = 2**63 - 1 if high is None else high
    count, first, last = 0, None, None
    with reader.datastore.get_connection() as conn, conn.transaction(force_rollback=True):
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        anchors = _rows(
            conn,
            SQL(
                "SELECT position, hash FROM {} WHERE position < %s ORDER BY position DESC LIMIT 1"
            ).format(reader.qualified_chain),
            (low,),
        )
        # A full join: an event without its link, or a link without its event, is exported
        # as it is (with nulls) for the verifier to reject, never silently left out.
        query = SQL(
            "SELECT coalesce(e.notification_id, c.position), c.prev_position, c.committed_at, "
            "c.imported, e.originator_id, e.originator_version, e.topic, e.state, c.hash "
            "FROM {events} e FULL JOIN {chain} c ON c.position = e.notification_id "
            "WHERE coalesce(e.notification_id, c.position) BETWEEN %s AND %s "
            "ORDER BY 1"
        ).format(events=reader.qualified_events, chain=reader.qualified_chain)
        with (
            conn.cursor("okr_export", row_factory=tuple_row) as cursor,
            path.open("w", encoding="utf-8") as file,
        ):
            cursor.itersize = _PAGE
            cursor.execute(query, (low, high))
            for row in cursor:
                position, prev, committed, imported, oid, version, topic, state, link = row
                line = {
                    "position": position,
                    "prev_position": prev,
                    "committed_at": None if committed is None else format_time(committed),
                    "imported": imported,
                    "originator_id": None if oid is None else str(oid),
                    "originator_version": version,
                    "topic": topic,
                    "state": None if state is None else base64.b64encode(state).decode("ascii"),
                    "hash": None if link is None else bytes(link).hex(),
                }
                file.write(json.dumps(line, separators=(",", ":")) + "\n")
                count += 1
                first = position if first is None else first
                last = (position, line["hash"])
    anchor = {"position": anchors[0][0], "hash": anchors[0][1].hex()} if anchors else None
    return {
        "log": reader.events_table_name,
        "description": description,
        "from_position": low,
        "to_position": None if high == 2**63 - 1 else high,
        "anchor": anchor,
        "anchor_position": None if anchor is None else anchor["position"],
        "count": count,
        "first_position": first,
        "head": None if last is None else {"position": last[0], "hash": last[1]},
    }


def _people(ledger: OkrLedger, reader: ChainReader, high: int | None) -> list[dict[str, Any]]:
    rows = _select(
        reader,
        SQL(
            "SELECT originator_id FROM {} WHERE topic = %s AND notification_id <= %s "
            "ORDER BY notification_id"
        ).format(reader.qualified_events),
        (get_topic(Person.Registered), high if high is not None else 2**63 - 1),
    )
    people = []
    for (person_id,) in rows:
        person = ledger.get_person(person_id)
        people.append({"id": str(person_id), "name": person.name, "forgotten": person.forgotten})
    return people


def _rows(conn: Connection[Any], query: Composed, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """The rows `query` answers, as tuples."""
    return conn.cursor(row_factory=tuple_row).execute(query, params).fetchall()


def _select(reader: ChainReader, query: Composed, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """The rows `query` answers on a connection of the reader's pool, as tuples."""
    with reader.datastore.get_connection() as conn:
        return _rows(conn, query, params)


def _write_lines(path: Path, records: Any) -> None:
    with path.open("w", encoding="utf-8") as file:
        for record in records:
            file.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n")


def _write_manifest(out: Path, chain: dict[str, Any], description: str, kid: str | None) -> None:
    (out / CHAIN).write_text(json.dumps(chain, indent=2) + "\n", "utf-8")
    files = {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(out.iterdir())
        if path.name not in (MANIFEST, MANIFEST_SIGNATURE)
    }
    manifest = {
        "format": BUNDLE_FORMAT,
        "created_at": format_time(datetime.now(UTC)),
        "log": chain["log"],
        "description": description,
        "key_id": kid,
        "files": files,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")


def _readme(chain: dict[str, Any], description: str, kid: str | None, checkpoints: int) -> str:
    anchor = chain["anchor"]
    head = chain["head"]
    anchor_text = (
        f"position {anchor['position']}, hash `{anchor['hash']}`"
        if anchor
        else "none: the export starts at the beginning of the log"
    )
    head_text = f"position {head['position']}, hash `{head['hash']}`" if head else "none (empty)"
    key_text = f"`{kid}`" if kid else "none: this export is unsigned"
    return f"""# okrledger audit export

What: {description}; {chain["count"]} events of the log `{chain["log"]}`.

- anchor (the chain hash just before the first exported event): {anchor_text}
- head (the last exported event): {head_text}
- signed checkpoints in range: {checkpoints}
- signing key id: {key_text}

## Verify it

    python3 -m pip install cryptography     # the only dependency (Python 3.11 or later)
    python3 verify.py . --key-id {kid or "KEY_ID"}

`verify.py` needs no database and no okrledger code. It exits 0 when every check passes and 1
otherwise, naming the first position where the events and their chain disagree, and how:
`edited`, `deleted`, `inserted` or `reordered`; `rewritten` when the recomputed chain differs
from a signed checkpoint or a published head; `manifest` or `signature` when a file of the bundle
was changed. Pass heads published elsewhere with `--head POSITION:HASH` (repeatable).

## What a pass proves (the trust model)

1. **Consistency.** Every event hashes to its link, each link includes the previous link's hash,
   so no event in the file can be changed, dropped, added or moved without breaking every later
   link. `state` is the exact stored bytes (base64), so the proof does not depend on how
   okrledger decodes them. The link function is in `verify.py`, copied from okrledger's
   `infra/chainhash.py`, and specified in okrledger's `docs/audit.md`.
2. **Authenticity.** Consistency alone is not proof: whoever holds the database could rewrite
   history and recompute every link. The chain hash at a position is therefore signed, with an
   Ed25519 key the database does not hold, every so many events, at every cycle close and at
   the end of this export. The verifier checks each signature and that the recomputed chain
   reaches the signed hash. **Pin the key**: compare the key id above with one published
   independently of this bundle (or pass `--key-id`); otherwise anyone could re-sign a forged
   bundle with a key of their own.
3. **Time.** A checkpoint signed long ago (see `signed_at` in `checkpoints.jsonl`) proves that
   the history up to it has not changed since. The checkpoint signed at export time proves only
   what the system said when exporting; compare it, or any checkpoint, with heads you recorded
   before (`--head`) to rule out an earlier rewrite of the tail.
4. **A slice.** An export of a cycle or a time range starts from its anchor: the hash of the
   event just before it. Every exported event depends on the anchor, so a checkpoint inside or
   at the end of the slice vouches for the anchor too: the slice is part of the one chain.
   What happened outside the slice is not shown; ask for a wider export to see it.
5. **Not covered.** `people.jsonl` is okrledger's current directory of names, for reading the
   ids in events; it is covered by the signed manifest but not by the chain. Names and e-mail
   addresses inside person events are encrypted per person; a person who asked to be forgotten
   has had their key destroyed and appears as "forgotten person #N". Their events are still here,
   unchanged, and still verify.

## Files

- `events.jsonl`: position, prev_position, committed_at (database commit time, UTC), imported
  (history imported from elsewhere), originator_id, originator_version, topic, state (base64),
  hash (hex).
- `chain.json`: the log, the range, the anchor, the count and the head.
- `checkpoints.jsonl`: log, position, hash, signed_at, key_id, reason, signature (base64).
- `public_key.pem`, `people.jsonl`, `verify.py`, this `README.md`.
- `manifest.json`: the SHA-256 of every file; `manifest.sig`: its Ed25519 signature (base64).
"""


def load_checkpoints(path: Path) -> list[Checkpoint]:
    """Checkpoints saved from ``okr audit checkpoint --json`` or a bundle, one per line."""
    return [
        Checkpoint.from_json(json.loads(line))
        for line in path.read_text("utf-8").splitlines()
        if line.strip()
    ]

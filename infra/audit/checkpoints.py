"""Signed chain checkpoints: the chain's hash at a position, signed with the audit key.

The hash chain alone proves nothing to someone who can rewrite the database: they can recompute
every link after their edit. A signed checkpoint fixes the hash at one position with a key the
database does not hold; once published, or merely kept, any later rewrite of the history before
it shows up as a mismatch. Checkpoints are signed every ``audit_checkpoint_interval`` positions
and at every cycle close by :class:`Checkpointer` (a follower of the log, run by ``okr serve``
through :class:`CheckpointFollower` and by ``okr audit checkpoint``), and on demand.

They live in ``<events>_chain_checkpoints`` (these are not the projections' fold checkpoints)::

    id         bigserial PRIMARY KEY
    position   bigint NOT NULL        -- a chain link's position
    hash       bytea NOT NULL         -- that link's hash
    signed_at  timestamptz NOT NULL
    key_id     text NOT NULL          -- fingerprint of the signing key (see keys.py)
    reason     text NOT NULL          -- interval | cycle-closed <cycle id> | published | export
    signature  bytea NOT NULL         -- Ed25519 over standalone.checkpoint_message(...)

and the follower's progress in ``<events>_chain_checkpoint_tracking`` (one row).
"""

from __future__ import annotations

import base64
import dataclasses
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from eventsourcing.utils import get_topic
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from domain.cycle import Cycle
from infra.audit.keys import load_signing_key
from infra.audit.standalone import checkpoint_message, format_time, key_id
from infra.chain import ChainedApplicationRecorder, ChainReader, chain_table_name, verify_chain
from infra.repeating import Repeating

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
    from eventsourcing.persistence import ApplicationRecorder
    from psycopg import Cursor

    from infra.settings import Settings

log = logging.getLogger(__name__)

CLOSING_TOPICS = (get_topic(Cycle.Closed),)
"""Events after which a checkpoint is signed at once."""


class ChainTamperedError(Exception):
    """The chain no longer matches itself or its last signed checkpoint: nothing is signed."""


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: in ``log``, the chain's hash at ``position`` is ``hash``."""

    log: str
    position: int
    hash: bytes
    signed_at: datetime
    key_id: str
    reason: str
    signature: bytes

    def message(self) -> bytes:
        return checkpoint_message(
            log=self.log,
            position=self.position,
            hash_hex=self.hash.hex(),
            signed_at=format_time(self.signed_at),
            key=self.key_id,
            reason=self.reason,
        )

    def verify(self, keys: Mapping[str, Ed25519PublicKey]) -> bool:
        """Whether a trusted key (by id) signed exactly this checkpoint."""
        public = keys.get(self.key_id)
        if public is None:
            return False
        try:
            public.verify(self.signature, self.message())
        except InvalidSignature:
            return False
        return True

    def as_json(self) -> dict[str, Any]:
        """The published form, as the export bundle and ``okr audit checkpoint --json`` print it."""
        return {
            "log": self.log,
            "position": self.position,
            "hash": self.hash.hex(),
            "signed_at": format_time(self.signed_at),
            "key_id": self.key_id,
            "reason": self.reason,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Checkpoint:
        return cls(
            log=str(data["log"]),
            position=int(data["position"]),
            hash=bytes.fromhex(str(data["hash"])),
            signed_at=datetime.fromisoformat(str(data["signed_at"]).replace("Z", "+00:00")),
            key_id=str(data["key_id"]),
            reason=str(data["reason"]),
            signature=base64.b64decode(str(data["signature"])),
        )


def sign_checkpoint(
    key: Ed25519PrivateKey, log_name: str, position: int, chain_hash: bytes, reason: str
) -> Checkpoint:
    unsigned = Checkpoint(
        log_name, position, chain_hash, datetime.now(UTC), key_id(key.public_key()), reason, b""
    )
    return dataclasses.replace(unsigned, signature=key.sign(unsigned.message()))


class CheckpointStore:
    """The signed checkpoints of one events table."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        if not isinstance(recorder, ChainedApplicationRecorder):
            msg = f"{type(recorder).__name__} does not keep a hash chain"
            raise TypeError(msg)
        self.recorder = recorder
        self.datastore = recorder.datastore
        self.log_name = recorder.events_table_name
        self.reader = ChainReader(self.datastore, recorder.events_table_name)
        schema = Identifier(self.datastore.schema)
        chain = chain_table_name(recorder.events_table_name)
        self.table_name = f"{chain}_checkpoints"
        self.table = SQL("{}.{}").format(schema, Identifier(self.table_name))
        self.tracking = SQL("{}.{}").format(schema, Identifier(f"{chain}_checkpoint_tracking"))
        self.chain = self.reader.qualified_chain
        self.events = self.reader.qualified_events

    def create_tables(self) -> None:
        with self.datastore.get_connection() as conn, conn.transaction():
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))",
                (f"okrledger:create:{self.datastore.schema}.{self.table_name}",),
            )
            conn.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {} ("
                    "id bigserial PRIMARY KEY, position bigint NOT NULL, hash bytea NOT NULL, "
                    "signed_at timestamptz NOT NULL, key_id text NOT NULL, reason text NOT NULL, "
                    "signature bytea NOT NULL)"
                ).format(self.table)
            )
            conn.execute(
                SQL("CREATE INDEX IF NOT EXISTS {} ON {} (position)").format(
                    Identifier(f"{self.table_name}_position_idx"), self.table
                )
            )
            conn.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {} (id boolean PRIMARY KEY DEFAULT true CHECK (id), "
                    "position bigint NOT NULL)"
                ).format(self.tracking)
            )

    def add(self, checkpoints: Sequence[Checkpoint], curs: Cursor[Any] | None = None) -> None:
        rows = [
            (c.position, c.hash, c.signed_at, c.key_id, c.reason, c.signature) for c in checkpoints
        ]
        statement = SQL(
            "INSERT INTO {} (position, hash, signed_at, key_id, reason, signature) "
            "VALUES (%s, %s, %s, %s, %s, %s)"
        ).format(self.table)
        if curs is not None:
            curs.executemany(statement, rows)
            return
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as own:
            own.executemany(statement, rows)

    def list(self, low: int | None = None, high: int | None = None) -> list[Checkpoint]:
        """Checkpoints with ``low <= position <= high``, by position then signing time."""
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            rows = curs.execute(
                SQL(
                    "SELECT position, hash, signed_at, key_id, reason, signature FROM {} "
                    "WHERE position >= %s AND position <= %s ORDER BY position, signed_at, id"
                ).format(self.table),
                (low if low is not None else 0, high if high is not None else 2**63 - 1),
            ).fetchall()
        return [self._checkpoint(row) for row in rows]

    def latest(self) -> Checkpoint | None:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            row = curs.execute(
                SQL(
                    "SELECT position, hash, signed_at, key_id, reason, signature FROM {} "
                    "ORDER BY position DESC, signed_at DESC, id DESC LIMIT 1"
                ).format(self.table)
            ).fetchone()
        return None if row is None else self._checkpoint(row)

    def link_hashes(self, positions: Sequence[int]) -> dict[int, bytes]:
        """The chain table's hashes at ``positions`` (missing links left out)."""
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            rows = curs.execute(
                SQL("SELECT position, hash FROM {} WHERE position = ANY(%s)").format(self.chain),
                (list(positions),),
            ).fetchall()
        return {int(p): bytes(h) for p, h in rows}

    def _checkpoint(self, row: tuple[Any, ...]) -> Checkpoint:
        position, chain_hash, signed_at, key, reason, signature = row
        return Checkpoint(
            self.log_name, position, bytes(chain_hash), signed_at, key, reason, bytes(signature)
        )


class Checkpointer:
    """Signs the checkpoints the log calls for: every ``interval`` positions, every cycle close."""

    def __init__(
        self,
        recorder: ApplicationRecorder,
        key: Ed25519PrivateKey | None,
        interval: int,
        closing_topics: Sequence[str] = CLOSING_TOPICS,
    ) -> None:
        if interval < 1:
            msg = "the checkpoint interval must be at least 1"
            raise ValueError(msg)
        self.store = CheckpointStore(recorder)
        self.store.create_tables()
        self.key = key
        self.interval = interval
        self.closing_topics = list(closing_topics)

    def catch_up(self) -> list[Checkpoint]:
        """Sign every checkpoint due since the last catch-up; return them.

        Before signing, the new part of the chain is verified and the latest signed checkpoint is
        checked against the chain, so a rewritten history is refused rather than signed.
        """
        if self.key is None:
            return []
        store = self.store
        with (
            store.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor(row_factory=tuple_row) as curs,
        ):
            curs.execute(
                SQL(
                    "INSERT INTO {} (id, position) VALUES (true, 0) ON CONFLICT (id) DO NOTHING"
                ).format(store.tracking)
            )
            row = curs.execute(
                SQL("SELECT position FROM {} FOR UPDATE").format(store.tracking)
            ).fetchone()
            assert row is not None
            tracked = int(row[0])
            head = store.reader.head()
            if head is None or head.position <= tracked:
                return []
            self._check_before_signing(tracked, head.position)
            due = self._due(curs, tracked, head.position)
            signed = [
                sign_checkpoint(self.key, store.log_name, position, chain_hash, reason)
                for position, (chain_hash, reason) in sorted(due.items())
            ]
            store.add(signed, curs)
            curs.execute(
                SQL("UPDATE {} SET position = %s").format(store.tracking), (head.position,)
            )
        for checkpoint in signed:
            log.info("signed chain checkpoint at %s (%s)", checkpoint.position, checkpoint.reason)
        return signed

    def sign_head(self, reason: str = "published") -> Checkpoint | None:
        """Sign the chain's current head (``None`` while the log is empty)."""
        if self.key is None:
            msg = "no audit signing key is configured"
            raise ValueError(msg)
        head = self.store.reader.head()
        if head is None:
            return None
        return self.sign_at(head.position, head.hash, reason)

    def sign_at(self, position: int, chain_hash: bytes, reason: str) -> Checkpoint:
        if self.key is None:
            msg = "no audit signing key is configured"
            raise ValueError(msg)
        checkpoint = sign_checkpoint(self.key, self.store.log_name, position, chain_hash, reason)
        self.store.add([checkpoint])
        return checkpoint

    def _check_before_signing(self, tracked: int, head: int) -> None:
        report = verify_chain(self.store.reader, from_position=tracked + 1, to_position=head)
        if not report.ok:
            msg = f"the chain is {report.problem} at {report.position}: {report.detail}"
            raise ChainTamperedError(msg)
        latest = self.store.latest()
        if latest is not None:
            current = self.store.link_hashes([latest.position]).get(latest.position)
            if current != latest.hash:
                msg = f"the chain at {latest.position} no longer matches its signed checkpoint"
                raise ChainTamperedError(msg)

    def _due(self, curs: Cursor[Any], tracked: int, head: int) -> dict[int, tuple[bytes, str]]:
        """Positions to sign in (tracked, head]: position → (chain hash, reason)."""
        due: dict[int, tuple[bytes, str]] = {}
        n = self.interval
        # The last link of each interval (k-1)·n < position <= k·n that is complete by now,
        # including an interval begun before ``tracked`` whose last link is not yet signed.
        for position, chain_hash in curs.execute(
            SQL(
                "SELECT position, hash FROM ("
                "SELECT DISTINCT ON ((position - 1) / %(n)s) position, hash FROM {chain} "
                "WHERE position > %(start)s AND position <= %(end)s "
                "ORDER BY (position - 1) / %(n)s, position DESC) AS last "
                "WHERE NOT EXISTS (SELECT 1 FROM {checkpoints} c WHERE c.position = last.position)"
            ).format(chain=self.store.chain, checkpoints=self.store.table),
            {"n": n, "start": (tracked // n) * n, "end": (head // n) * n},
        ).fetchall():
            due[int(position)] = (bytes(chain_hash), "interval")
        for position, chain_hash, originator_id in curs.execute(
            SQL(
                "SELECT e.notification_id, c.hash, e.originator_id FROM {events} e "
                "JOIN {chain} c ON c.position = e.notification_id "
                "WHERE e.notification_id > %s AND e.notification_id <= %s AND e.topic = ANY(%s)"
            ).format(events=self.store.events, chain=self.store.chain),
            (tracked, head, self.closing_topics),
        ).fetchall():
            due[int(position)] = (bytes(chain_hash), f"cycle-closed {originator_id}")
        return due


class CheckpointFollower(Repeating):
    """A daemon thread that keeps checkpoints signed while a server runs (``okr serve``)."""

    def __init__(self, checkpointer: Checkpointer, poll_seconds: float = 2.0) -> None:
        super().__init__("chain-checkpoints", poll_seconds)
        self.checkpointer = checkpointer
        self.poll_seconds = poll_seconds

    def round(self) -> None:
        try:
            self.checkpointer.catch_up()
        except ChainTamperedError:
            log.exception("chain checkpoints stopped: the chain does not verify")


def checkpointer_for(recorder: ApplicationRecorder, settings: Settings) -> Checkpointer:
    """The checkpointer configured by ``settings`` (it signs nothing without a key)."""
    return Checkpointer(recorder, load_signing_key(settings), settings.audit_checkpoint_interval)


def start_checkpoint_follower(
    recorder: ApplicationRecorder, settings: Settings
) -> CheckpointFollower | None:
    """Start signing checkpoints in the background, if a signing key is configured."""
    checkpointer = checkpointer_for(recorder, settings)
    if checkpointer.key is None:
        log.warning("no audit signing key: chain checkpoints are not signed (okr audit init-key)")
        return None
    follower = CheckpointFollower(checkpointer)
    follower.start()
    return follower

"""Reading the hash chain: its head, time ↔ position, and verifying it against the events.

Links live in ``<events_table>_chain`` (written by :mod:`infra.chain`'s recorder), one row per
notification::

    position       bigint PRIMARY KEY   -- the event's notification id
    prev_position  bigint NOT NULL      -- the previous link's position (0 before the first)
    committed_at   timestamptz NOT NULL -- database time under the insert lock, never decreasing
    hash           bytea NOT NULL       -- infra.chainhash.link_hash(previous hash, event...)

``prev_position`` is not hashed; it only lets the verifier tell a removed link (a deletion) from
a legitimate gap, because notification ids skip the values consumed by rolled-back inserts.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from psycopg.rows import TupleRow, tuple_row
from psycopg.sql import SQL, Composed, Identifier

from infra.chainhash import GENESIS_HASH, link_hash
from infra.verifications import VERIFICATIONS

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from eventsourcing.persistence import ApplicationRecorder
    from eventsourcing.postgres import PostgresDatastore
    from psycopg import Connection

GENESIS_POSITION = 0
"""The ``prev_position`` of the first link."""

VERIFY_PAGE_SIZE = 5000

ChainProblem = Literal["edited", "deleted", "inserted", "reordered"]


def chain_table_name(events_table_name: str) -> str:
    """The chain table that accompanies an events table."""
    return f"{events_table_name}_chain"


@dataclass(frozen=True)
class ChainHead:
    """The last link of the chain."""

    position: int
    hash: bytes
    committed_at: datetime


@dataclass(frozen=True)
class ChainReport:
    """The outcome of :func:`verify_chain`.

    ``count``, ``head_position`` and ``head_hash`` describe the links verified before the first
    problem (all of them when ``ok``; ``None`` head when none were). ``problem`` and ``position``
    locate the first disagreement between the stored events and the chain:

    - ``edited``: the event (or its link) at ``position`` no longer hashes to its stored link;
    - ``deleted``: the event at ``position`` is missing (its link remains, or the next link
      points back to it);
    - ``inserted``: the event at ``position`` has no link, or its link is not part of the chain;
    - ``reordered``: the event at ``position`` hashes correctly at a later position, i.e. rows'
      notification ids were swapped.
    """

    ok: bool
    count: int
    head_position: int | None
    head_hash: bytes | None
    problem: ChainProblem | None = None
    position: int | None = None
    detail: str = ""


class ChainReader:
    """Read-side queries over an events table's chain: time ↔ position, head, verification."""

    def __init__(self, datastore: PostgresDatastore, events_table_name: str) -> None:
        self.datastore = datastore
        self.events_table_name = events_table_name
        self.chain_table_name = chain_table_name(events_table_name)
        schema = Identifier(datastore.schema)
        self.qualified_events = Composed([schema, SQL("."), Identifier(events_table_name)])
        self.qualified_chain = Composed([schema, SQL("."), Identifier(self.chain_table_name)])

    @classmethod
    def for_recorder(cls, recorder: ApplicationRecorder) -> ChainReader:
        """The reader for an application's recorder, which must be the chained one
        (:class:`infra.chain.ChainedApplicationRecorder`, whose ``chain`` is its reader)."""
        chain = getattr(recorder, "chain", None)
        if not isinstance(chain, ChainReader):
            msg = f"{type(recorder).__name__} does not keep a hash chain"
            raise TypeError(msg)
        return chain

    def head(self) -> ChainHead | None:
        """The last link, or ``None`` while the log is empty."""
        row = self._fetchone(
            SQL("SELECT position, hash, committed_at FROM {} ORDER BY position DESC LIMIT 1"),
        )
        return None if row is None else ChainHead(row[0], bytes(row[1]), row[2])

    def position_at(self, instant: datetime) -> int | None:
        """The last position committed at or before ``instant`` (``None`` if nothing was)."""
        if instant.tzinfo is None:
            msg = "instant must be timezone-aware"
            raise ValueError(msg)
        row = self._fetchone(
            SQL(
                "SELECT position FROM {} WHERE committed_at <= %s "
                "ORDER BY committed_at DESC, position DESC LIMIT 1"
            ),
            (instant,),
        )
        return None if row is None else int(row[0])

    def hash_at(self, position: int) -> bytes:
        """The chain hash at ``position``: the link at the greatest position at or below it
        (a position in a gap of rolled-back ids has its predecessor's), ``GENESIS_HASH`` at 0
        and before the first link. One backward step on the primary key."""
        row = self._fetchone(
            SQL("SELECT hash FROM {} WHERE position <= %s ORDER BY position DESC LIMIT 1"),
            (position,),
        )
        return GENESIS_HASH if row is None else bytes(row[0])

    def committed_at(self, position: int) -> datetime | None:
        """When the event at ``position`` was committed (``None`` if there is no such link)."""
        row = self._fetchone(SQL("SELECT committed_at FROM {} WHERE position = %s"), (position,))
        return None if row is None else row[0]

    def _fetchone(self, query: SQL, params: tuple[Any, ...] = ()) -> TupleRow | None:
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row) as curs,
        ):
            return curs.execute(query.format(self.qualified_chain), params, prepare=True).fetchone()


def verify_chain(
    chain: ChainReader,
    *,
    from_position: int | None = None,
    to_position: int | None = None,
    page_size: int = VERIFY_PAGE_SIZE,
    record: bool = True,
) -> ChainReport:
    """Recompute the chain from the stored events and report the first disagreement.

    Reads one consistent snapshot, streaming both tables through server-side cursors in pages of
    ``page_size`` rows. With ``from_position``, the range is linked to the stored link before it.
    The outcome is this process's last verification (``infra.verifications``) unless ``record``
    is off (a caller that adds to the verdict records it).
    """
    with chain.datastore.get_connection() as conn, conn.transaction(force_rollback=True):
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
        report = _Verification(conn, chain, from_position, to_position, page_size).run()
    if record:
        VERIFICATIONS.record(report.ok, report.head_position, report.problem)
    return report


class _Verification:
    def __init__(
        self,
        conn: Connection[Any],
        chain: ChainReader,
        from_position: int | None,
        to_position: int | None,
        page_size: int,
    ) -> None:
        self.conn = conn
        self.chain = chain
        self.page_size = page_size
        self.low = from_position if from_position is not None else GENESIS_POSITION + 1
        self.high = to_position
        self.count = 0
        self.prev_position = GENESIS_POSITION
        self.prev_hash = GENESIS_HASH
        self.prev_time: datetime | None = None

    def run(self) -> ChainReport:
        anchor = (
            self.conn.cursor(row_factory=tuple_row)
            .execute(
                SQL(
                    "SELECT position, hash, committed_at FROM {} WHERE position < %s "
                    "ORDER BY position DESC LIMIT 1"
                ).format(self.chain.qualified_chain),
                (self.low,),
            )
            .fetchone()
        )
        if anchor is not None:
            self.prev_position, self.prev_hash, self.prev_time = anchor[0], anchor[1], anchor[2]
        with (
            self._stream(
                "okr_verify_events",
                "SELECT notification_id, originator_id, originator_version, topic, state FROM {} ",
                self.chain.qualified_events,
                "notification_id",
            ) as events,
            self._stream(
                "okr_verify_links",
                "SELECT position, prev_position, hash, committed_at FROM {} ",
                self.chain.qualified_chain,
                "position",
            ) as links,
        ):
            return self._merge(events, links)

    def _merge(self, events: Iterator[TupleRow], links: Iterator[TupleRow]) -> ChainReport:
        event = next(events, None)
        link = next(links, None)
        while event is not None or link is not None:
            if link is None or (event is not None and event[0] < link[0]):
                assert event is not None
                return self._fail("inserted", event[0], "the event has no chain link")
            if event is None or link[0] < event[0]:
                return self._fail("deleted", link[0], "the chain link has no event")
            problem = self._check(event, link)
            if problem is not None:
                return problem
            self.count += 1
            self.prev_position, self.prev_hash, self.prev_time = link[0], link[2], link[3]
            event = next(events, None)
            link = next(links, None)
        return self._report()

    def _check(self, event: TupleRow, link: TupleRow) -> ChainReport | None:
        position, prev_position, stored_hash, committed_at = link
        if prev_position > self.prev_position:
            return self._fail(
                "deleted",
                prev_position,
                f"link {position} follows position {prev_position}, which is gone",
            )
        if prev_position < self.prev_position:
            return self._fail(
                "inserted",
                self.prev_position,
                f"link {position} follows position {prev_position}, "
                f"so position {self.prev_position} was not in the chain",
            )
        _, originator_id, version, topic, state = event
        if topic is None or state is None:
            return self._fail("edited", position, "the event's topic or state is NULL")
        expected = link_hash(self.prev_hash, position, str(originator_id), version, topic, state)
        if expected != stored_hash:
            original = self._original_position(event, position, stored_hash)
            if original is not None:
                return self._fail(
                    "reordered",
                    position,
                    f"the event at {position} was chained at position {original}",
                )
            return self._fail("edited", position, "the event does not match its chain link")
        if self.prev_time is not None and committed_at < self.prev_time:
            return self._fail("edited", position, "commit time earlier than the previous link's")
        return None

    def _original_position(self, event: TupleRow, after: int, after_hash: bytes) -> int | None:
        """Search the later links for one this event hashes to (a swapped position)."""
        _, originator_id, version, topic, state = event
        prev_hash = after_hash
        with self._stream(
            "okr_verify_search",
            "SELECT position, hash FROM {} ",
            self.chain.qualified_chain,
            "position",
            low=after + 1,
        ) as links:
            for position, stored_hash in links:
                if link_hash(prev_hash, position, str(originator_id), version, topic, state) == (
                    stored_hash
                ):
                    return int(position)
                prev_hash = stored_hash
        return None

    @contextmanager
    def _stream(
        self,
        name: str,
        select: str,
        table: Composed,
        key: str,
        *,
        low: int | None = None,
    ) -> Iterator[Iterator[TupleRow]]:
        column = Identifier(key)
        query = SQL(select).format(table) + SQL("WHERE {} >= %s").format(column)
        params: list[int] = [self.low if low is None else low]
        if self.high is not None:
            query += SQL(" AND {} <= %s").format(column)
            params.append(self.high)
        query += SQL(" ORDER BY {}").format(column)
        with self.conn.cursor(name, row_factory=tuple_row) as cursor:
            cursor.itersize = self.page_size
            cursor.execute(query, params)
            yield iter(cursor)

    def _report(
        self, problem: ChainProblem | None = None, position: int | None = None, detail: str = ""
    ) -> ChainReport:
        """The links verified so far, and the first problem if there is one."""
        verified = self.count > 0
        return ChainReport(
            ok=problem is None,
            count=self.count,
            head_position=self.prev_position if verified else None,
            head_hash=self.prev_hash if verified else None,
            problem=problem,
            position=position,
            detail=detail,
        )

    def _fail(self, problem: ChainProblem, position: int, detail: str) -> ChainReport:
        return self._report(problem, position, detail)

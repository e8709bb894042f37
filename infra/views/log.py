"""Reading the notification log as `Logged` events: pages, with database commit times.

Every read side folds `Logged(position, recorded_at, event)`, where `recorded_at` is the commit
time the hash chain recorded under the insert lock (so "as of an instant" and a fold's "now"
agree with the log order). Pages select the events and their chain links in one query.

Decoding goes through a fast path equivalent to eventsourcing's mapper for this application's
JSON transcoder (orjson, then the few typed values), and falls back to the mapper itself for
anything else: ciphers, compression, upcasting, unknown transcodings.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
import orjson
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import resolve_topic
from psycopg import Connection
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from domain.base import OkrAggregate
from infra.chain import chain_table_name
from infra.views.codec import new_uuid_from_hex, uuid_from_hex
from infra.views.event_structs import TRANSCODINGS, UNIQUE_IDS, event_shape
from projections.base import Logged
from projections.catalogue import CATALOGUE

Row = tuple[int, UUID, int, str, bytes, datetime | None]
"""notification_id, originator_id, originator_version, topic, state, committed_at."""

DEFAULT_PAGE = 5000
INTERNED = 50_000
"""Ids interned in one generation: when a generation is full, the next one starts and the one
before it is dropped (its ids met again are carried over), so the tables hold the ids in use
(the open cycles' objectives and key results, the people) and not every id the log ever named."""


class _Fallback(Exception):
    """The fast path does not apply to this event: use the mapper."""


class EventDecoder:
    """Stored events → domain events, as `mapper.to_domain_event` does, only faster."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        self.mapper = mapper
        transcoder = mapper.transcoder
        # The personal-data mapper (infra.audit) decrypts some topics and is the plain mapper
        # for every other one; any other mapper subclass gets no fast path.
        personal = getattr(mapper, "personal_fields", None)
        self.slow_topics = set(personal or ())
        self.fast = (
            mapper.cipher is None
            and mapper.compressor is None
            and isinstance(transcoder, JSONTranscoder)
            and (type(mapper) is Mapper or personal is not None)
        )
        self.names = set(transcoder.names) if isinstance(transcoder, JSONTranscoder) else set()
        self._fast: dict[str, type[Any]] = {}
        """Topics whose events take the fast path, and their classes."""
        self._slow: set[str] = set()
        self._ids: dict[int, UUID] = {}
        self._hex: dict[str, UUID] = {}
        self._older: dict[int, UUID] = {}
        """The previous generation of `_ids` (see `INTERNED`)."""
        self.typed = self.fast and self.names >= TRANSCODINGS
        """Catalogued events decode through typed structs (msgspec) first."""
        self._typed: dict[type[Any], Any] = {}
        """Event class → (msgspec decoder, converter), or False: no typed decoding."""

    def decode(self, originator_id: UUID, version: int, topic: str, state: bytes) -> Any:
        cls = self._fast.get(topic)
        if cls is None and topic not in self._slow:
            cls = self._learn(topic)
        if cls is not None:
            data: dict[str, Any] | None = None
            typed = self._typed.get(cls)
            if typed is None:
                typed = self._typed[cls] = self._typed_decoder(cls)
            if typed is not False:
                # The event's msgspec struct (`infra.views.event_structs`); a state not in the
                # shape the struct expects takes the generic path.
                decoder, convert = typed
                try:
                    data = convert(decoder.decode(state))
                except (
                    msgspec.ValidationError,
                    msgspec.DecodeError,
                    _Fallback,
                    ValueError,
                    KeyError,
                ):
                    data = None
            if data is None:
                data = self._generic_data(state)
            if data is not None:
                data["originator_id"] = self.intern(originator_id)
                data["originator_version"] = version
                event = object.__new__(cls)
                object.__setattr__(event, "__dict__", data)
                return event
        return self.mapper.to_domain_event(StoredEvent(originator_id, version, topic, state))

    def _typed_decoder(self, cls: type[Any]) -> Any:
        if not self.typed or not CATALOGUE.has(cls):
            return False
        shape = event_shape(cls)  # type: ignore[arg-type]  # python/mypy#20409
        return shape.decoder, shape.converter(self._hex, self._uuid, new_uuid_from_hex, self.field)

    def _generic_data(self, state: bytes) -> dict[str, Any] | None:
        """The event's attributes from the JSON document, converted by shape (today's
        transcodings), or None when something needs the mapper."""
        try:
            data = orjson.loads(state)
            if type(data) is not dict or "class_version" in data:
                raise _Fallback
            field = self.field
            for key, value in data.items():
                kind = type(value)
                if kind is dict or kind is list:
                    data[key] = field(key, value)
        except (_Fallback, orjson.JSONDecodeError, ValueError, KeyError):
            return None
        return data

    def field(self, key: str, value: Any) -> Any:
        """A top-level attribute's value from its JSON form (a typed value, a container)."""
        if type(value) is dict and len(value) == 2 and "_type_" in value:
            name, text = value["_type_"], value["_data_"]
            # Ids seen before, here rather than in `_typed_value`: most typed values are ids of
            # objectives, key results and people met before.
            if name == "uuid_hex" and type(text) is str:
                found = self._hex.get(text)
                if found is not None:
                    return found
            return self._typed_value(name, text, key)
        if type(value) is dict or type(value) is list:
            return self._value(value)
        return value

    def _uuid(self, text: str) -> UUID:
        """An id met before (one object per id), as `field` gives for a `uuid_hex` value."""
        found = self._hex.get(text)
        if found is None:
            found = self._hex[text] = self.intern(uuid_from_hex(text))
        return found

    def _learn(self, topic: str) -> type[Any] | None:
        """The class of `topic`'s events if they can take the fast path (noted either way)."""
        cls: type[Any] = resolve_topic(topic)
        if self.fast and topic not in self.slow_topics and getattr(cls, "class_version", 1) == 1:
            self._fast[topic] = cls
            return cls
        self._slow.add(topic)
        return None

    def intern(self, value: UUID) -> UUID:
        """One object per id: dictionaries keyed by ids then match by identity, without
        calling `UUID.__eq__` (a Python function) on every lookup. Looked up by the id's number,
        whose hash is C (`UUID.__hash__` is a Python function too)."""
        number = value.int
        found = self._ids.get(number)
        if found is None:
            if len(self._ids) >= INTERNED:
                self._older = self._ids
                self._ids = {}
                self._hex.clear()  # the converters hold this dict: emptied, not replaced
            found = self._ids[number] = self._older.get(number) or value
        return found

    def _value(self, value: Any) -> Any:
        kind = type(value)
        if kind is dict:
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                return self._typed_value(value["_type_"], value["_data_"], "")
            return {k: self._value(v) for k, v in value.items()}
        if kind is list:
            return [self._value(v) for v in value]
        return value

    def _typed_value(self, name: str, data: Any, key: str) -> Any:
        if type(data) is not str or name not in self.names:
            raise _Fallback
        if name == "uuid_hex":
            if key in UNIQUE_IDS:
                return new_uuid_from_hex(data)
            return self._uuid(data)
        if name == "datetime_iso":
            return datetime.fromisoformat(data)
        if name == "date_iso":
            return date.fromisoformat(data)
        if name == "decimal_str":
            return Decimal(data)
        raise _Fallback


class LogReader:
    """Pages of the log (events joined with their chain links) as `Logged` events."""

    def __init__(self, recorder: PostgresApplicationRecorder, mapper: Mapper[Any]) -> None:
        self.datastore: PostgresDatastore = recorder.datastore
        self.decoder = EventDecoder(mapper)
        schema = Identifier(self.datastore.schema)
        self.events_table = Composed([schema, SQL("."), Identifier(recorder.events_table_name)])
        self.chain_table = Composed(
            [schema, SQL("."), Identifier(chain_table_name(recorder.events_table_name))]
        )
        self.channel_name = recorder.channel_name
        self.select = select = SQL(
            "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state, "
            "c.committed_at FROM {events} e LEFT JOIN {chain} c ON c.position = e.notification_id "
        ).format(events=self.events_table, chain=self.chain_table)
        self._page = select + SQL(
            "WHERE e.notification_id > %s AND e.notification_id <= %s "
            "ORDER BY e.notification_id LIMIT %s"
        )
        self._of_originators = select + SQL(
            "WHERE e.originator_id = ANY(%s) AND e.notification_id > %s "
            "AND e.notification_id <= %s ORDER BY e.notification_id"
        )
        self._max = SQL("SELECT max(notification_id) FROM {}").format(self.events_table)
        self._committed = SQL("SELECT committed_at FROM {} WHERE position = %s").format(
            self.chain_table
        )
        self._ids_of_topics = SQL(
            "SELECT DISTINCT originator_id FROM {} WHERE notification_id > %s "
            "AND notification_id <= %s AND topic = ANY(%s) AND originator_id = ANY(%s)"
        ).format(self.events_table)
        self._ids_between = SQL(
            "SELECT DISTINCT originator_id FROM {} WHERE notification_id > %s "
            "AND notification_id <= %s"
        ).format(self.events_table)

    # ------------------------------------------------------------------ rows

    def logged(self, rows: Sequence[Row]) -> list[Logged]:
        decode = self.decoder.decode
        out: list[Logged] = []
        converted: tuple[datetime, datetime] | None = None  # the latest commit time, zoned and UTC
        for position, originator_id, version, topic, state, committed_at in rows:
            event: OkrAggregate.Event = decode(originator_id, version, topic, bytes(state))
            if committed_at is None:
                committed_at = event.timestamp
            elif committed_at.tzinfo is not UTC:
                # The session's zone (e.g. ZoneInfo('Etc/UTC')): one fixed zone everywhere,
                # which orjson also writes much faster than a ZoneInfo. The events of one
                # commit share its time: converted once, and then one object for all of them.
                if (
                    converted is None
                    or committed_at != converted[0]
                    or committed_at.fold != converted[0].fold
                ):
                    converted = (committed_at, committed_at.astimezone(UTC))
                committed_at = converted[1]
            out.append(Logged(position, committed_at, event))
        return out

    def page_rows(self, conn: Connection[Any], after: int, up_to: int, limit: int) -> list[Row]:
        with conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(self._page, (after, up_to, limit), prepare=True)
            return curs.fetchall()

    # --------------------------------------------------------------- queries

    def head(self, conn: Connection[Any] | None = None) -> int:
        """The last position in the log (0 when empty)."""
        with self._connection(conn) as c, c.cursor(row_factory=tuple_row) as curs:
            row = curs.execute(self._max).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def page(self, after: int, limit: int = DEFAULT_PAGE, up_to: int | None = None) -> list[Logged]:
        with self._connection(None) as conn:
            return self.logged(self.page_rows(conn, after, _top(up_to), limit))

    def pages(
        self, after: int, up_to: int | None = None, page_size: int = DEFAULT_PAGE
    ) -> Iterator[list[Logged]]:
        """Every event in (after, up_to], page by page."""
        top = _top(up_to)
        while True:
            page = self.page(after, page_size, top)
            if not page:
                return
            yield page
            after = page[-1].position
            if len(page) < page_size:
                return

    def of_originators(
        self, ids: Sequence[UUID], after: int, up_to: int, conn: Connection[Any] | None = None
    ) -> list[Logged]:
        """The events of these aggregates in (after, up_to], in log order."""
        if not ids:
            return []
        with self._connection(conn) as c, c.cursor(row_factory=tuple_row) as curs:
            curs.execute(self._of_originators, (list(ids), after, up_to))
            return self.logged(curs.fetchall())

    def originators_with(
        self,
        topics: Sequence[str],
        ids: Sequence[UUID],
        after: int,
        up_to: int,
        conn: Connection[Any] | None = None,
    ) -> set[UUID]:
        """Which of `ids` have an event of one of `topics` in (after, up_to]."""
        if not ids or after >= up_to:
            return set()
        with self._connection(conn) as c, c.cursor(row_factory=tuple_row) as curs:
            curs.execute(self._ids_of_topics, (after, up_to, list(topics), list(ids)))
            return {row[0] for row in curs.fetchall()}

    def originators_between(
        self, after: int, up_to: int, conn: Connection[Any] | None = None
    ) -> set[UUID]:
        """Every aggregate with an event in (after, up_to]."""
        if after >= up_to:
            return set()
        with self._connection(conn) as c, c.cursor(row_factory=tuple_row) as curs:
            curs.execute(self._ids_between, (after, up_to))
            return {row[0] for row in curs.fetchall()}

    def committed_at(self, position: int, conn: Connection[Any] | None = None) -> datetime | None:
        if position <= 0:
            return None
        with self._connection(conn) as c, c.cursor(row_factory=tuple_row) as curs:
            row = curs.execute(self._committed, (position,), prepare=True).fetchone()
        return row[0] if row else None

    def _connection(self, conn: Connection[Any] | None) -> Any:
        if conn is not None:
            return _Borrowed(conn)
        return self.datastore.get_connection()


def _top(up_to: int | None) -> int:
    return up_to if up_to is not None else 2**62


class _Borrowed:
    """A caller's connection used as a context manager without closing it."""

    def __init__(self, conn: Connection[Any]) -> None:
        self.conn = conn

    def __enter__(self) -> Connection[Any]:
        return self.conn

    def __exit__(self, *args: object) -> None:
        return None

"""The SQL of the hash-chained recorder (:mod:`infra.chain`), composed once per events table.

- the chain table and its time index;
- the chained insert: one statement that inserts a save's events and their links, hashed by the
  server exactly as :func:`infra.chainhash.link_hash` specifies;
- ``<events>_insert_chained``: a function that takes the table lock, queues the ``NOTIFY`` and
  runs the chained insert, so that a lone save is one ``SELECT`` in autocommit; and its calls;
  its variant that first refuses the save if another aggregate has moved on (the condition of
  a command decided on a cached aggregate it does not write);
- the bulk insert of a large save (ids and hashes made by the client);
- the read of several aggregates' events after given versions.

Every statement names the same tables; :meth:`ChainStatements.sql` fills them in.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from typing import TYPE_CHECKING, LiteralString

from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Composable, Composed, Identifier
from psycopg.sql import Literal as SQLLiteral

from infra.chain_reader import GENESIS_POSITION, chain_table_name
from infra.chainhash import GENESIS_HASH

if TYPE_CHECKING:
    from collections.abc import Callable

    from psycopg.abc import AdaptContext

SCALAR_PARAMETERS = 8
"""A lone save of at most this many events, and a read of at most this many aggregates' new
events, send scalar parameters rather than lists (whose dumping costs more on the client)."""


def insert_function_name(events_table_name: str) -> str:
    """The name of the function that commits a lone save to an events table (in one
    statement): ``<events>_insert_chained``, or a name made from a hash of the table's when
    that would not fit an identifier (any table name that leaves room for ``_chain`` works)."""
    name = f"{events_table_name}_insert_chained"
    if len(name) <= PostgresApplicationRecorder.MAX_IDENTIFIER_LEN:
        return name
    return "okr_insert_chained_" + hashlib.sha256(events_table_name.encode()).hexdigest()[:32]


class ChainStatements:
    """The statements of one events table (in ``schema``) and its chain table."""

    def __init__(
        self,
        schema: str,
        events_table_name: str,
        *,
        originator_id_type: str,
        stored_event_type_name: str,
        channel_name: str,
    ) -> None:
        self.schema = schema
        self.events_table_name = events_table_name
        self.originator_id_type = originator_id_type
        self.channel_name = channel_name
        self.function_name = insert_function_name(events_table_name)
        self.names: dict[str, Composable] = {
            "schema": Identifier(schema),
            "events_table": Identifier(events_table_name),
            "chain": Identifier(chain_table_name(events_table_name)),
            "function": Identifier(self.function_name),
            "id_type": SQL(originator_id_type),
            "stored_event_type": Identifier(stored_event_type_name),
        }
        """What the statements name, by the placeholder that names it."""
        self.qualified_chain = self.sql("{schema}.{chain}")
        self._function_calls: dict[int, bytes] = {}
        self._unchanged_calls: dict[int, bytes] = {}
        self._selects_after: dict[int, bytes] = {}

    def sql(self, text: LiteralString, **values: Composable) -> Composed:
        """``text`` with this table's names (``{schema}``, ``{events_table}``, ``{chain}``,
        ``{function}``, ``{id_type}``, ``{stored_event_type}``) and ``values`` filled in."""
        return SQL(text).format(**self.names, **values)

    @cached_property
    def create_chain_table(self) -> Composed:
        return self.sql(
            "CREATE TABLE IF NOT EXISTS {schema}.{chain} ("
            "position bigint PRIMARY KEY, "
            "prev_position bigint NOT NULL, "
            "committed_at timestamptz NOT NULL, "
            "hash bytea NOT NULL, "
            "imported boolean NOT NULL DEFAULT false)"
        )

    @cached_property
    def create_chain_time_index(self) -> Composed:
        index = Identifier(f"{chain_table_name(self.events_table_name)}_time_idx")
        return self.sql(
            "CREATE INDEX IF NOT EXISTS {index} ON {schema}.{chain} (committed_at, position)",
            index=index,
        )

    @cached_property
    def chained_insert(self) -> Composed:
        """The chained insert (:meth:`chained_insert_of`) with its values as parameters:
        ``events`` (a composite array), ``genesis``, ``imported``, ``imported_at``."""
        return self.chained_insert_of(
            events=self.sql("unnest(%(events)s::{schema}.{stored_event_type}[])"),
            genesis=SQL("%(genesis)s"),
            imported=SQL("%(imported)s"),
            imported_at=SQL("%(imported_at)s::timestamptz"),
        )

    def chained_insert_of(
        self,
        *,
        events: Composable,
        genesis: Composable,
        imported: Composable,
        imported_at: Composable,
    ) -> Composed:
        """One statement that inserts the events and their chain links, hashed by the server.

        It runs after ``LOCK TABLE``, so no other writer can move the chain head it reads. The
        links are hashed in SQL with the byte layout of :func:`infra.chainhash.link_hash`
        (``int8send``/``int4send`` are big-endian; lengths stay far below 2**31), folded in
        notification-id order by a recursive query, and inserted with one clock reading floored
        at the head's time. Writing the links costs no round trip of its own while the table
        is locked. The statement's own rows are the new notification ids.

        ``events`` (rows of originator id, version, topic and state, in the save's order),
        ``genesis``, ``imported`` and ``imported_at`` say where the values come from: the
        statement's parameters (:attr:`chained_insert`), or the arguments of the one-statement
        commit's function (:attr:`insert_function`).
        """
        return self.sql(
            "WITH RECURSIVE "
            "head AS (SELECT position, hash, committed_at FROM {schema}.{chain} "
            "ORDER BY position DESC LIMIT 1), "
            "ins AS (INSERT INTO {schema}.{events_table} AS t "
            "(originator_id, originator_version, topic, state) "
            "SELECT originator_id, originator_version, topic, state "
            "FROM {events} "
            "RETURNING notification_id, originator_id, "
            "originator_version, topic, state), "
            "body AS (SELECT array_agg(notification_id ORDER BY notification_id) AS ids, "
            "array_agg("
            "int8send(notification_id) "
            "|| int4send(octet_length(convert_to(originator_id::text, 'UTF8'))) "
            "|| convert_to(originator_id::text, 'UTF8') "
            "|| int8send(originator_version) "
            "|| int4send(octet_length(convert_to(topic, 'UTF8'))) "
            "|| convert_to(topic, 'UTF8') "
            "|| int8send(octet_length(state)) || state "
            "ORDER BY notification_id) AS bodies FROM ins), "
            "links (n, position, prev_position, hash) AS ("
            "SELECT 1, (SELECT ids[1] FROM body), "
            "COALESCE((SELECT position FROM head), {genesis_position}), "
            "sha256(COALESCE((SELECT hash FROM head), {genesis}) "
            "|| (SELECT bodies[1] FROM body)) "
            "UNION ALL "
            "SELECT l.n + 1, (SELECT ids FROM body)[l.n + 1], l.position, "
            "sha256(l.hash || (SELECT bodies FROM body)[l.n + 1]) "
            "FROM links l WHERE l.n < (SELECT cardinality(ids) FROM body)) "
            "INSERT INTO {schema}.{chain} (position, prev_position, committed_at, hash, imported) "
            "SELECT l.position, l.prev_position, t.committed_at, l.hash, {imported} "
            "FROM links l CROSS JOIN (SELECT GREATEST("
            "COALESCE({imported_at}, clock_timestamp()), "
            "(SELECT committed_at FROM head)) AS committed_at) AS t "
            "RETURNING position AS notification_id",
            events=events,
            genesis=genesis,
            imported=imported,
            imported_at=imported_at,
            genesis_position=SQLLiteral(GENESIS_POSITION),
        )

    @cached_property
    def insert_function(self) -> Composed:
        """The one-statement commit of a lone save: a function that takes the table lock
        (with the recorder's lock timeout), queues the ``NOTIFY`` and runs the chained insert
        (:meth:`chained_insert_of`), so that ``SELECT`` of it in autocommit is the whole
        transaction: one statement, the commit at its end, and none of the client's
        ``BEGIN``, ``LOCK``, ``NOTIFY`` and ``COMMIT`` statements. A save in a batch calls
        it in its savepoint too (the lock is then held already, and the batch's ``NOTIFY``
        sent). The events come as four typed arrays (in binary, or built from scalar
        parameters), not as a composite array in text.
        Its body names only these tables, never a setting, so every process creates the same
        function (under the recorder's creation lock)."""
        return self._insert_function(unchanged=False)

    @cached_property
    def insert_function_unchanged(self) -> Composed:
        """:attr:`insert_function` with a condition (the same name, two more arguments): the
        save is refused, as a stale version is (``unique_violation``, an ``IntegrityError``),
        when the aggregate ``_unchanged_id`` has events after ``_unchanged_version``. Checked
        under the table lock, so no other save can move it on before the commit: a command
        decided on an aggregate it did not write (an objective's cycle, as cached) commits
        only if that aggregate is still as it saw it."""
        return self._insert_function(unchanged=True)

    def _insert_function(self, *, unchanged: bool) -> Composed:
        insert = self.chained_insert_of(
            events=SQL(
                "unnest(_originator_ids, _versions, _topics, _states) "
                "AS e(originator_id, originator_version, topic, state)"
            ),
            genesis=SQLLiteral(GENESIS_HASH),
            imported=SQL("_imported_at IS NOT NULL"),
            imported_at=SQL("_imported_at"),
        )
        condition: Composable = SQL("")
        arguments: Composable = SQL("")
        if unchanged:
            arguments = self.sql(", _unchanged_id {id_type}, _unchanged_version bigint")
            condition = self.sql(
                "IF EXISTS (SELECT 1 FROM {schema}.{events_table} "
                "WHERE originator_id = _unchanged_id "
                "AND originator_version > _unchanged_version) THEN "
                "RAISE unique_violation USING MESSAGE = 'aggregate ' || _unchanged_id "
                "|| ' has moved on from version ' || _unchanged_version; "
                "END IF; "
            )
        return self.sql(
            "CREATE OR REPLACE FUNCTION {schema}.{function}("
            "_originator_ids {id_type}[], _versions bigint[], _topics text[], _states bytea[], "
            "_imported_at timestamptz, _lock_timeout text{arguments}) "
            "RETURNS SETOF bigint LANGUAGE plpgsql AS $okr$ BEGIN "
            "PERFORM set_config('lock_timeout', _lock_timeout, true); "
            "LOCK TABLE {schema}.{events_table} IN EXCLUSIVE MODE; "
            "{condition}"
            "PERFORM pg_notify({channel}, ''); "
            "RETURN QUERY {insert}; "
            "END $okr$",
            channel=SQLLiteral(self.channel_name),
            insert=insert,
            arguments=arguments,
            condition=condition,
        )

    def insert_function_call(
        self, events: int, context: AdaptContext, *, unchanged: bool = False
    ) -> bytes:
        """The call of :attr:`insert_function` for a save of ``events`` events: the arrays
        built from scalar parameters up to ``SCALAR_PARAMETERS`` events (psycopg dumps a
        scalar in C; a list costs a Python-level element type search and dump per list),
        lists beyond. As bytes, rendered once (see :func:`_rendered_once`). With
        ``unchanged``, the call of :attr:`insert_function_unchanged` (two more parameters:
        the aggregate's id and version)."""
        if unchanged:
            return _rendered_once(
                self._unchanged_calls, events, self._function_call_unchanged, context
            )
        return _rendered_once(self._function_calls, events, self._function_call, context)

    def _function_call_unchanged(self, events: int) -> Composed:
        return self._function_call(events, self.sql(", %s::{id_type}, %s::bigint"))

    def _function_call(self, events: int, unchanged: Composable | None = None) -> Composed:
        arrays: Composable
        if events <= SCALAR_PARAMETERS:
            arrays = SQL(", ").join(
                SQL("ARRAY[{}]::{}[]").format(SQL(", ").join([SQL("%b")] * events), SQL(kind))
                for kind in (self.originator_id_type, "bigint", "text", "bytea")
            )
        else:
            arrays = SQL("%b, %b, %b, %b")
        return self.sql(
            "SELECT * FROM {schema}.{function}({arrays}, %s::timestamptz, %s{unchanged})",
            arrays=arrays,
            unchanged=unchanged if unchanged is not None else SQL(""),
        )

    @cached_property
    def bulk_head(self) -> Composed:
        """A bulk insert's ids (``%(n)s`` of them, taken from the events' sequence), with the
        chain head and the clock."""
        return self.sql(
            "SELECT h.position, h.hash, h.committed_at, clock_timestamp() AS now, "
            "ARRAY(SELECT nextval(pg_get_serial_sequence({qualified_events}, 'notification_id')) "
            "FROM generate_series(1, %(n)s) ORDER BY 1) AS ids "
            "FROM (SELECT 1) AS one LEFT JOIN (SELECT position, hash, committed_at "
            "FROM {schema}.{chain} ORDER BY position DESC LIMIT 1) AS h ON true",
            qualified_events=SQLLiteral(f"{self.schema}.{self.events_table_name}"),
        )

    @cached_property
    def bulk_events(self) -> Composed:
        """A bulk insert's events, with their ids."""
        return self.sql(
            "INSERT INTO {schema}.{events_table} "
            "(notification_id, originator_id, originator_version, topic, state) "
            # Typed arrays in binary: no text escaping of the states.
            "SELECT * FROM unnest(%(ids)b::bigint[], %(originator_ids)b::{id_type}[], "
            "%(versions)b::bigint[], %(topics)b::text[], %(states)b::bytea[])"
        )

    @cached_property
    def bulk_links(self) -> Composed:
        """A bulk insert's links, hashed by the client."""
        return self.sql(
            "INSERT INTO {schema}.{chain} (position, prev_position, committed_at, hash, imported) "
            "SELECT position, prev_position, %(committed_at)s::timestamptz, hash, %(imported)s "
            "FROM unnest(%(positions)b::bigint[], %(prev_positions)b::bigint[], "
            "%(hashes)b::bytea[]) AS u(position, prev_position, hash)"
        )

    def select_after(self, aggregates: int, context: AdaptContext) -> bytes:
        """The read of ``aggregates`` aggregates' events after given versions: a ``VALUES``
        list of scalar parameters up to ``SCALAR_PARAMETERS``, two arrays beyond. As bytes,
        rendered once (see :func:`_rendered_once`)."""
        return _rendered_once(self._selects_after, aggregates, self._select_after, context)

    def _select_after(self, aggregates: int) -> Composed:
        after: Composable
        if aggregates <= SCALAR_PARAMETERS:
            after = SQL("(VALUES {}) AS a(id, version)").format(
                SQL(", ").join([self.sql("(%b::{id_type}, %b::bigint)")] * aggregates)
            )
        else:
            after = self.sql("unnest(%s::{id_type}[], %s::bigint[]) AS a(id, version)")
        return self.sql(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state "
            "FROM {after} "
            "JOIN {schema}.{events_table} AS e "
            "ON e.originator_id = a.id AND e.originator_version > a.version "
            "ORDER BY e.originator_id, e.originator_version",
            after=after,
        )


def _rendered_once(
    rendered: dict[int, bytes],
    size: int,
    make: Callable[[int], Composed],
    context: AdaptContext,
) -> bytes:
    """``make(size)`` as the bytes psycopg sends, rendered once per size (kept in
    ``rendered``) with the first connection that needs it: psycopg renders a composed
    statement anew on every execution, walking its parts (tens of microseconds for the
    statements of every command). The pool's connections share one client encoding."""
    statement = rendered.get(size)
    if statement is None:
        statement = rendered[size] = make(size).as_bytes(context)
    return statement

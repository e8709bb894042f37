"""A command's two statements sent at libpq level (`psycopg.pq`): the read of an objective's
and its cycle's new events, and the one-statement commit of a lone save.

psycopg's `Cursor.execute` costs tens of microseconds of Python per statement on top of libpq:
a cursor object, the query's conversion and its prepared-statement bookkeeping, a transformer
dumping each parameter by looking its type up, the result's loaders. A check-in sends two
statements whose shapes are fixed (scalar parameters of known types, a few rows back), so
:class:`DirectStatement` prepares each once per connection with its parameter types and sends
the parameters as binary bytes made here, and the rows come back in binary, read by the
caller. An error result is raised as psycopg raises it (`psycopg.errors.error_from_result`:
the same `UniqueViolation` for a stale version, inside the datastore's `get_connection`,
which maps it to eventsourcing's `IntegrityError` as before).

Used only on connections in autocommit with nothing else in flight (the pool's connections
for a lone read or a lone save); anything else keeps psycopg's cursor path."""

from __future__ import annotations

import re
import struct
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

from psycopg import errors, generators, pq
from psycopg.postgres import types

if TYPE_CHECKING:
    from psycopg import Connection

BINARY = pq.Format.BINARY
TEXT = pq.Format.TEXT

OID = {name: types[name].oid for name in ("uuid", "int8", "text", "bytea", "timestamptz")}
"""The parameter types the statements are prepared with."""

INT8 = struct.Struct(">q")
"""A `bigint` in PostgreSQL's binary format."""

_prepared: weakref.WeakKeyDictionary[Connection[object], set[bytes]] = weakref.WeakKeyDictionary()
"""The statements each connection has prepared (a connection the pool replaces is a new
object, so its statements are prepared again)."""

_PLACEHOLDER = re.compile(rb"%[bs]")


def numbered(query: bytes) -> bytes:
    """psycopg's ``%b``/``%s`` placeholders as PostgreSQL's ``$1``, ``$2``, ... (the statements
    hold no other ``%``)."""
    counter = iter(range(1, 1 << 16))
    return _PLACEHOLDER.sub(lambda _: b"$%d" % next(counter), query)


class DirectStatement:
    """One statement, prepared once per connection under ``name`` with ``param_types``."""

    def __init__(self, name: bytes, query: bytes, param_types: Sequence[int]) -> None:
        self.name = name
        self.query = numbered(query)
        self.param_types = list(param_types)

    def execute(
        self,
        conn: Connection[object],
        params: Sequence[bytes | None],
        formats: Sequence[int],
    ) -> pq.abc.PGresult:
        """Run the statement with ``params`` (in ``formats``) and answer its result (rows in
        binary); an error result is raised as psycopg's error."""
        prepared = _prepared.get(conn)
        if prepared is None:
            prepared = _prepared[conn] = set()
        if self.name not in prepared:
            self._prepare(conn, prepared)
        try:
            return self._execute(conn, params, formats)
        except errors.InvalidSqlStatementName:
            # psycopg deallocates every prepared statement of a connection after a rollback
            # or a DROP/ALTER it ran (`DEALLOCATE ALL`): the statement did not run; prepare it
            # again and run it.
            self._prepare(conn, prepared)
            return self._execute(conn, params, formats)

    def _prepare(self, conn: Connection[object], prepared: set[bytes]) -> None:
        pgconn = conn.pgconn
        pgconn.send_prepare(self.name, self.query, self.param_types)
        _checked(conn, conn.wait(generators.execute(pgconn)))
        prepared.add(self.name)

    def _execute(
        self, conn: Connection[object], params: Sequence[bytes | None], formats: Sequence[int]
    ) -> pq.abc.PGresult:
        pgconn = conn.pgconn
        pgconn.send_query_prepared(self.name, params, formats, BINARY)
        return _checked(conn, conn.wait(generators.execute(pgconn)))


def _checked(conn: Connection[object], results: list[pq.abc.PGresult]) -> pq.abc.PGresult:
    result = results[-1]
    if result.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
        raise errors.error_from_result(result, encoding=conn.info.encoding)
    return result

"""When each personal access token was last used: a small table beside the event store.

Last use is a heartbeat, not a decision, so it is no event (the history is for decisions):
each process writes a token's `last_used_at` at most once a minute (`INTERVAL`), an upsert
that also refuses to move the time by less than that, so many processes and many requests
cost one small write per token per minute. It is read by the token pages (`/tokens`,
`okr token list`); nothing is derived from it, and losing it loses nothing of the record.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from cachetools import TTLCache
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.utils import get_topic
from psycopg.sql import SQL

from domain.access import AccessToken
from domain.application import OkrLedger
from infra.tables import CreatedOnce, PerRecorder, execute, qualified

log = logging.getLogger(__name__)

INTERVAL = timedelta(minutes=1)
TABLE = "okrledger_token_use"


class TokenUse:
    """The `okrledger_token_use` table, on the event store's own connection pool."""

    def __init__(self, datastore: PostgresDatastore, table: str = TABLE) -> None:
        self.datastore = datastore
        self._table = qualified(datastore, table)
        self._written: TTLCache[UUID, bool] = TTLCache(
            maxsize=100_000, ttl=INTERVAL.total_seconds()
        )
        """The tokens whose use this process wrote within the last minute."""
        self._lock = threading.Lock()
        self._tables = CreatedOnce(
            datastore,
            self._table,
            SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                "token_id uuid PRIMARY KEY, last_used_at timestamptz NOT NULL)"
            ).format(self._table),
        )

    def touch(self, token_id: UUID, now: datetime | None = None) -> bool:
        """Note a use of the token; True when it was written (at most once a minute)."""
        with self._lock:
            if token_id in self._written:
                return False
            self._written[token_id] = True
        self._tables.ensure()
        written = execute(
            self.datastore,
            SQL(
                "INSERT INTO {table} (token_id, last_used_at) VALUES (%s, %s) "
                "ON CONFLICT (token_id) DO UPDATE SET last_used_at = EXCLUDED.last_used_at "
                "WHERE {table}.last_used_at <= EXCLUDED.last_used_at - %s"
            ).format(table=self._table),
            (token_id, now or datetime.now(UTC), INTERVAL),
        )
        return bool(written)

    def last_used(self, token_ids: list[UUID]) -> dict[UUID, datetime]:
        """When each of the tokens was last used (those never used are left out)."""
        if not token_ids:
            return {}
        self._tables.ensure()
        with self.datastore.get_connection() as conn:
            rows: list[Any] = conn.execute(
                SQL("SELECT token_id, last_used_at FROM {} WHERE token_id = ANY(%s)").format(
                    self._table
                ),
                (token_ids,),
            ).fetchall()
        return {row["token_id"]: row["last_used_at"] for row in rows}


token_use_of = PerRecorder(TokenUse)
"""The token-use table beside an application's PostgreSQL recorder (one per recorder); None
for other recorders (e.g. in memory), where last use is not kept."""


def note_use(recorder: object, token_id: UUID) -> None:
    """Note a request made with the token. A heartbeat: a failure to write it is logged and
    never fails the request."""
    store = token_use_of(recorder)
    if store is None:
        return
    try:
        store.touch(token_id)
    except Exception:
        log.warning("could not note the use of token %s", token_id, exc_info=True)


@dataclass(frozen=True)
class PersonalToken:
    """One of a person's tokens as their token page lists it."""

    id: UUID
    label: str
    created_at: datetime
    expires_at: datetime | None
    read_only: bool
    revoked: bool
    expired: bool
    last_used_at: datetime | None


def personal_tokens(ledger: OkrLedger, person_id: UUID) -> list[PersonalToken]:
    """The person's tokens, newest first, with their last use. Reads the log's `Issued` events
    (a page a person opens now and then; a read model is the step at scale)."""
    issued = get_topic(AccessToken.Issued)
    ids: list[UUID] = []
    start: int | None = None
    while True:
        page = ledger.recorder.select_notifications(
            start=start, limit=1000, topics=[issued], inclusive_of_start=start is None
        )
        for notification in page:
            event = ledger.mapper.to_domain_event(notification)
            if isinstance(event, AccessToken.Issued) and event.person_id == person_id:
                ids.append(event.originator_id)
        if len(page) < 1000:
            break
        start = page[-1].id
    store = token_use_of(ledger.recorder)
    used = store.last_used(ids) if store is not None else {}
    tokens = []
    for token_id in ids:
        token: AccessToken = ledger.repository.get(token_id)
        assert isinstance(token, AccessToken)
        tokens.append(
            PersonalToken(
                id=token.id,
                label=token.label,
                created_at=token.created_on,
                expires_at=token.expires_at,
                read_only=token.read_only,
                revoked=token.revoked,
                expired=token.expired(),
                last_used_at=used.get(token_id),
            )
        )
    return sorted(tokens, key=lambda t: t.created_at, reverse=True)

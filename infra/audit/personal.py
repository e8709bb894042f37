"""Personal data at the persistence edge: per-person keys, encrypted fields, erasure.

People's names and e-mail addresses are kept only in ``Person`` events, and there only as
AES-256-GCM ciphertext under a key of that person's own. The mapper encrypts those fields as it
stores an event and decrypts them as it reads one; ``domain/`` never sees a cipher. Forgetting a
person destroys their key (crypto-shredding): the stored events, and so the hash chain, stay
exactly as they were, but their personal fields can never be read again and decode to
"forgotten person #N".

Keys live in ``<app>_person_keys``::

    person_id         text PRIMARY KEY
    key               bytea            -- 32 random bytes; NULL once forgotten
    created_at        timestamptz
    forgotten_number  integer UNIQUE   -- N of "forgotten person #N" (a sequence), once forgotten
    forgotten_at      timestamptz

A personal field is stored as ``{"_pii_": "v1", "ct": base64(nonce ‖ ciphertext ‖ tag)}`` with
the person id and the field name as associated data, so a ciphertext cannot be moved to another
person or field. ``<app>_secrets`` holds the deployment's person-id secret when it is not
configured (see :meth:`PersonKeyStore.resolve_person_id_secret`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

import psycopg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Mapper, MapperDeserialisationError
from eventsourcing.utils import get_topic
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from domain.errors import NotFound
from domain.person import Person, forgotten_name
from projections.catalogue import CATALOGUE

if TYPE_CHECKING:
    from eventsourcing.domain import DomainEventProtocol
    from eventsourcing.persistence import Cipher, Compressor, StoredEvent, Transcoder
    from eventsourcing.postgres import PostgresDatastore

    from domain.application import OkrLedger
    from domain.base import CommandContext

log = logging.getLogger(__name__)

PERSONAL_FIELDS: Mapping[str, tuple[str, ...]] = {
    get_topic(event_class): fields for event_class, fields in CATALOGUE.personal_fields().items()
}
"""Event topic → the fields of that event that are personal data (the event catalogue's)."""

PLACEHOLDERS: Mapping[str, Callable[[int], str]] = {
    "name": forgotten_name,
    "email": lambda number: "",
    "subject": lambda number: "",
}
"""What each personal field reads as once its person is forgotten."""

_PERSON_TOPIC = get_topic(Person)
ENVELOPE_MARK = "_pii_"
ENVELOPE_VERSION = "v1"
_NONCE_SIZE = 12


class PersonalDataError(Exception):
    """Personal data cannot be stored or erased as asked."""


class PersonForgottenError(PersonalDataError):
    """New personal data for a person who has been forgotten."""


@dataclass(frozen=True)
class PersonKey:
    """A person's key, or the number they were given when it was destroyed."""

    key: bytes | None
    forgotten_number: int | None


class PersonKeyStore:
    """The per-person keys, and the deployment's person-id secret, in PostgreSQL."""

    def __init__(self, datastore: PostgresDatastore, prefix: str) -> None:
        self.datastore = datastore
        schema = Identifier(datastore.schema)
        self.table_name = f"{prefix}_person_keys"
        self.table = SQL("{}.{}").format(schema, Identifier(self.table_name))
        self.sequence = SQL("{}.{}").format(schema, Identifier(f"{prefix}_forgotten_person_seq"))
        self._sequence_name = f'"{datastore.schema}"."{prefix}_forgotten_person_seq"'
        self.secrets = SQL("{}.{}").format(schema, Identifier(f"{prefix}_secrets"))
        self.events_table = f"{prefix}_events"
        self._schema = datastore.schema

    def create_tables(self) -> None:
        statements = (
            SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                "person_id text PRIMARY KEY, "
                "key bytea, "
                "created_at timestamptz NOT NULL DEFAULT now(), "
                "forgotten_number integer UNIQUE, "
                "forgotten_at timestamptz, "
                "CHECK ((key IS NULL) = (forgotten_number IS NOT NULL)))"
            ).format(self.table),
            SQL("CREATE SEQUENCE IF NOT EXISTS {}").format(self.sequence),
            SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                "name text PRIMARY KEY, mode text NOT NULL, value bytea NOT NULL, "
                "created_at timestamptz NOT NULL DEFAULT now())"
            ).format(self.secrets),
        )
        with self.datastore.get_connection() as conn, conn.transaction():
            # CREATE ... IF NOT EXISTS races with a concurrent creator: serialise creators.
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))",
                (f"okrledger:create:{self._schema}.{self.table_name}",),
            )
            for statement in statements:
                conn.execute(statement)

    # -- keys

    def key_for_writing(self, person_id: UUID | str) -> bytes:
        """The person's key, created on first use; refused once they are forgotten."""
        fresh = AESGCM.generate_key(bit_length=256)
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            row = curs.execute(
                SQL(
                    "WITH added AS (INSERT INTO {t} (person_id, key) VALUES (%s, %s) "
                    "ON CONFLICT (person_id) DO NOTHING RETURNING key, forgotten_number) "
                    "SELECT key, forgotten_number FROM added UNION ALL "
                    "SELECT key, forgotten_number FROM {t} WHERE person_id = %s LIMIT 1"
                ).format(t=self.table),
                (str(person_id), fresh, str(person_id)),
                prepare=True,
            ).fetchone()
            if row is None:  # a concurrent writer created it after this statement's snapshot
                row = curs.execute(
                    SQL("SELECT key, forgotten_number FROM {} WHERE person_id = %s").format(
                        self.table
                    ),
                    (str(person_id),),
                ).fetchone()
        assert row is not None
        if row[0] is None:
            msg = f"person {person_id} has been forgotten: their personal data is not stored"
            raise PersonForgottenError(msg)
        return bytes(row[0])

    def lookup(self, person_id: UUID | str) -> PersonKey | None:
        row = self._one(
            SQL("SELECT key, forgotten_number FROM {} WHERE person_id = %s").format(self.table),
            (str(person_id),),
            prepare=True,
        )
        if row is None:
            return None
        return PersonKey(None if row[0] is None else bytes(row[0]), row[1])

    def destroy(self, person_id: UUID | str) -> int:
        """Destroy the person's key for good and return their number N (idempotent)."""
        row = self._one(
            SQL(
                "UPDATE {t} SET key = NULL, "
                "forgotten_number = COALESCE(forgotten_number, nextval(%s::regclass)), "
                "forgotten_at = COALESCE(forgotten_at, now()) "
                "WHERE person_id = %s RETURNING forgotten_number"
            ).format(t=self.table),
            (self._sequence_name, str(person_id)),
        )
        if row is None:
            msg = f"person {person_id} has no key: their personal data was stored unencrypted"
            raise PersonalDataError(msg)
        return int(row[0])

    def _one(
        self, query: Composed, params: tuple[Any, ...], *, prepare: bool | None = None
    ) -> tuple[Any, ...] | None:
        """The first row `query` answers (None for none), on a connection of the pool."""
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            return curs.execute(query, params, prepare=prepare).fetchone()

    def purge_dead_rows(self) -> bool:
        """VACUUM the key table, so the destroyed key's old row version leaves the live heap.

        Needs the table's owner; without the privilege autovacuum does it later (``False``).
        """
        try:
            with self.datastore.get_connection() as conn:
                conn.execute(SQL("VACUUM {}").format(self.table))
        except psycopg.Error as error:
            log.warning("could not VACUUM %s (autovacuum will): %s", self.table_name, error)
            return False
        return True

    # -- the person-id secret

    def resolve_person_id_secret(self, configured: bytes | None) -> bytes | None:
        """The secret that keys person ids in this store (``None``: public uuid5 ids).

        Recorded on first use and then fixed, because every stored person id depends on it:

        - ``configured``: the secret comes from configuration; only its fingerprint is stored,
          so a copy of the database alone cannot test e-mail addresses against person ids;
        - ``stored``: no secret was configured; the store made one and keeps it;
        - ``public``: uuid5 ids, for people registered before ids were keyed, or when the
          application's environment sets the secret to ``""`` (tests with fixed ids).
        """
        row = self._person_id_secret_row()
        if row is None:
            if configured == b"" or (configured is None and self._has_unkeyed_people()):
                mode, value = "public", b""
            elif configured is not None:
                mode, value = "configured", _fingerprint(configured)
            else:
                mode, value = "stored", os.urandom(32)
            with self.datastore.get_connection() as conn:
                conn.execute(
                    SQL(
                        "INSERT INTO {} (name, mode, value) VALUES ('person_id', %s, %s) "
                        "ON CONFLICT (name) DO NOTHING"
                    ).format(self.secrets),
                    (mode, value),
                )
            row = self._person_id_secret_row()  # ours, or a concurrent first starter's
        assert row is not None
        recorded, stored = row[0], bytes(row[1])
        if recorded == "configured":
            if configured is None or not hmac.compare_digest(_fingerprint(configured), stored):
                msg = (
                    "OKR_PERSON_ID_SECRET is missing or differs from the secret this store's "
                    "person ids were made with"
                )
                raise PersonalDataError(msg)
            return configured
        if recorded == "public" and configured in (None, b""):
            return None
        if recorded == "stored" and configured is None:
            return stored
        msg = f"this store's person ids were made without OKR_PERSON_ID_SECRET ({recorded})"
        raise PersonalDataError(msg)

    def _person_id_secret_row(self) -> tuple[str, bytes] | None:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            row = curs.execute(
                SQL("SELECT mode, value FROM {} WHERE name = 'person_id'").format(self.secrets)
            ).fetchone()
        return None if row is None else (str(row[0]), bytes(row[1]))

    def _has_unkeyed_people(self) -> bool:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            row = curs.execute(
                "SELECT to_regclass(%s)", (f'"{self._schema}"."{self.events_table}"',)
            ).fetchone()
            if row is None or row[0] is None:
                return False
            found = curs.execute(
                SQL("SELECT 1 FROM {}.{} WHERE topic = %s LIMIT 1").format(
                    Identifier(self._schema), Identifier(self.events_table)
                ),
                (get_topic(Person.Registered),),
            ).fetchone()
        return found is not None


def _fingerprint(secret: bytes) -> bytes:
    return hmac.new(secret, b"okrledger:person-id-secret:fingerprint", hashlib.sha256).digest()


# ---------------------------------------------------------------------------- the mapper


class PersonalDataMapper(Mapper[UUID]):
    """eventsourcing's mapper, encrypting the personal fields of person events per person."""

    def __init__(
        self,
        transcoder: Transcoder,
        compressor: Compressor | None = None,
        cipher: Cipher | None = None,
        *,
        keys: PersonKeyStore,
        personal_fields: Mapping[str, tuple[str, ...]] = PERSONAL_FIELDS,
    ) -> None:
        super().__init__(transcoder, compressor, cipher)
        self.keys = keys
        self.personal_fields = personal_fields

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        fields = self.personal_fields.get(get_topic(type(domain_event)))
        if not fields:
            if getattr(domain_event, "topic", None) == _PERSON_TOPIC:
                msg = "a snapshot of a person would store their personal data in clear"
                raise PersonalDataError(msg)
            return super().to_stored_event(domain_event)
        person_id = domain_event.originator_id
        aead = AESGCM(self.keys.key_for_writing(person_id))
        state = dict(vars(domain_event))
        for name in fields:
            state[name] = _seal(aead, person_id, name, state[name])
        sealed = object.__new__(type(domain_event))
        object.__setattr__(sealed, "__dict__", state)
        return super().to_stored_event(sealed)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        event = super().to_domain_event(stored_event)
        fields = self.personal_fields.get(stored_event.topic)
        if not fields:
            return event
        state: dict[str, Any] = event.__dict__
        sealed = [name for name in fields if _is_envelope(state.get(name))]
        if not sealed:
            return event  # stored before personal data was encrypted
        person_id = stored_event.originator_id
        key = self.keys.lookup(person_id)
        if key is None:
            msg = f"no key for person {person_id}: their personal data cannot be read"
            raise MapperDeserialisationError(msg)
        aead = None if key.key is None else AESGCM(key.key)
        for name in sealed:
            if aead is None:
                assert key.forgotten_number is not None
                state[name] = PLACEHOLDERS[name](key.forgotten_number)
            else:
                state[name] = _open(aead, person_id, name, state[name])
        return event


def _aad(person_id: UUID | str, field: str) -> bytes:
    return f"okrledger-pii:{ENVELOPE_VERSION}:{person_id}:{field}".encode()


def _seal(aead: AESGCM, person_id: UUID | str, field: str, value: str) -> dict[str, str]:
    nonce = os.urandom(_NONCE_SIZE)
    sealed = nonce + aead.encrypt(nonce, value.encode("utf-8"), _aad(person_id, field))
    return {ENVELOPE_MARK: ENVELOPE_VERSION, "ct": base64.b64encode(sealed).decode("ascii")}


def _open(aead: AESGCM, person_id: UUID | str, field: str, envelope: dict[str, str]) -> str:
    sealed = base64.b64decode(envelope["ct"])
    try:
        plain = aead.decrypt(sealed[:_NONCE_SIZE], sealed[_NONCE_SIZE:], _aad(person_id, field))
    except InvalidTag:
        msg = f"the {field} of person {person_id} does not decrypt with their key"
        raise MapperDeserialisationError(msg) from None
    return plain.decode("utf-8")


def _is_envelope(value: object) -> bool:
    return isinstance(value, dict) and value.get(ENVELOPE_MARK) == ENVELOPE_VERSION


# ----------------------------------------------------------------------------- erasure


@dataclass(frozen=True)
class Forgetting:
    """A completed erasure: whom, under which number, and where it is recorded in the log."""

    person_id: UUID
    number: int
    position: int | None


ForgetHook = Callable[[Forgetting], None]
"""Called after a person is forgotten: the place for derived stores to drop what they hold."""


def personal_keys(ledger: OkrLedger) -> PersonKeyStore:
    """The key store behind a ledger's mapper (PostgreSQL with the audit factory only)."""
    mapper = ledger.mapper
    if not isinstance(mapper, PersonalDataMapper):
        msg = "this ledger does not encrypt personal data (not the audited PostgreSQL store)"
        raise PersonalDataError(msg)
    return mapper.keys


def forget_person(
    ledger: OkrLedger,
    email: str,
    reason: str,
    ctx: CommandContext,
    hooks: Iterable[ForgetHook] = (),
    *,
    person_id: UUID | None = None,
) -> Forgetting:
    """Erase a person's name and e-mail: destroy their key, then record ``Person.Forgotten``.

    The person is `person_id` when given (the one who has `email` now, found by the caller in
    the directory), else the one who registered with `email`. The key goes first: it is the
    erasure itself, and once it is gone even the event that records it sees only "forgotten
    person #N". Running this again after a failure finishes the job.
    """
    keys = personal_keys(ledger)
    person = ledger.get_person(person_id) if person_id else ledger.find_person_by_email(email)
    if person is None:
        raise NotFound("person", email, "email")
    _require_sealed(ledger, person.id)
    number = keys.destroy(person.id)
    result = ledger.forget_person(person.id, number, reason, ctx)
    keys.purge_dead_rows()
    forgetting = Forgetting(person.id, number, result.position)
    for hook in hooks:
        hook(forgetting)
    return forgetting


def _require_sealed(ledger: OkrLedger, person_id: UUID) -> None:
    """Refuse to 'forget' someone whose personal data was stored in clear: it would stay."""
    mapper = ledger.mapper
    assert isinstance(mapper, PersonalDataMapper)
    for stored in ledger.recorder.select_events(person_id):
        fields = mapper.personal_fields.get(stored.topic, ())
        if not fields:
            continue
        state = mapper.transcoder.decode(stored.state)
        clear = [name for name in fields if not _is_envelope(state.get(name))]
        if clear:
            msg = (
                f"person {person_id}'s {', '.join(clear)} (version {stored.originator_version}) "
                "was stored unencrypted; destroying a key cannot erase it"
            )
            raise PersonalDataError(msg)

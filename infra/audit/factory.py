"""eventsourcing's PostgreSQL factory with okrledger's persistence edge for personal data.

eventsourcing builds a mapper from ``MAPPER_TOPIC`` with only a transcoder, cipher and
compressor, so a mapper chosen that way cannot reach the key table. ``PERSISTENCE_MODULE`` may
name a factory class instead of a module; this one adds the per-person key store (on the
factory's own connection pool) to the mapper, and settles the person-id secret before the
application reads it from its environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import InfrastructureFactory, Mapper
from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import get_topic

from domain.application import OkrLedger
from infra.audit.personal import PersonalDataMapper, PersonKeyStore

if TYPE_CHECKING:
    from eventsourcing.persistence import Transcoder
    from eventsourcing.utils import Environment, EnvType

    from infra.settings import Settings


class AuditedPostgresFactory(PostgresFactory):
    """PostgreSQL persistence whose mapper encrypts personal data with per-person keys."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self.person_keys = PersonKeyStore(self.datastore, self.env.name.lower() or "stored")
        if self.env_create_table():
            self.person_keys.create_tables()
        configured = self.env.get(OkrLedger.PERSON_ID_SECRET)
        secret = self.person_keys.resolve_person_id_secret(
            None if configured is None else bytes.fromhex(configured)
        )
        # The application reads its person-id secret from this same environment object.
        for key in self.env.create_keys(OkrLedger.PERSON_ID_SECRET):
            if secret is None:
                self.env.pop(key, None)
            else:
                self.env[key] = secret.hex()

    def mapper(
        self,
        transcoder: Transcoder | None = None,
        mapper_class: type[Mapper[Any]] | None = None,
    ) -> Mapper[Any]:
        if mapper_class is not None and not issubclass(mapper_class, PersonalDataMapper):
            return super().mapper(transcoder, mapper_class)
        return PersonalDataMapper(
            transcoder or self.transcoder(),
            self.compressor(),
            self.cipher(),
            keys=self.person_keys,
        )


def audit_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing environment entries that put this factory in place."""
    env = {InfrastructureFactory.PERSISTENCE_MODULE: get_topic(AuditedPostgresFactory)}
    if settings.person_id_secret is not None:
        secret = settings.person_id_secret.get_secret_value().strip()
        try:
            if len(bytes.fromhex(secret)) < 16:
                raise ValueError
        except ValueError:
            msg = "OKR_PERSON_ID_SECRET must be at least 16 bytes in hex (32+ hex digits)"
            raise ValueError(msg) from None
        env[OkrLedger.PERSON_ID_SECRET] = secret
    return env

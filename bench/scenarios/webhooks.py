"""Webhooks: fan-out of a backlog to 10 endpoints, vs a raw httpx client posting the same bodies.

Each round registers 10 fresh endpoints (every event type) on local receivers, writes a backlog
of events on distinct aggregates (cycles planned), and times the product from the follower's
first round to the last delivery settled: reading the log, writing one delivery row per
(endpoint, event), leasing, signing (Standard Webhooks), posting concurrently, settling each
row. The raw figure posts the very same bodies to the same receivers from an httpx client with
the same concurrency (16), unsigned, with no database: the HTTP ceiling on this machine.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from time import perf_counter

from bench.harness import Figure, Row, ScenarioResult, Target, paired
from bench.scenarios import Context

ENDPOINTS = 10
CONCURRENCY = 16


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        # One write: headers and body in one segment (no Nagle / delayed-ACK stall).
        self.wfile.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def _receivers(count: int) -> Iterator[list[str]]:
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Ok) for _ in range(count)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    try:
        yield [f"http://127.0.0.1:{s.server_address[1]}/hook" for s in servers]
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()
        for t in threads:
            t.join(5)


def run(ctx: Context) -> ScenarioResult:
    import httpx
    from psycopg.sql import SQL

    from domain.application import OkrLedger
    from domain.base import CommandContext
    from infra.eventstore import eventsourcing_env
    from infra.secretbox import SecretBox
    from infra.settings import Settings
    from infra.webhooks.delivery import WebhookDelivery
    from infra.webhooks.endpoints import register_endpoint
    from infra.webhooks.store import WebhookStore

    result = ScenarioResult("webhooks", "webhook fan-out to 10 endpoints")
    events = int(ctx.pick(1000, 150))
    settings = Settings(lock_timeout_seconds=5, pool_size=8)
    url = ctx.cluster.scratch("webhooks")
    ledger = OkrLedger(env=eventsourcing_env(url, settings))
    store = WebhookStore(ledger.recorder.datastore, SecretBox(os.urandom(32)))  # type: ignore[attr-defined]
    delivery = WebhookDelivery(
        ledger, store, allow_private=True, timeout=10, concurrency=CONCURRENCY
    )
    ctx_system = CommandContext.system()
    product, raw = Figure("deliveries/s"), Figure("deliveries/s")
    try:
        with _receivers(ENDPOINTS) as urls, httpx.Client(timeout=10) as client:
            pool = ThreadPoolExecutor(CONCURRENCY)
            delivery.round()  # the follower's position to the head
            for r in range(ctx.rounds):
                ids = [
                    register_endpoint(
                        ledger, store, u, ["*"], False, ctx_system, allow_private=True
                    )[0].id
                    for u in urls
                ]
                for i in range(events):
                    ledger.plan_cycle(f"R{r}C{i}", date(2026, 1, 1), date(2026, 3, 31), ctx_system)
                began = perf_counter()
                while True:
                    written, attempted = delivery.round()
                    if not written and not attempted:
                        break
                seconds = perf_counter() - began
                with store.datastore.get_connection() as conn:
                    rows = conn.execute(
                        SQL(
                            "SELECT endpoint_id, body, status FROM {} WHERE endpoint_id = ANY(%s)"
                        ).format(store.deliveries_table),
                        (ids,),
                    ).fetchall()
                # The backlog, and each endpoint hears of the ones registered after it.
                assert len(rows) == events * ENDPOINTS + ENDPOINTS * (ENDPOINTS - 1) // 2
                assert all(row["status"] == "delivered" for row in rows)
                product.add(len(rows) / seconds)
                for endpoint_id in ids:  # the next round's endpoints alone hear its events
                    ledger.disable_webhook_endpoint(endpoint_id, "bench round over", ctx_system)
                target = dict(zip(ids, urls, strict=True))
                bodies = [(target[row["endpoint_id"]], bytes(row["body"])) for row in rows]
                began = perf_counter()
                list(
                    pool.map(
                        lambda b: client.post(
                            b[0], content=b[1], headers={"content-type": "application/json"}
                        ).raise_for_status(),
                        bodies,
                    )
                )
                raw.add(len(bodies) / (perf_counter() - began))
                ctx.say(
                    f"round {r + 1}: product {product.values[-1]:,.0f}/s, "
                    f"raw httpx {raw.values[-1]:,.0f}/s"
                )
            pool.shutdown()
    finally:
        delivery.close()
        ledger.close()
    result.rows.append(
        Row(
            "webhooks",
            f"fan-out: {events:,} events × {ENDPOINTS} endpoints, delivered and settled",
            product,
            raw,
            "raw httpx posting the same bodies (16 threads, unsigned, no database)",
            paired(product, raw),
            (Target.ratio(0.5, "≥ 0.5× raw httpx"),),
        )
    )
    return result

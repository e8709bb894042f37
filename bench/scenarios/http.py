"""HTTP paths over a real `okr serve` on localhost, beside a bare FastAPI app (bench/bare.py)
served by uvicorn with the same settings.

The load comes from an async httpx client with 16 concurrent connections (one task each, a
request after the previous answer), in this process; the servers run in processes of their
own. A round lasts a fixed time; requests/s is answers / elapsed, latencies are per request.

- write: POST a check-in (a member's token, fresh approved objectives of the demo's active
  cycle) vs POST to an endpoint doing one single-row INSERT … COMMIT.
- read: GET the active demo cycle's alignment tree (an admin's token) vs GET the same JSON
  bytes from memory.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.harness import Figure, Row, ScenarioResult, Target, alternate, paired, percentile
from bench.scenarios import Context
from bench.scenarios.fixtures import Objectives, Writer
from bench.services import ServerProcess, bare_server, product_server
from domain.application import OkrLedger
from infra.eventstore import eventsourcing_env
from infra.settings import Settings

CLIENTS = 16

Request = tuple[str, str, dict[str, Any] | None, dict[str, str]]
"""method, path, JSON body, headers."""


@dataclass
class Load:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if 200 <= s < 300)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else float("nan")


async def _hammer(
    base_url: str,
    requests: list[Callable[[], Request]],
    seconds: float,
    limit: int,
) -> Load:
    load = Load()
    budget = iter(range(limit))
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=len(requests))
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        deadline = time.perf_counter() + seconds

        async def user(make: Callable[[], Request]) -> None:
            while time.perf_counter() < deadline and next(budget, None) is not None:
                method, path, body, headers = make()
                began = time.perf_counter()
                answer = await client.request(method, path, json=body, headers=headers)
                await answer.aread()
                load.latencies.append((time.perf_counter() - began) * 1000)
                load.statuses[answer.status_code] = load.statuses.get(answer.status_code, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(user(make) for make in requests))
        load.seconds = time.perf_counter() - began
    return load


def hammer(
    base_url: str, requests: list[Callable[[], Request]], seconds: float, limit: int = 10**9
) -> Load:
    return asyncio.run(_hammer(base_url, requests, seconds, limit))


@dataclass
class Figures:
    rate: Figure
    p50: Figure
    p99: Figure

    @classmethod
    def of(cls, unit: str) -> Figures:
        return cls(Figure(unit), Figure("ms", better="lower"), Figure("ms", better="lower"))

    def add(self, load: Load) -> None:
        self.rate.add(load.rate)
        self.p50.add(percentile(load.latencies, 0.5))
        self.p99.add(percentile(load.latencies, 0.99))


def _rows(
    scenario: str,
    what: str,
    product: Figures,
    raw: Figures,
    raw_label: str,
    target: Target | None,
    variant: str = "",
) -> list[Row]:
    """The rate, p50 and p99 rows; `variant` (", …") names a deployment other than the default."""
    targets = (target,) if target else ()
    return [
        Row(
            scenario,
            f"{what}/s, {CLIENTS} clients{variant}",
            product.rate,
            raw.rate,
            raw_label,
            paired(product.rate, raw.rate),
            targets,
        ),
        Row(
            scenario,
            f"latency p50{variant}",
            product.p50,
            raw.p50,
            raw_label,
            paired(product.p50, raw.p50),
        ),
        Row(
            scenario,
            f"latency p99{variant}",
            product.p99,
            raw.p99,
            raw_label,
            paired(product.p99, raw.p99),
        ),
    ]


def _errors(name: str, load: Load) -> str:
    bad = {s: n for s, n in load.statuses.items() if not 200 <= s < 300}
    return f"{name}: non-2xx answers {bad}" if bad else ""


def _alternate_loads(
    ctx: Context,
    seconds: float,
    limit: int,
    product: tuple[ServerProcess, Callable[[], list[Callable[[], Request]]], Figures],
    raw: tuple[ServerProcess, list[Callable[[], Request]], Figures],
    moment: str,
) -> list[str]:
    """Both servers warmed up (1 s, at most 100 requests each), then `ctx.rounds` rounds of
    load on `okr serve` and on the bare server, alternating; each side is (its server, its
    requests, its figures). Notes `okr serve`'s peak memory after them as `moment`. What went
    wrong, each once."""
    errors: list[str] = []
    serve, product_requests, product_figures = product
    bare, raw_requests, raw_figures = raw
    hammer(serve.base_url, product_requests(), 1.0, 100)
    hammer(bare.base_url, raw_requests, 1.0, 100)

    def product_round(_: int) -> None:
        load = hammer(serve.base_url, product_requests(), seconds, limit)
        product_figures.add(load)
        errors.append(_errors("okr serve", load))

    def raw_round(_: int) -> None:
        load = hammer(bare.base_url, raw_requests, seconds, limit)
        raw_figures.add(load)
        errors.append(_errors("bare", load))

    alternate(ctx.rounds, product_round, raw_round)
    ctx.shared.setdefault("server_peak_mb", {})[moment] = serve.peak_rss_mb
    return sorted({e for e in errors if e})


def _rounds(ctx: Context, seconds: float, limit: int | None = None) -> str:
    """How `_alternate_loads` ran, for the notes."""
    at_most = f" (at most {limit:,} requests)" if limit is not None else ""
    return (
        f"{seconds:g} s per round{at_most}, {ctx.rounds} rounds alternating; "
        f"async httpx client, {CLIENTS} connections"
    )


@contextmanager
def _demo_copy(ctx: Context, name: str) -> Iterator[tuple[Any, str, OkrLedger]]:
    """A scratch copy of the demo database: the demo, its URL and an application on it."""
    demo = ctx.datasets.demo()
    url = ctx.cluster.scratch(name, template=demo.database)
    app = OkrLedger(env=eventsourcing_env(url, Settings(pool_size=2, lock_timeout_seconds=30)))
    try:
        yield demo, url, app
    finally:
        app.close()
        ctx.cluster.forget(url)


# --------------------------------------------------------------------------- write


def run_write(ctx: Context) -> ScenarioResult:
    """Check-ins over HTTP against the bare endpoint, twice: `okr serve` as it starts by
    default (the live views' runner in its process), then with `OKR_VIEWS_RUNNER=off` beside an
    `okr worker --from-log` process keeping the views (docs/deploy.md)."""
    result = ScenarioResult("http-write", "HTTP write path")
    seconds = float(ctx.pick(6.0, 2.0))
    limit = int(ctx.pick(4000, 800))
    rng = random.Random(2)
    with _demo_copy(ctx, "httpw") as (demo, url, app):
        objectives = Objectives(app, demo.active_cycle_id)
        token = {"Authorization": f"Bearer {objectives.member_token()}"}

        def check_ins() -> list[Callable[[], Request]]:
            objectives.prepare(limit, CLIENTS)

            def make(writer: Writer) -> Callable[[], Request]:
                def request() -> Request:
                    objective_id, kr = writer.next()
                    path = f"/api/v1/objectives/{objective_id}/key-results/{kr}/check-ins"
                    body = {"value": round(rng.uniform(0, 100), 1), "confidence": 7}
                    return "POST", path, body, token

                return request

            return [make(Writer(objectives)) for _ in range(CLIENTS)]

        raw_requests: list[Callable[[], Request]] = [
            lambda: ("POST", "/raw/check-ins", None, {}) for _ in range(CLIENTS)
        ]
        for views_process, variant in ((False, ""), (True, ", views in `okr worker --from-log`")):
            with (
                product_server(url, views_process=views_process) as server,
                bare_server(url) as bare,
            ):
                product, raw = Figures.of("check-ins/s"), Figures.of("commits/s")
                result.notes += _alternate_loads(
                    ctx,
                    seconds,
                    limit,
                    (server, check_ins, product),
                    (bare, raw_requests, raw),
                    f"demo, after the HTTP writes{variant}",
                )
            result.rows += _rows(
                "http-write",
                "check-ins",
                product,
                raw,
                "bare FastAPI endpoint, one INSERT…COMMIT",
                None,
                variant,
            )
        result.notes.append(
            f"{_rounds(ctx, seconds, limit)}, uvicorn log level info for both servers "
            "(as `okr serve`); the second deployment runs `okr serve` with OKR_VIEWS_RUNNER=off "
            "and one `okr worker --from-log` process on the same machine."
        )
    return result


# --------------------------------------------------------------------------- read


def run_read(ctx: Context) -> ScenarioResult:
    result = ScenarioResult("http-read", "HTTP read path")
    seconds = float(ctx.pick(6.0, 2.0))
    with (
        _demo_copy(ctx, "httpr") as (demo, url, app),
        tempfile.TemporaryDirectory(prefix="okr-bench-tree-") as folder,
    ):
        tree_file = Path(folder) / "tree.json"
        objectives = Objectives(app, demo.active_cycle_id)
        token = {"Authorization": f"Bearer {objectives.admin_token(demo.admin_person_id)}"}
        path = f"/api/v1/cycles/{demo.active_cycle_id}/tree"
        with product_server(url) as server:
            answer = httpx.get(server.base_url + path, headers=token, timeout=60)
            answer.raise_for_status()
            tree_file.write_bytes(answer.content)
            ctx.say(f"tree of the active demo cycle: {len(answer.content):,} bytes of JSON")
            with bare_server(url, tree_file) as bare:
                product, raw = Figures.of("req/s"), Figures.of("req/s")
                reads: list[Callable[[], Request]] = [
                    lambda: ("GET", path, None, token) for _ in range(CLIENTS)
                ]
                raw_reads: list[Callable[[], Request]] = [
                    lambda: ("GET", "/raw/tree", None, {}) for _ in range(CLIENTS)
                ]
                errors = _alternate_loads(
                    ctx,
                    seconds,
                    10**9,  # as many requests as the time allows
                    (server, lambda: reads, product),
                    (bare, raw_reads, raw),
                    "demo, after the HTTP reads",
                )
        result.rows += _rows(
            "http-read",
            "tree requests",
            product,
            raw,
            "bare FastAPI endpoint, same JSON from memory",
            Target.ratio(0.5),
        )
        result.notes.append(
            f"tree of the demo's active cycle ({tree_file.stat().st_size:,} bytes); "
            f"{_rounds(ctx, seconds)}."
        )
        result.notes += errors
    return result

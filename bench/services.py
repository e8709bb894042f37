"""What the scenarios run against: one PostgreSQL server, cached datasets, scratch databases,
HTTP servers in processes of their own.

The server is an embedded PostgreSQL whose cluster is kept between runs in
``$OKR_BENCH_DATA`` (default: the user cache folder, ``okr-bench``), so the generated
histories (10k, 100k, 1M events) and the demo organisation are generated once per version of
the code that produces them: a dataset's database name carries a hash of the generator, the
domain and the event-store code. ``OKR_BENCH_DATABASE_URL`` points the harness at another
server instead (its ``postgres`` database must be reachable for CREATE/DROP DATABASE). Its
configuration is the product's default (durable commits): the raw limits run on the same
server, so the ratios do not depend on it.

Scratch databases (writes, HTTP, audit, Kafka) are created per run and dropped at its end.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import platformdirs
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.sql import SQL, Identifier
from rich.console import Console

from bench.harness import ROOT, peak_rss_mb

GENERATOR_BATCH = 250
"""Events per transaction when generating histories. bench/generate.py defaults to 4000, but
eventsourcing inserts a transaction's events as one array parameter in pipeline mode, and with
psycopg 3.3 / libpq 18 here a pipeline whose parameter passes about 1 MB hangs on its second
use (both ends waiting to read); 250 events stay well under that."""

DATASET_VERSION = "1"
"""Bump to regenerate every cached dataset (or run with --fresh)."""


def _signature(*sources: str) -> str:
    """A hash of the code that writes a dataset. Stored events stay readable by later code
    (events are never renamed, only upcast), so only the writer's own code counts."""
    digest = hashlib.sha256(DATASET_VERSION.encode())
    for name in sources:
        path = ROOT / name
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            if file.exists():
                digest.update(file.relative_to(ROOT).as_posix().encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()[:10]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- the server


class Cluster:
    """The benchmark's PostgreSQL server and the databases on it."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.data_dir: Path | None = None
        external = os.environ.get("OKR_BENCH_DATABASE_URL")
        if external:
            self.url = external
        else:
            from infra.embedded import start_embedded_postgres

            # Not under ".../okrledger/...": bench/kafka_relay.py names its database by
            # replacing "/okrledger" in the server's URL, socket folder included.
            base = os.environ.get("OKR_BENCH_DATA")
            self.data_dir = Path(base) if base else platformdirs.user_cache_path("okr-bench")
            started = time.perf_counter()
            self.url = start_embedded_postgres(self.data_dir)
            console.print(
                f"[dim]PostgreSQL: embedded, cluster in {self.data_dir} "
                f"(up in {time.perf_counter() - started:.1f} s)[/dim]"
            )
        self._scratch: list[str] = []

    def settings(self) -> dict[str, str]:
        names = ("server_version", "fsync", "synchronous_commit", "shared_buffers")
        with self.admin() as conn:
            return {
                n: str(conn.execute(SQL("SHOW {}").format(Identifier(n))).fetchone()[0])
                for n in names
            }  # type: ignore[index]

    def database_url(self, name: str) -> str:
        return make_conninfo(self.url, dbname=name)

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(make_conninfo(self.url, dbname="postgres"), autocommit=True)

    def exists(self, name: str) -> bool:
        with self.admin() as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            return found.fetchone() is not None

    def databases(self, prefix: str) -> list[str]:
        """Databases whose name starts with `prefix` (literally: "_" is no wildcard here)."""
        with self.admin() as conn:
            rows = conn.execute("SELECT datname FROM pg_database").fetchall()
        return [r[0] for r in rows if str(r[0]).startswith(prefix)]

    def create(self, name: str, template: str | None = None) -> str:
        with self.admin() as conn:
            conn.execute(SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(Identifier(name)))
            statement = SQL("CREATE DATABASE {}").format(Identifier(name))
            if template:
                statement += SQL(" TEMPLATE {} STRATEGY FILE_COPY").format(Identifier(template))
            conn.execute(statement)
        return self.database_url(name)

    def drop(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(Identifier(name)))

    def rename(self, old: str, new: str) -> None:
        with self.admin() as conn:
            conn.execute(
                SQL("ALTER DATABASE {} RENAME TO {}").format(Identifier(old), Identifier(new))
            )

    def scratch(self, label: str, template: str | None = None) -> str:
        """A database for this run only (dropped by `close`)."""
        name = f"bench_scratch_{label}_{uuid4().hex[:6]}"
        self._scratch.append(name)
        return self.create(name, template)

    def forget(self, url: str) -> None:
        """Drop a scratch database now."""
        name = str(conninfo_to_dict(url)["dbname"])
        self.drop(name)
        if name in self._scratch:
            self._scratch.remove(name)

    def close(self) -> None:
        for name in self._scratch:
            with contextlib.suppress(psycopg.Error):
                self.drop(name)
        self._scratch.clear()
        if self.data_dir is not None:
            from infra.embedded import stop_embedded_postgres

            stop_embedded_postgres(self.data_dir)


# --------------------------------------------------------------------------- datasets


@dataclass(frozen=True)
class Demo:
    """The demo organisation (the `demo` package) as a template database."""

    database: str
    active_cycle_id: UUID
    admin_person_id: UUID
    events: int


class Datasets:
    """Generated histories and the demo, kept in the cluster between runs."""

    def __init__(self, cluster: Cluster, console: Console, fresh: bool = False) -> None:
        self.cluster = cluster
        self.console = console
        self.fresh = fresh
        self._demo: Demo | None = None
        self.generated_seconds: dict[int, float] = {}
        # Once per run: other people's edits during a run must not change the names.
        self.signature = _signature("bench/generate.py")
        self.demo_signature = _signature("demo")

    def generated(self, events: int) -> str:
        """URL of a database holding a generated history of `events` events."""
        name = f"bench_gen_{events}_{self.signature}"
        if self.fresh and name not in self.generated_seconds:
            self.cluster.drop(name)
        if not self.cluster.exists(name):
            for stale in self.cluster.databases(f"bench_gen_{events}_"):
                self.cluster.drop(stale)
            self.generated_seconds[events] = self._generate(name, events)
        return self.cluster.database_url(name)

    def _generate(self, name: str, events: int) -> float:
        from bench.generate import Generator
        from domain.application import OkrLedger
        from infra.eventstore import eventsourcing_env
        from infra.settings import Settings

        building = f"{name}__building"
        url = self.cluster.create(building)
        self.console.print(f"[dim]generating {events:,} events into {name}…[/dim]")
        started = time.perf_counter()
        app = OkrLedger(env=eventsourcing_env(url, Settings(lock_timeout_seconds=60)))
        # The generator's progress line (carriage returns on stderr) only helps on a terminal.
        quiet = (
            contextlib.nullcontext()
            if sys.stderr.isatty()
            else contextlib.redirect_stderr(io.StringIO())
        )
        try:
            with quiet:
                Generator(app, events, 1, max(10, min(60, events // 2000)), GENERATOR_BATCH).run()
        finally:
            app.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        seconds = time.perf_counter() - started
        self.cluster.rename(building, name)
        self.console.print(
            f"[dim]generated {events:,} events in {seconds:.0f} s "
            f"({events / seconds:,.0f} events/s)[/dim]"
        )
        return seconds

    def demo(self) -> Demo:
        """The demo organisation, with today's quarter active (a template: copy, don't write)."""
        if self._demo is not None:
            return self._demo
        from demo import ADMIN_EMAIL, load_demo
        from domain.application import OkrLedger
        from infra.bulk import history_writer
        from infra.chain import importing_history
        from infra.eventstore import eventsourcing_env
        from infra.settings import Settings

        today = date.today()
        name = f"bench_demo_{today:%Y%m%d}_{self.demo_signature}"
        if self.fresh:
            self.cluster.drop(name)
        if not self.cluster.exists(name):
            for stale in self.cluster.databases("bench_demo_"):
                self.cluster.drop(stale)
            building = f"{name}__building"
            url = self.cluster.create(building)
            self.console.print("[dim]loading the demo organisation…[/dim]")
            app = OkrLedger(env=eventsourcing_env(url, Settings(lock_timeout_seconds=60)))
            try:
                load_demo(
                    app,
                    today=today,
                    history_clock=importing_history,
                    history_writer=history_writer(app),
                )
            finally:
                app.close()
            self.cluster.rename(building, name)
        url = self.cluster.database_url(name)
        app = OkrLedger(env=eventsourcing_env(url, Settings(pool_size=2)))
        try:
            admin = app.find_person_by_email(ADMIN_EMAIL)
            assert admin is not None
            events = app.recorder.max_notification_id() or 0
            active = _active_cycle(url)
        finally:
            app.close()
        self._demo = Demo(name, active, admin.id, events)
        return self._demo


def _active_cycle(url: str) -> UUID:
    """The demo's active cycle: the last one started and never closed."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT originator_id, topic FROM okrledger_events "
            "WHERE topic LIKE 'domain.cycle:Cycle.%%' ORDER BY notification_id"
        ).fetchall()
    phase: dict[UUID, str] = {}
    for cycle_id, topic in rows:
        phase[cycle_id] = topic.rsplit(".", 1)[-1]
    active = [c for c, p in phase.items() if p == "Started"]
    if not active:
        raise RuntimeError("the demo has no active cycle")
    return active[-1]


# --------------------------------------------------------------------------- HTTP servers


class ServerProcess:
    """An HTTP server in a process of its own, on localhost."""

    def __init__(self, args: list[str], env: dict[str, str], port: int, name: str) -> None:
        self.port = port
        self.name = name
        self.base_url = f"http://127.0.0.1:{port}"
        self.log = Path(tempfile.mkstemp(prefix=f"okr-bench-{name}-", suffix=".log")[1])
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            args,
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
        )

    def wait_ready(self, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                answer = httpx.get(self.base_url + path, timeout=5)
                if answer.status_code == 200:
                    return
                last = f"{answer.status_code} {answer.text[:200]}"
            except httpx.HTTPError as error:
                last = str(error)
            time.sleep(0.2)
        tail = self.log.read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"{self.name} server not ready ({last}); its log ends:\n{tail}")

    @property
    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log_file.close()
        with contextlib.suppress(OSError):
            self.log.unlink()


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OKR_")}
    env.update(extra)
    return env


@contextlib.contextmanager
def product_server(
    database_url: str, ready_timeout: float = 600, *, views_process: bool = False
) -> Iterator[ServerProcess]:
    """`okr serve` (API, web UI, live views) on `database_url`, as a user would start it; with
    `views_process`, `OKR_VIEWS_RUNNER=off` and the views kept by an `okr worker --from-log`
    process beside it (docs/deploy.md)."""
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="okr-bench-serve-"))
    env = _clean_env(
        OKR_DATABASE_URL=database_url,
        OKR_HOST="127.0.0.1",
        OKR_PORT=str(port),
        OKR_DATA_DIR=str(data_dir),
        OKR_ENVIRONMENT="dev",
        OKR_VIEWS_RUNNER="off" if views_process else "on",
    )
    okr = Path(sys.executable).with_name("okr")
    server = ServerProcess([str(okr), "serve"], env, port, "okr-serve")
    views = None
    try:
        if views_process:
            views = subprocess.Popen(
                [str(okr), "worker", "--from-log"],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        server.wait_ready("/api/v1/ready", ready_timeout)  # ready: the views caught up
        yield server
    finally:
        server.stop()
        if views is not None:
            views.terminate()
            try:
                views.wait(30)
            except subprocess.TimeoutExpired:
                views.kill()
                views.wait(5)
        shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def bare_server(database_url: str, tree_file: Path | None = None) -> Iterator[ServerProcess]:
    """bench/bare.py: the raw limits of the HTTP paths, served the way `okr serve` serves."""
    port = free_port()
    args = [sys.executable, "-m", "bench.bare", "--port", str(port), "--database-url", database_url]
    if tree_file is not None:
        args += ["--tree-file", str(tree_file)]
    server = ServerProcess(args, _clean_env(), port, "bare")
    try:
        server.wait_ready("/health", 60)
        yield server
    finally:
        server.stop()

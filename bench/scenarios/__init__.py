"""The scenarios, in the order a full run takes them. Each is `run(ctx) -> ScenarioResult`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from bench.harness import Mode, ScenarioResult
from bench.services import Cluster, Datasets


@dataclass
class Context:
    mode: Mode
    rounds: int
    cluster: Cluster
    datasets: Datasets
    console: Console
    shared: dict[str, Any] = field(default_factory=dict)
    """Figures one scenario measured that a later one reuses (same run only)."""

    @property
    def quick(self) -> bool:
        return self.mode == "quick"

    def pick(self, full: Any, quick: Any) -> Any:
        return quick if self.quick else full

    @property
    def big(self) -> int:
        """The history size of the rebuild and as-of scenarios."""
        return int(self.pick(1_000_000, 20_000))

    @property
    def growth_sizes(self) -> tuple[int, ...]:
        return tuple(self.pick((10_000, 100_000, 1_000_000), (5_000, 10_000, 20_000)))

    def say(self, text: str) -> None:
        self.console.print(f"  [dim]{text}[/dim]")


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    run: Callable[[Context], ScenarioResult]


def registry() -> dict[str, Scenario]:
    from bench.scenarios import (
        audit,
        http,
        imports,
        kafka,
        ledger,
        notify,
        readside,
        webhooks,
        write,
    )

    scenarios = [
        Scenario("write", "command write path", write.run),
        Scenario("import", "import of a generated history file", imports.run),
        Scenario("http-write", "HTTP write path", http.run_write),
        Scenario("http-read", "HTTP read path", http.run_read),
        Scenario("rebuild", "rebuild of every view", readside.run_rebuild),
        Scenario("asof", "tree as of an instant", readside.run_asof),
        Scenario("lag", "live views: commit → visible", readside.run_lag),
        Scenario("audit", "hash chain: write overhead, verification", audit.run),
        Scenario("kafka", "Kafka relay", kafka.run),
        Scenario("notify", "notifier: backlog, commit → e-mail", notify.run),
        Scenario("webhooks", "webhook fan-out to 10 endpoints", webhooks.run),
        Scenario("growth", "rebuild and as-of as the log grows", readside.run_growth),
        Scenario("memory", "peak memory: server and rebuild", readside.run_memory),
        Scenario("ledger", "full-ledger export and import", ledger.run),
    ]
    return {s.name: s for s in scenarios}

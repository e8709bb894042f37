"""The objectives the demo plants, quarter by quarter: owners, key results, and how each one
unfolds (its shape, its stalls, its negotiation). The data is the table `objectives.toml`, one
`[[objective]]` a row; this module reads it into specs for `demo.story`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from demo.data import rounded
from domain.objective import Kind, Perspective
from domain.scoring import Direction, Measure

# ------------------------------------------------------------------ objectives to plant


@dataclass(frozen=True)
class KrSpec:
    title: str | tuple[str, ...]
    """One title, or one per story cycle (milestones change from quarter to quarter)."""
    measure: Measure = Measure.METRIC
    direction: Direction = Direction.INCREASE
    baseline: float | None = None
    target: float | None = None
    unit: str = ""
    weight: float = 1.0
    decimals: int = 0
    trend: float = 0.6
    """How far baseline and target move each quarter, as a share of the span (0: resets)."""
    spread: float | None = None
    """For at_least / at_most: how far values wander around the target."""
    cycles: tuple[int, ...] | None = None
    weak: str | None = None
    per_cycle: tuple[tuple[float, float], ...] | None = None
    """Explicit (baseline, target) per story cycle, for measures with a ceiling."""

    def title_for(self, q: int) -> str:
        return (
            self.title if isinstance(self.title, str) else self.title[min(q, len(self.title) - 1)]
        )

    def values_for(self, q: int) -> tuple[float | None, float | None]:
        if self.measure == Measure.MILESTONE:
            return None, None
        if self.per_cycle is not None:
            return self.per_cycle[min(q, len(self.per_cycle) - 1)]
        b, t = self.baseline, self.target
        assert t is not None
        if self.direction == Direction.INCREASE and b is not None:
            shift = (t - b) * self.trend * q
            b, t = b + shift, t + shift
        elif self.direction == Direction.DECREASE and b is not None and b > 0:
            factor = (t / b) ** (self.trend * q)
            b, t = b * factor, t * factor
        b = rounded(b, self.decimals) if b is not None else None
        t = rounded(t, self.decimals)
        if b is not None and b == t:
            t = b + (10**-self.decimals) * (1 if self.direction == Direction.INCREASE else -1)
        return b, t


@dataclass(frozen=True)
class ObjSpec:
    key: str
    title: str
    owner: str
    """"team:<key>" or "person:<key>"."""
    kind: Kind
    krs: tuple[KrSpec, ...]
    parent: str | None = None
    parent_kr: int | None = None
    perspective: Perspective | None = None
    description: str = ""
    cycles: tuple[int, ...] = (0, 1, 2)
    carry: bool = False
    """Drafted in its first cycle only, then carried over from quarter to quarter."""
    private: bool = False
    late: tuple[int, str] | None = None
    """(days after the cycle starts, "in_review" | "draft"): drafted late, left undecided."""
    weak: str | None = None
    weak_note: str = ""

    @property
    def owner_key(self) -> str:
        return self.owner.split(":", 1)[1]

    @property
    def team_owned(self) -> bool:
        return self.owner.startswith("team:")


def _tuples(value: Any) -> Any:
    """TOML arrays as the tuples the specs hold."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _key_result(row: dict[str, Any]) -> KrSpec:
    fields = {name: _tuples(value) for name, value in row.items()}
    fields["measure"] = Measure(fields.get("measure", Measure.METRIC))
    fields["direction"] = Direction(fields.get("direction", Direction.INCREASE))
    return KrSpec(**fields)


def _objective(row: dict[str, Any]) -> ObjSpec:
    fields = {name: _tuples(value) for name, value in row.items() if name != "key_results"}
    fields["kind"] = Kind(fields["kind"])
    if "perspective" in fields:
        fields["perspective"] = Perspective(fields["perspective"])
    return ObjSpec(krs=tuple(_key_result(kr) for kr in row["key_results"]), **fields)


OBJECTIVES: tuple[ObjSpec, ...] = tuple(
    _objective(row)
    for row in tomllib.loads(files("demo").joinpath("objectives.toml").read_text("utf-8"))[
        "objective"
    ]
)

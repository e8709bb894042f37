"""What loading the demo reports: counts, ids, and the weak OKRs planted for the coach."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

DEFAULT_TODAY = date(2026, 11, 24)
ADMIN_EMAIL = "demo-admin@acme.example"

# --------------------------------------------------------------------------- the summary


@dataclass(frozen=True)
class PlantedWeakOkr:
    """A deliberately weak OKR, for a quality coach to find."""

    kind: str
    """task_kr | vague_wording | too_many_key_results | owner_overloaded | metric_without_measure"""
    note: str
    objective_id: UUID | None = None
    key_result_id: UUID | None = None
    owner_person_id: UUID | None = None


@dataclass(frozen=True)
class DemoSummary:
    already_loaded: bool
    admin_person_id: UUID
    cycle_ids: tuple[UUID, ...] = ()
    """Oldest first; the last one is the active cycle."""
    cycle_names: tuple[str, ...] = ()
    people: int = 0
    teams: int = 0
    cycles: int = 0
    objectives: int = 0
    key_results: int = 0
    check_ins: int = 0
    corrections: int = 0
    amendments: int = 0
    carry_overs: int = 0
    events_written: int = 0
    planted: tuple[PlantedWeakOkr, ...] = ()
    themes: int = 0
    kpis: int = 0
    measurements: int = 0
    initiatives: int = 0
    north_star_kpi_id: UUID | None = None

    @property
    def active_cycle_id(self) -> UUID | None:
        return self.cycle_ids[-1] if self.cycle_ids else None

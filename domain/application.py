"""The okrledger application service: one imperative method per command, queries by id.

Each command loads what its rules need, calls the aggregate, and saves every changed aggregate
in one atomic write. It answers with the aggregate's id, its new version and the log position of
the write, so a client can read its own writes from the projections.

The commands of each aggregate live beside each other in `domain/ledger/` (people and tokens,
teams, cycles, objectives, the strategy, KPIs, initiatives, alignment, the quality policy);
`OkrLedger` composes them into the one application that owns the event store.
"""

from __future__ import annotations

from domain.ledger.alignment import AlignmentLedger
from domain.ledger.base import CommandResult, QualityContext
from domain.ledger.cycles import CycleLedger
from domain.ledger.initiatives import InitiativeLedger
from domain.ledger.kpis import KpiLedger
from domain.ledger.people import PeopleLedger
from domain.ledger.sources import SourceLedger
from domain.ledger.teams import TeamLedger
from domain.ledger.webhooks import WebhookLedger

__all__ = ["CommandResult", "OkrLedger", "QualityContext"]


class OkrLedger(
    PeopleLedger,
    TeamLedger,
    CycleLedger,
    AlignmentLedger,
    KpiLedger,
    InitiativeLedger,
    SourceLedger,
    WebhookLedger,
):
    name = "okrledger"

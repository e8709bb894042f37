"""Every read-side fold by name, for rebuilds (`okr rebuild NAME|--all`) and checkpoints."""

from __future__ import annotations

from typing import Any

from projections.audit import AuditFold
from projections.base import Fold
from projections.comparison import ComparisonFold
from projections.directory import DirectoryFold
from projections.history import HistoryFold
from projections.inbox import InboxFold
from projections.staleness import StalenessFold
from projections.strategy import StrategyFold
from projections.tree import TreeFold

FOLDS: dict[str, Fold[Any]] = {
    a_fold.name: a_fold
    for a_fold in (
        DirectoryFold(),
        TreeFold(),
        HistoryFold(),
        AuditFold(),
        ComparisonFold(),
        InboxFold(),
        StalenessFold(),
        StrategyFold(),
    )
}
"""Folds keep no state of their own, so one instance of each serves every caller."""

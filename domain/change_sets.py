"""The change sets that counter-proposals and amendments carry, and typed views of them.

The domain normalises them (`Review._normalise_changes`, domain/objective_review.py) to:
`{"title"?, "description"?, "key_results"?: {id: {title?, baseline?, target?, weight?}},
"add_key_results"?: [spec], "remove_key_results"?: [id]}` with ids as strings. The objective
applies them through these views, and the read side's folds read them through the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.quality import KeyResultSpec


@dataclass(frozen=True)
class AddedKeyResult(KeyResultSpec):
    """A key result a change set adds: its definition, its lineage and its weight."""

    lineage_id: UUID
    weight: float


def edited_key_results(changes: dict[str, Any]) -> dict[UUID, dict[str, Any]]:
    """Key result id → the fields it changes (some of title, baseline, target, weight)."""
    return {UUID(k): dict(v) for k, v in (changes.get("key_results") or {}).items()}


def added_key_results(changes: dict[str, Any]) -> list[AddedKeyResult]:
    return [
        AddedKeyResult(
            key_result_id=UUID(spec["key_result_id"]),
            lineage_id=UUID(spec["lineage_id"]),
            title=spec["title"],
            measure=spec["measure"],
            baseline=spec["baseline"],
            target=spec["target"],
            unit=spec["unit"],
            direction=spec["direction"],
            weight=spec["weight"],
        )
        for spec in changes.get("add_key_results") or []
    ]


def removed_key_results(changes: dict[str, Any]) -> list[UUID]:
    return [UUID(raw) for raw in changes.get("remove_key_results") or []]

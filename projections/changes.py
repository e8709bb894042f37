"""Reading the change sets carried by counter-proposals and amendments: the domain's typed
views (domain/change_sets.py), which the objective itself applies them with."""

from __future__ import annotations

from domain.change_sets import (
    AddedKeyResult,
    added_key_results,
    edited_key_results,
    removed_key_results,
)

__all__ = ["AddedKeyResult", "added_key_results", "edited_key_results", "removed_key_results"]

"""The rebuild process's memory upkeep: the allocator's free pages handed back during a scan,
and the cyclic collector kept off for a rebuild's length (`infra/views/rebuild.py`)."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
from collections.abc import Callable, Iterator

TRIM_EVERY = 10
"""Pages between two `release_free_memory` calls during the scan."""


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


_TRIM = _malloc_trim()


def release_free_memory() -> None:
    """Hand the allocator's free pages back to the system (glibc's `malloc_trim`).

    A scan allocates and frees a page's rows, events and documents over and over, on three
    threads (each with its own malloc arena), between the model's long-lived objects: the
    freed memory stays in the arenas, and the process's resident size grew with the log even
    once the model no longer did. `malloc_trim` returns the free pages inside the arenas too.
    """
    if _TRIM is not None:
        _TRIM(0)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The garbage collector off, and whatever is frozen meanwhile unfrozen at the end.

    A rebuild makes no cycles worth collecting (fold states are trees of dataclasses; pages and
    rows are dropped by reference counting), yet the collector's passes over each page's new
    objects cost 3-9 µs per event, and one full pass over a large model takes seconds: once
    the scan has frozen the model page by page, unfreezing it before the entity rows are
    written made them pay for such passes. So the whole rebuild runs in here; a nested use
    leaves it to the outermost."""
    if not gc.isenabled():  # an outer use (or the caller) has it off already
        yield
        return
    frozen_before = gc.get_freeze_count() > 0  # e.g. a live runner's model in this process
    gc.disable()
    try:
        yield
    finally:
        if not frozen_before:  # else leave the process's frozen objects as they were
            gc.unfreeze()
        gc.enable()

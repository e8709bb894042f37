"""`infra.bulk.collector_paused`: the cyclic collector is off inside, back on after the last of
overlapping blocks, and left as it was found (off stays off)."""

from __future__ import annotations

import gc

import pytest

from infra.bulk import collector_paused


def test_the_collector_is_off_inside_and_back_on_after_the_last_block() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # another import in another thread, meanwhile
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_inside_still_turns_it_back_on() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()

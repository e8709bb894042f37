"""Applications on the test's database that name people by the builders' public ids.

The builders (`tests.unit.builders`) name people by their public uuid5 ids (ALICE, BOB, ...),
so these applications run without a person-id secret. `open_ledger()` opens one more instance
on the same database (another process, in production), each with its own aggregate cache;
all of them are closed after the test. `app` is the first of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from domain.application import OkrLedger

PUBLIC_PERSON_IDS = {OkrLedger.PERSON_ID_SECRET: ""}


@pytest.fixture
def open_ledger(es_env: dict[str, str]) -> Iterator[Callable[[], OkrLedger]]:
    opened: list[OkrLedger] = []

    def open_one() -> OkrLedger:
        opened.append(OkrLedger(env={**es_env, **PUBLIC_PERSON_IDS}))
        return opened[-1]

    try:
        yield open_one
    finally:
        for ledger in opened:
            ledger.close()


@pytest.fixture
def app(open_ledger: Callable[[], OkrLedger]) -> OkrLedger:
    return open_ledger()

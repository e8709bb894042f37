"""The app against its own OpenAPI schema: generated requests never get a 5xx, and every answer
matches the documented status codes, media types, headers and bodies.

A bounded schemathesis run: one test per operation, a few dozen generated requests each,
against a small organisation on a real PostgreSQL. Operations that take a body are also sent
bodies that break their schema (schemathesis' negative mode: wrong types, missing fields, text
outside a field's pattern such as control characters): each must be refused with a documented
4xx, never a 400 the schema does not list, never a 5xx.
(`schemathesis.pytest.from_fixture` does not work with pytest 9, so operations are listed from
an in-memory app at collection time and each test draws cases with hypothesis.)
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from api.app import create_app
from domain.application import OkrLedger
from infra.readmodels import ReadModels
from infra.settings import Settings
from tests.api.conftest import API, World, build_world, make_app, objective_in

MAX_EXAMPLES = 25
EXCLUDED = [
    # Domain rules beyond JSON Schema (a target on the right side of the baseline, a check-in
    # date inside the cycle, an e-mail that is an address) rightly answer 422 to schema-valid
    # requests; those answers are still checked against the schema.
    schemathesis.checks.positive_data_acceptance,
]


def _operations() -> list[tuple[str, str, str]]:
    """Every operation as an admin (who may call them all); the reads also as a member, whose
    answers go through the private-objective filters."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = create_app(OkrLedger()).openapi()
    operations = [
        (method.upper(), path) for path, methods in spec["paths"].items() for method in methods
    ]
    return [("admin", m, p) for m, p in operations] + [
        ("max", m, p) for m, p in operations if m == "GET"
    ]


@pytest.fixture(scope="module")
def schemathesis_world(module_ledger: Any) -> World:
    world = build_world(module_ledger)
    objective_in(world, "platform", "checked_in")
    objective_in(world, "sales", "approved", private=True)
    return world


@pytest.fixture(scope="module")
def api_schema(module_ledger: Any, schemathesis_world: World) -> Iterator[Any]:
    readmodels = ReadModels(module_ledger, Settings())
    readmodels.start()
    try:
        yield schemathesis.openapi.from_asgi(
            f"{API}/openapi.json", make_app(module_ledger, readmodels)
        )
    finally:
        readmodels.stop()  # before the module's database goes


@pytest.mark.parametrize(("caller", "method", "path"), _operations(), ids=lambda v: str(v))
def test_operation_conforms_to_the_schema(
    caller: str, method: str, path: str, api_schema: Any, schemathesis_world: World
) -> None:
    operation = api_schema[path][method]
    headers = schemathesis_world[caller].headers

    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, excluded_checks=EXCLUDED)

    run()


def _body_operations() -> list[tuple[str, str]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = create_app(OkrLedger()).openapi()
    return [
        (method.upper(), path)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
        if "requestBody" in operation
    ]


@pytest.mark.parametrize(("method", "path"), _body_operations(), ids=lambda v: str(v))
def test_a_body_breaking_the_schema_is_refused_as_documented(
    method: str, path: str, api_schema: Any, schemathesis_world: World
) -> None:
    operation = api_schema[path][method]
    headers = schemathesis_world["admin"].headers

    @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, excluded_checks=EXCLUDED)

    run()

"""The OpenAPI document is complete: every operation described, every request body exemplified,
errors documented as problem documents, and the v1 contract's paths all present."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from api.app import create_app
from domain.application import OkrLedger

CONTRACT = [
    ("POST", "/people"),
    ("POST", "/teams"),
    ("POST", "/teams/{team_id}/members"),
    ("POST", "/cycles"),
    ("POST", "/cycles/{cycle_id}/start"),
    ("POST", "/cycles/{cycle_id}/grading"),
    ("POST", "/cycles/{cycle_id}/close"),
    ("POST", "/cycles/{cycle_id}/reopen"),
    ("POST", "/objectives"),
    ("PATCH", "/objectives/{objective_id}"),
    ("POST", "/objectives/{objective_id}/key-results"),
    ("PATCH", "/objectives/{objective_id}/key-results/{key_result_id}"),
    ("POST", "/objectives/{objective_id}/submit"),
    ("POST", "/objectives/{objective_id}/approve"),
    ("POST", "/objectives/{objective_id}/request-changes"),
    ("POST", "/objectives/{objective_id}/counter-propose"),
    ("POST", "/objectives/{objective_id}/accept-counter"),
    ("POST", "/objectives/{objective_id}/withdraw"),
    ("POST", "/objectives/{objective_id}/amendments"),
    ("POST", "/objectives/{objective_id}/amendments/{amendment_id}/approve"),
    ("POST", "/objectives/{objective_id}/amendments/{amendment_id}/reject"),
    ("POST", "/objectives/{objective_id}/key-results/{key_result_id}/check-ins"),
    (
        "POST",
        "/objectives/{objective_id}/key-results/{key_result_id}/check-ins/{check_in_id}/corrections",
    ),
    ("POST", "/objectives/{objective_id}/key-results/{key_result_id}/grade"),
    ("POST", "/objectives/{objective_id}/grade"),
    ("POST", "/objectives/{objective_id}/reflection"),
    ("POST", "/objectives/{objective_id}/carry-over"),
    ("POST", "/objectives/{objective_id}/abandon"),
    ("GET", "/objectives/{objective_id}"),
    ("GET", "/objectives/{objective_id}/history"),
    ("GET", "/cycles/{cycle_id}/tree"),
    ("GET", "/cycles/{cycle_id}/replay"),
    ("GET", "/diff"),
    ("GET", "/compare"),
    ("GET", "/audit"),
    ("GET", "/audit/verify"),
    ("GET", "/inbox"),
    ("GET", "/stale"),
    ("GET", "/cycles"),
    ("GET", "/teams"),
    ("GET", "/people"),
    ("GET", "/objectives"),
    ("GET", "/health"),
    ("GET", "/ready"),
]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        document: dict[str, Any] = create_app(OkrLedger()).openapi()
    return document


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    ]


def test_the_v1_contract_is_served(spec: dict[str, Any]) -> None:
    served = {(method, path.removeprefix("/api/v1")) for method, path, _ in _operations(spec)}
    assert [c for c in CONTRACT if c not in served] == []


def test_every_operation_is_described(spec: dict[str, Any]) -> None:
    for method, path, operation in _operations(spec):
        assert operation.get("summary"), (method, path)
        assert len(operation.get("description", "")) > 20, (method, path)


def test_every_request_body_has_an_example(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    for method, path, operation in _operations(spec):
        body = operation.get("requestBody")
        if body is None:
            continue
        if "application/json" not in body["content"]:  # an upload: an example of its fields
            assert body["content"]["multipart/form-data"].get("example"), (method, path)
            continue
        schema = body["content"]["application/json"]["schema"]
        ref = schema.get("$ref") or next(
            (s["$ref"] for s in schema.get("anyOf", []) if "$ref" in s), None
        )
        assert ref, (method, path)
        assert schemas[ref.rsplit("/", 1)[1]].get("examples"), (method, path)


def test_errors_are_documented_as_problems(spec: dict[str, Any]) -> None:
    for method, path, operation in _operations(spec):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")) and path not in ("/api/v1/ready",):
                assert list(response["content"]) == ["application/problem+json"], (
                    method,
                    path,
                    status,
                )
        if path not in ("/api/v1/health", "/api/v1/ready"):
            assert {"401", "422"} <= set(operation["responses"]), (method, path)


def test_bearer_auth_is_declared(spec: dict[str, Any]) -> None:
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_components_keep_their_published_names(spec: dict[str, Any]) -> None:
    """The Python models are named apart from the domain's (`ObjectiveOut`, `CommandResultOut`);
    clients still see `Objective`, `CommandResult`..., and every `$ref` resolves."""
    from api.schemas import OPENAPI_NAMES

    components = spec["components"]["schemas"]
    for python_name, published in OPENAPI_NAMES.items():
        assert python_name not in components
        assert components[published]["title"] == published

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return found + [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for item in node for r in refs(item)]
        return []

    for ref in refs(spec):
        assert ref.rsplit("/", 1)[1] in components, ref

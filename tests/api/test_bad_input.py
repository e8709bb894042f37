"""Bad input is a 422 naming the field and the rule, and writes nothing.

Every text field of every request body (found by walking the OpenAPI document, so a new field
cannot be forgotten) refuses control characters (`control_character`): a single line (names,
titles, labels, units, keys) refuses all of them, paragraphs (descriptions, notes, comments,
reasons) keep tab, line feed and carriage return. A body that is not JSON in UTF-8, empty or not
an object is a 422 (`json_invalid`, `body_required`, `body_not_object`) on every operation.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from domain.application import OkrLedger
from domain.errors import is_multiline
from infra.readmodels import ReadModels
from infra.settings import Settings
from tests.api.conftest import API, World, build_world, make_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

    SPEC = create_app(OkrLedger()).openapi()

CONTROL = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]]
KEEP_IN_PARAGRAPHS = {"\t", "\n", "\r"}
KEY = str(uuid4())
"""The key used where a body maps ids to objects (`changes.key_results`)."""


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SPEC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _concrete(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema itself, or its alternative that is not null."""
    schema = _resolve(schema)
    others = [_resolve(a) for a in schema.get("anyOf", []) if a.get("type") != "null"]
    return others[0] if others else schema


def _leaves(schema: dict[str, Any], path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path (keys and list indexes) of every free-text string in a body schema."""
    schema = _resolve(schema)
    for alternative in schema.get("anyOf", []) + schema.get("allOf", []):
        yield from _leaves(alternative, path)
    kind = schema.get("type")
    if kind == "string" and "format" not in schema and "enum" not in schema:
        yield path
    elif kind == "array" and "items" in schema:
        yield from _leaves(schema["items"], (*path, 0))
    elif kind == "object":
        for name, inner in schema.get("properties", {}).items():
            yield from _leaves(inner, (*path, name))
        if isinstance(schema.get("additionalProperties"), dict):
            yield from _leaves(schema["additionalProperties"], (*path, KEY))


def _body_fields() -> list[tuple[str, str, tuple[Any, ...]]]:
    found = []
    for url, methods in SPEC["paths"].items():
        for method, operation in methods.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                for leaf in dict.fromkeys(_leaves(content["application/json"]["schema"])):
                    found.append((method.upper(), url, leaf))
    return found


def _body_operations() -> list[tuple[str, str]]:
    return list(dict.fromkeys((method, url) for method, url, _ in _body_fields()))


def _url(template: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid4()), template)


def _nested(path: tuple[Any, ...], value: str) -> Any:
    """The smallest body that puts `value` at `path`."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    return [_nested(rest, value)] if isinstance(head, int) else {head: _nested(rest, value)}


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path)


FIELDS = _body_fields()


def test_the_walk_finds_the_text_of_every_command() -> None:
    """A sanity check of the walk itself: the fields the issue names are among those found."""
    found = {(url.removeprefix(API), _dotted(leaf)) for _, url, leaf in FIELDS}
    for expected in [
        ("/people", "name"),
        ("/teams", "name"),
        ("/cycles", "name"),
        ("/objectives", "title"),
        ("/objectives", "description"),
        ("/objectives/{objective_id}/key-results", "unit"),
        ("/objectives/{objective_id}/amendments", "changes.add_key_results.0.title"),
        ("/objectives/{objective_id}/amendments", f"changes.key_results.{KEY}.title"),
        ("/objectives/{objective_id}/reflection", "text"),
        ("/objectives/{objective_id}/abandon", "reason"),
        ("/strategy", "themes.0.name"),
        ("/strategy", "values.0"),
        ("/kpis", "unit"),
        ("/initiatives", "title"),
        ("/tokens", "label"),
    ]:
        assert expected in found, expected
    assert len(FIELDS) > 80


@pytest.fixture(scope="module")
def admin_client(module_ledger: Any) -> Iterator[tuple[TestClient, World]]:
    world = build_world(module_ledger)
    readmodels = ReadModels(module_ledger, Settings())
    readmodels.start()
    try:
        app = make_app(module_ledger, readmodels)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, world
    finally:
        readmodels.stop()


@pytest.mark.parametrize(("method", "url", "leaf"), FIELDS, ids=lambda v: str(v))
def test_every_text_field_refuses_control_characters(
    method: str, url: str, leaf: tuple[Any, ...], admin_client: tuple[TestClient, World]
) -> None:
    client, world = admin_client
    field = _dotted(leaf)
    paragraphs = is_multiline(field)

    @given(
        before=st.text(st.characters(categories=["L", "N", "Zs"]), max_size=2),
        control=st.sampled_from(CONTROL),
        after=st.text(st.characters(categories=["L", "N", "P"]), max_size=3),
    )
    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
    def run(before: str, control: str, after: str) -> None:
        # at least 4 characters and at most 10: inside every field's length bounds
        body = _nested(leaf, f"abcd{before}{control}{after}")
        head = world.ledger.recorder.max_notification_id()
        answer = client.request(method, _url(url), json=body, headers=world["admin"].headers)
        problems = (
            {(e["field"], e["rule"]) for e in answer.json()["errors"]}
            if answer.status_code >= 400
            else set()
        )
        if paragraphs and control in KEEP_IN_PARAGRAPHS:
            assert answer.status_code < 500, answer.text
            assert (field, "control_character") not in problems, (repr(control), answer.text)
        else:
            assert answer.status_code == 422, answer.text
            assert (field, "control_character") in problems, (repr(control), answer.text)
            assert world.ledger.recorder.max_notification_id() == head

    run()


@pytest.mark.parametrize(("method", "url", "leaf"), FIELDS, ids=lambda v: str(v))
def test_the_schema_states_the_rule(method: str, url: str, leaf: tuple[Any, ...]) -> None:
    """The OpenAPI pattern of each text field says what it refuses, as the domain decides it."""
    operation = SPEC["paths"][url][method.lower()]
    schema = _concrete(operation["requestBody"]["content"]["application/json"]["schema"])
    for step in leaf:
        if isinstance(step, int):
            schema = _concrete(schema["items"])
        elif step == KEY:
            schema = _concrete(schema["additionalProperties"])
        else:
            schema = _concrete(schema["properties"][step])
    pattern = re.compile(schema["pattern"])
    assert not pattern.match("a\x00b")
    assert bool(pattern.match("a\nb\tc")) == is_multiline(_dotted(leaf))
    assert pattern.match("Ünïcödé ✓ 😀")


MALFORMED = [
    (b"{", "json_invalid"),
    (b'{"name": "\xff"}', "json_invalid"),
    (b"\xff\xfe", "json_invalid"),
    (b"", "body_required"),
    (b"[]", "body_not_object"),
    (b'"text"', "body_not_object"),
    (b"null", "body_not_object"),
]


@pytest.mark.parametrize(("method", "url"), _body_operations(), ids=lambda v: str(v))
def test_a_malformed_body_is_a_422_on_every_operation(
    method: str, url: str, admin_client: tuple[TestClient, World]
) -> None:
    client, world = admin_client
    head = world.ledger.recorder.max_notification_id()
    headers = {**world["admin"].headers, "Content-Type": "application/json"}
    optional = not SPEC["paths"][url][method.lower()]["requestBody"].get("required", False)
    for content, rule in MALFORMED:
        if optional and content in (b"", b"null"):
            continue  # no body (or null): every field has its default
        answer = client.request(method, _url(url), content=content, headers=headers)
        assert answer.status_code == 422, (content, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        problems = {(e["field"], e["rule"]) for e in answer.json()["errors"]}
        assert ("body", rule) in problems, (content, answer.json())
        assert rule in SPEC["paths"][url][method.lower()]["responses"]["422"]["description"]
    assert world.ledger.recorder.max_notification_id() == head


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def test_a_web_form_with_a_nul_comes_back_with_a_message(
    admin_client: tuple[TestClient, World],
) -> None:
    client, world = admin_client
    head = world.ledger.recorder.max_notification_id()
    token = _csrf(client.get("/sign-in").text)
    signed_in = client.post(
        "/sign-in",
        data={"csrf_token": token, "token": world["max"].token, "next": "/"},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303, signed_in.text
    form = client.get(f"/objectives/new?cycle={world.cycle_id}")
    assert form.status_code == 200, form.text
    answer = client.post(
        "/objectives",
        data={
            "csrf_token": _csrf(form.text),
            "cycle_id": str(world.cycle_id),
            "owner": f"team:{world.teams['platform']}",
            "title": "Ship\x00it",
            "kind": "committed",
        },
        follow_redirects=True,
    )
    assert answer.status_code == 200, answer.text
    assert "must not contain control characters" in answer.text
    assert "U+0000" in answer.text
    assert world.ledger.recorder.max_notification_id() == head


@pytest.mark.parametrize(
    ("escaped", "rule"),
    [
        ("\\ud800", "string_unicode"),  # an unpaired surrogate: not text at all
        ("\\udfff", "string_unicode"),
        ("\\ufffe", "control_character"),  # noncharacters
        ("\\ufdd0", "control_character"),
        ("\\ud83f\\udfff", "control_character"),  # U+1FFFF, a pair that is a noncharacter
    ],
)
def test_json_escapes_that_are_not_text_are_refused(
    escaped: str, rule: str, admin_client: tuple[TestClient, World]
) -> None:
    client, world = admin_client
    head = world.ledger.recorder.max_notification_id()
    body = f'{{"name": "Ada{escaped}", "email": "ada.l@acme.example"}}'.encode()
    answer = client.post(
        f"{API}/people",
        content=body,
        headers={**world["admin"].headers, "Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert (answer.json()["field"], answer.json()["rule"]) == ("name", rule)
    assert world.ledger.recorder.max_notification_id() == head

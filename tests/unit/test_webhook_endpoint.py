"""Webhook endpoints: what registering, retyping, disabling and re-enabling record."""

from __future__ import annotations

import pytest

from domain.errors import InvalidValue, RuleViolated
from domain.webhook import WebhookEndpoint
from tests.unit.builders import ADMIN, ctx


def an_endpoint(types: list[str] | None = None) -> WebhookEndpoint:
    return WebhookEndpoint.register(
        "https://hooks.example.com/okr", types or ["Objective.Approved"], False, ctx(ADMIN)
    )


def test_registers_an_enabled_endpoint_without_a_secret_in_its_event() -> None:
    endpoint = an_endpoint()
    [event] = endpoint.collect_events()
    assert type(event) is WebhookEndpoint.Registered
    assert (event.url, event.event_types, event.private_content) == (
        "https://hooks.example.com/okr",
        ["Objective.Approved"],
        False,
    )
    assert not any("secret" in name for name in event.__dict__)
    assert endpoint.enabled and endpoint.receives("Objective.Approved")
    assert not endpoint.receives("Objective.Drafted")


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("ftp://hooks.example.com/", "url_invalid"),
        ("hooks.example.com/okr", "url_invalid"),
        ("https://user:pw@hooks.example.com/", "url_invalid"),
        ("https://hooks.example.com:99999/", "url_invalid"),
        (" ", "text_required"),
    ],
)
def test_refuses_a_url_that_is_not_an_absolute_http_url(url: str, rule: str) -> None:
    with pytest.raises(InvalidValue) as info:
        WebhookEndpoint.register(url, ["*"], False, ctx(ADMIN))
    assert (info.value.rule, info.value.field) == (rule, "url")


@pytest.mark.parametrize(
    ("types", "rule"),
    [([], "event_types_required"), (["*", "Cycle.Planned"], "event_types_invalid")],
)
def test_refuses_bad_event_type_lists(types: list[str], rule: str) -> None:
    with pytest.raises(InvalidValue) as info:
        WebhookEndpoint.register("https://x.example/", types, False, ctx(ADMIN))
    assert (info.value.rule, info.value.field) == (rule, "event_types")


def test_star_receives_everything_until_disabled_and_again_once_reenabled() -> None:
    endpoint = an_endpoint(["*"])
    assert endpoint.receives("Cycle.Planned")
    endpoint.disable("receiver answered 410", ctx(ADMIN))
    assert not endpoint.receives("Cycle.Planned")
    assert endpoint.disabled_reason == "receiver answered 410"
    with pytest.raises(RuleViolated):
        endpoint.disable("again", ctx(ADMIN))
    endpoint.reenable(ctx(ADMIN))
    assert endpoint.receives("Cycle.Planned")


def test_changing_event_types_to_the_same_list_is_refused() -> None:
    endpoint = an_endpoint(["Objective.Approved"])
    with pytest.raises(RuleViolated):
        endpoint.change_event_types(["Objective.Approved"], ctx(ADMIN))
    endpoint.change_event_types(["Objective.Drafted"], ctx(ADMIN))
    assert endpoint.event_types == ["Objective.Drafted"]

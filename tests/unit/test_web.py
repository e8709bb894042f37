"""The web UI's pure parts: the session cookie's signature, CSRF, the settings' refusal of a
default secret, safe redirects, the audit's before → after lines, SVG escaping."""

from __future__ import annotations

import time
from datetime import date
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from api.web import charts
from api.web.session import Session, Signer
from api.web.site import changes, safe_next, with_query
from infra.settings import Settings


def test_a_signed_session_round_trips_and_a_tampered_one_is_refused() -> None:
    signer = Signer(b"k" * 32)
    cookie = signer.dumps({"c": "token", "t": "abc", "e": 1.0, "f": []})
    assert signer.loads(cookie) == {"c": "token", "t": "abc", "e": 1.0, "f": []}
    body, mac = cookie.split(".")
    assert signer.loads(f"{body}x.{mac}") is None
    assert signer.loads(f"{body}.{mac[:-1]}A" if mac[-1] != "A" else f"{body}.{mac[:-1]}B") is None
    assert Signer(b"other key" * 4).loads(cookie) is None
    assert signer.loads("garbage") is None


def test_an_expired_session_is_signed_out_and_csrf_compares_exactly() -> None:
    session = Session.from_payload({"c": "x" * 43, "t": "token-id", "e": time.time() - 1})
    assert session.token_id is None and session.changed
    assert session.csrf_ok("x" * 43)
    assert not session.csrf_ok("x" * 42) and not session.csrf_ok(None) and not session.csrf_ok("")


def test_signing_in_rotates_the_csrf_token() -> None:
    session = Session()
    before = session.csrf
    session.sign_in("token-id", 60)
    assert session.csrf != before and session.token_id == "token-id"
    session.flash("hello")
    assert session.take_flashes() == [("info", "hello")] and session.take_flashes() == []


@pytest.mark.parametrize("secret", [None, "changethis", "short", " " * 40])
def test_production_refuses_a_missing_default_or_short_session_secret(secret: str | None) -> None:
    with pytest.raises(ValidationError, match="OKR_SESSION_SECRET"):
        Settings(environment="production", session_secret=secret)


def test_dev_and_production_with_a_real_secret_are_fine() -> None:
    assert Settings(environment="dev").session_secret is None
    assert Settings(environment="production", session_secret="s" * 40).environment == "production"


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/tree?cycle=1", "/tree?cycle=1"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_sign_in_only_returns_to_local_paths(target: str | None, safe: str) -> None:
    assert safe_next(target) == safe


def test_with_query_sets_and_drops_parameters() -> None:
    assert with_query("/objectives/1?seen=3&x=1", seen=9) == "/objectives/1?x=1&seen=9"
    assert with_query("/a?seen=3", seen=None) == "/a"


def test_audit_rows_read_as_field_lines_without_ids() -> None:
    kr = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
    lines = changes(
        {"key_results": {kr: {"target": 8.0}}},
        {"amendment_id": kr, "key_results": {kr: {"target": 6.0}}, "content_hash": "ab"},
    )
    assert lines == [("target", "8", "6")]
    assert changes({}, {"title": "New"}) == [("title", "", "New")]


def test_charts_escape_text_and_describe_themselves() -> None:
    svg = charts.key_result_chart(
        [
            charts.Point(date(2026, 1, 5), 3, 6, False, "<b>3</b>"),
            charts.Point(date(2026, 1, 12), 30, 6, True, "typo"),
            charts.Point(date(2026, 1, 12), 4, 6, False, "fixed"),
        ],
        SimpleNamespace(title="Deals <script>", unit="deals", baseline=0, target=10),
        SimpleNamespace(starts_on=date(2026, 1, 1), ends_on=date(2026, 3, 31)),
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "<b>" not in svg
    assert svg.count('class="superseded"') == 1 and svg.count('class="point"') == 2
    assert "1 superseded (struck through)" in svg and "target 10" in svg
    bars = charts.grouped_bars(["Q1", "Q2"], [("score", [0.5, None])], title="Mean", high=1.0)
    assert 'role="img"' in bars and "Q2 score: –" in bars
    assert "50%" in charts.progress_bar(0.5, "on_track", "x")

"""ID tokens a real provider would never issue are refused: a second provider, served by a real
HTTP server (pytest-httpserver) with its own keys, answers the code with a token crafted here.

The first test signs in with a well-formed token from this provider, so the harness itself is
proven; each other test changes one thing about the token and expects the sign-in refused.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from domain.application import OkrLedger
from infra.readmodels import ReadModels
from tests.api.test_oidc import Served, serve

KEY = RSAKey.generate_key(2048, parameters={"kid": "provider-key"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "provider-key"})  # same kid, not theirs


class CraftingProvider:
    """Discovery, JWKS and a token endpoint answering with `self.next_token(nonce)`."""

    def __init__(self, server: HTTPServer) -> None:
        self.issuer = server.url_for("/").rstrip("/")
        self.claims: dict[str, Any] = {}
        self.key = KEY
        self.nonce = ""
        server.expect_request("/.well-known/openid-configuration").respond_with_json(
            {
                "issuer": self.issuer,
                "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token",
                "jwks_uri": self.issuer + "/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )
        server.expect_request("/jwks").respond_with_json(KeySet([KEY]).as_dict(private=False))
        server.expect_request("/token", method="POST").respond_with_handler(self._token)

    def _token(self, request: Request) -> Response:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": "okrledger",
            "sub": "crafted-1",
            "iat": now,
            "exp": now + 300,
            "nonce": self.nonce,
            "email": "crafted@acme.example",
            "email_verified": True,
            **self.claims,
        }
        token = jwt.encode({"alg": "RS256", "kid": "provider-key"}, claims, self.key)
        return Response(
            f'{{"access_token": "at", "token_type": "Bearer", "id_token": "{token}"}}',
            content_type="application/json",
        )


@pytest.fixture
def crafting(httpserver: HTTPServer) -> CraftingProvider:
    return CraftingProvider(httpserver)


@pytest.fixture
def site(ledger: OkrLedger, readmodels: ReadModels, crafting: CraftingProvider) -> Iterator[Served]:
    yield from serve(ledger, readmodels, crafting.issuer)


def _sign_in(site: Served, crafting: CraftingProvider) -> httpx.Response:
    with httpx.Client() as browser:
        start = browser.get(f"{site.url}/auth/oidc/login")
        query = parse_qs(urlparse(start.headers["location"]).query)
        crafting.nonce = query["nonce"][0]
        return browser.get(
            f"{site.url}/auth/oidc/callback", params={"code": "c0de", "state": query["state"][0]}
        )


def test_a_well_formed_token_from_the_second_provider_signs_in(
    site: Served, crafting: CraftingProvider
) -> None:
    assert _sign_in(site, crafting).status_code == 303
    assert site.ledger.find_person_by_email("crafted@acme.example") is not None


def test_a_token_signed_with_another_key_is_refused(
    site: Served, crafting: CraftingProvider
) -> None:
    crafting.key = OTHER_KEY
    refused = _sign_in(site, crafting)
    assert refused.status_code == 401 and "could not be verified" in refused.text
    assert site.ledger.find_person_by_email("crafted@acme.example") is None


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "another-client"},
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
        {"nonce": "not-the-nonce-we-sent"},
        {"iss": "https://impostor.example"},
    ],
    ids=["wrong-audience", "expired", "wrong-nonce", "wrong-issuer"],
)
def test_a_token_with_a_wrong_claim_is_refused(
    site: Served, crafting: CraftingProvider, claims: dict[str, Any]
) -> None:
    crafting.claims = claims
    refused = _sign_in(site, crafting)
    assert refused.status_code == 401 and "could not be verified" in refused.text
    assert site.ledger.find_person_by_email("crafted@acme.example") is None

"""OpenID Connect sign-in: the authorization-code flow with PKCE, `state` and `nonce`.

Built on Authlib (PKCE challenge, random values) and joserfc (Authlib's JOSE library, for the
ID token): the provider's metadata comes from discovery, its keys from its JWKS, and an ID token
is accepted only with a valid signature, the configured issuer, this client as audience, a
future expiry and the nonce this sign-in sent. Nothing here touches the ledger: `OidcClient`
turns a callback into an `Identity`, and `api/web/oidc.py` decides who that is.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from infra.settings import Settings

ROLE_ORDER = ("admin", "auditor", "manager")
"""When a person is in several role groups, the first of these wins; anyone else is a member."""


class SignInRefused(Exception):
    """The provider's answer is not a valid sign-in; `reason` says which check failed."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Pending:
    """What one sign-in remembers between its start and its callback (in a signed cookie)."""

    state: str
    nonce: str
    verifier: str
    next: str = "/"

    def to_json(self) -> dict[str, str]:
        return {"s": self.state, "n": self.nonce, "v": self.verifier, "x": self.next}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Pending | None:
        try:
            return cls(str(data["s"]), str(data["n"]), str(data["v"]), str(data.get("x") or "/"))
        except KeyError:
            return None


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in, from a verified ID token."""

    issuer: str
    subject: str
    email: str
    email_verified: bool
    name: str
    groups: tuple[str, ...]
    id_token: str = field(repr=False)


def parse_role_groups(text: str) -> dict[str, str]:
    """``admin=okr-admins;manager=okr-managers`` → {"admin": "okr-admins", ...}."""
    mapping: dict[str, str] = {}
    for part in text.split(";"):
        role, eq, group = part.partition("=")
        if eq and role.strip() in ROLE_ORDER and group.strip():
            mapping[role.strip()] = group.strip()
    return mapping


def role_for(groups: tuple[str, ...], role_groups: dict[str, str]) -> str:
    """The role the groups give: the first of admin, auditor, manager matched, else member."""
    for role in ROLE_ORDER:
        if role in role_groups and role_groups[role] in groups:
            return role
    return "member"


class OidcClient:
    """One configured provider: discovery and keys (cached), the login URL, the callback."""

    def __init__(self, settings: Settings, http: httpx.Client | None = None) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self._secret = settings.oidc_client_secret
        self.scopes = settings.oidc_scopes
        self.groups_claim = settings.oidc_groups_claim
        self.role_groups = parse_role_groups(settings.oidc_role_groups)
        base = (settings.public_url or "http://127.0.0.1:8000").rstrip("/")
        self.redirect_uri = base + "/auth/oidc/callback"
        self.after_logout_uri = base + "/sign-in"
        self._http = http or httpx.Client(timeout=10)
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._keys_at = 0.0
        self._lock = threading.Lock()

    # ------------------------------------------------------------ provider

    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            url = self.issuer + "/.well-known/openid-configuration"
            data = self._http.get(url).raise_for_status().json()
            if str(data.get("issuer", "")).rstrip("/") != self.issuer:
                raise SignInRefused("issuer_mismatch", "discovery names another issuer")
            self._metadata = data
        return self._metadata

    def _key_set(self, refresh: bool = False) -> KeySet:
        with self._lock:
            if self._keys is None or (refresh and time.monotonic() - self._keys_at > 10):
                jwks = self._http.get(self.metadata()["jwks_uri"]).raise_for_status().json()
                self._keys = KeySet.import_key_set(jwks)
                self._keys_at = time.monotonic()
            return self._keys

    # ---------------------------------------------------------------- flow

    def start(self, next_url: str = "/") -> tuple[str, Pending]:
        """The provider's authorization URL, and what the callback must find again."""
        pending = Pending(generate_token(32), generate_token(32), generate_token(64), next_url)
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scopes,
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": create_s256_code_challenge(pending.verifier),
            "code_challenge_method": "S256",
        }
        return self.metadata()["authorization_endpoint"] + "?" + urlencode(query), pending

    def finish(self, pending: Pending | None, state: str | None, code: str | None) -> Identity:
        """Check the callback against the pending sign-in, redeem the code, verify the token."""
        if pending is None or not state or state != pending.state:
            raise SignInRefused("state_mismatch", "the sign-in's state does not match")
        if not code:
            raise SignInRefused("code_missing", "the provider sent no authorization code")
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": pending.verifier,
        }
        endpoint = self.metadata()["token_endpoint"]
        if self._secret is not None:  # client_secret_basic
            secret = self._secret.get_secret_value()
            answer = self._http.post(endpoint, data=form, auth=(self.client_id, secret))
        else:  # a public client
            answer = self._http.post(endpoint, data={**form, "client_id": self.client_id})
        if answer.status_code != 200:
            raise SignInRefused("code_refused", "the provider refused the authorization code")
        id_token = answer.json().get("id_token")
        if not isinstance(id_token, str):
            raise SignInRefused("id_token_missing", "the provider sent no ID token")
        return self.verify(id_token, pending.nonce)

    def verify(self, id_token: str, nonce: str) -> Identity:
        """The identity in an ID token whose signature, iss, aud, exp and nonce all check out."""
        try:
            token = jwt.decode(id_token, self._key_set())
        except JoseError:
            try:  # the provider may have rotated its keys
                token = jwt.decode(id_token, self._key_set(refresh=True))
            except JoseError as error:
                raise SignInRefused("signature_invalid", "the ID token's signature") from error
        except ValueError as error:
            raise SignInRefused("id_token_malformed", "the ID token cannot be read") from error
        claims = token.claims
        registry = jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.client_id},
            exp={"essential": True},
            sub={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except JoseError as error:
            claim = getattr(error, "claim", "") or ""
            reason = {"iss": "issuer_invalid", "aud": "audience_invalid", "nonce": "nonce_invalid"}
            kind = reason.get(claim, "expired" if "expired" in str(error).lower() else "")
            raise SignInRefused(kind or "claims_invalid", str(error)) from error
        groups = claims.get(self.groups_claim) or []
        return Identity(
            issuer=self.issuer,
            subject=str(claims["sub"]),
            email=str(claims.get("email") or ""),
            email_verified=claims.get("email_verified") is not False,
            name=str(claims.get("name") or claims.get("email") or ""),
            groups=tuple(str(g) for g in groups) if isinstance(groups, list) else (),
            id_token=id_token,
        )

    def logout_url(self, id_token: str | None) -> str | None:
        """Where the browser ends the provider's session (RP-initiated logout), if it can."""
        endpoint = self.metadata().get("end_session_endpoint")
        if not endpoint:
            return None
        query = {"client_id": self.client_id, "post_logout_redirect_uri": self.after_logout_uri}
        if id_token:
            query["id_token_hint"] = id_token
        return str(endpoint) + "?" + urlencode(query)

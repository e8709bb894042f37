"""The web UI's session: a signed cookie, its CSRF token, and one-shot flash messages.

The cookie holds no secret: the signed-in token's id (never its secret), the CSRF token, the
expiry and pending flash messages, as JSON signed with HMAC-SHA256 under the session secret. It
is HttpOnly, SameSite=Lax, Secure over HTTPS, and re-checked against the event store on every
request (a revoked token or a deactivated person ends the session at once).

`SessionMiddleware` loads the session for every non-API request into `request.state.session`
and writes the cookie back when the request changed it; it also sets the pages' security
headers (a strict Content-Security-Policy: every script and style comes from /static).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "okr_session"
SKIPPED = ("/api/", "/static/", "/scim/")
"""Paths without a session: the JSON API and SCIM (bearer tokens), and the static files."""
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@dataclass
class Session:
    """One browser's session; `changed` tells the middleware to write the cookie."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    token_id: str | None = None
    expires: float = 0.0
    flashes: list[tuple[str, str]] = field(default_factory=list)
    changed: bool = False
    ended: bool = False

    def sign_in(self, token_id: str, max_age: int) -> None:
        """A new session for the token: a fresh CSRF token (no fixation), a new expiry."""
        self.csrf = secrets.token_urlsafe(32)
        self.token_id = token_id
        self.expires = time.time() + max_age
        self.changed = True

    def sign_out(self) -> None:
        self.token_id = None
        self.csrf = secrets.token_urlsafe(32)
        self.flashes = []
        self.changed = True
        self.ended = True

    def flash(self, message: str, level: str = "info") -> None:
        """A message shown once, on the next page rendered."""
        self.flashes.append((level, message))
        self.changed = True

    def take_flashes(self) -> list[tuple[str, str]]:
        taken, self.flashes = self.flashes, []
        if taken:
            self.changed = True
        return taken

    def csrf_ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf, given or "")

    def payload(self) -> dict[str, Any]:
        return {"c": self.csrf, "t": self.token_id, "e": self.expires, "f": self.flashes}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Session:
        session = cls(
            csrf=str(data.get("c") or secrets.token_urlsafe(32)),
            token_id=data.get("t") or None,
            expires=float(data.get("e") or 0.0),
            flashes=[(str(level), str(text)) for level, text in data.get("f") or []][:10],
        )
        if session.token_id and session.expires < time.time():
            session.token_id = None
            session.changed = True
        return session


class Signer:
    """`value.signature` with HMAC-SHA256; the value is URL-safe base64 of compact JSON."""

    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(b"okrledger web session\x00" + secret).digest()

    def _mac(self, body: bytes) -> str:
        digest = hmac.new(self._key, body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def dumps(self, data: dict[str, Any]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        body = base64.urlsafe_b64encode(raw).rstrip(b"=")
        return f"{body.decode()}.{self._mac(body)}"

    def loads(self, cookie: str) -> dict[str, Any] | None:
        """The signed data, or None when the cookie is malformed or its signature is wrong."""
        body, dot, mac = cookie.partition(".")
        if not dot or not hmac.compare_digest(self._mac(body.encode()), mac):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (ValueError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None


class SessionMiddleware:
    """Loads and stores the session of every request outside /api/ (pure ASGI)."""

    def __init__(self, app: ASGIApp, *, signer: Signer, max_age: int, secure: bool | None) -> None:
        self.app = app
        self.signer = signer
        self.max_age = max_age
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(SKIPPED):
            await self.app(scope, receive, send)
            return
        session = self._load(scope)
        scope.setdefault("state", {})["session"] = session
        https = scope.get("scheme") == "https"
        secure = https if self.secure is None else self.secure

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if session.changed:
                    headers.append("Set-Cookie", self._cookie(session, secure))
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _load(self, scope: Scope) -> Session:
        raw = ""
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                cookie: SimpleCookie = SimpleCookie()
                try:
                    cookie.load(value.decode("latin-1"))
                except CookieError:  # a malformed Cookie header is simply no session
                    continue
                if COOKIE in cookie:
                    raw = cookie[COOKIE].value
        data = self.signer.loads(raw) if raw else None
        if data is None:
            return Session(changed=True)
        return Session.from_payload(data)

    def _cookie(self, session: Session, secure: bool) -> str:
        value = self.signer.dumps(session.payload())
        parts = [f"{COOKIE}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
        parts.append(f"Max-Age={self.max_age}")
        if secure:
            parts.append("Secure")
        return "; ".join(parts)

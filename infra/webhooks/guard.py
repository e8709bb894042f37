"""Refusing private targets: a webhook must not become a way into the server's own network.

A target whose host resolves to a private, loopback, link-local, multicast, reserved or
unspecified address is refused when the endpoint is registered, and again when the sender
connects: the connection goes to the address checked after resolution (never to a second
lookup, which could answer differently), so a name re-pointed at an inner address later is
refused too. ``OKR_WEBHOOK_ALLOW_PRIVATE=on`` lifts the rule (tests, closed networks).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from domain.errors import InvalidValue


class PrivateTarget(Exception):
    """The host resolves to an address webhooks may not reach."""


def is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def public_addresses(host: str, port: int, allow_private: bool) -> list[str]:
    """The addresses of `host` a webhook may reach: all of them, or PrivateTarget."""
    addresses = resolve(host, port)
    if not allow_private:
        private = [a for a in addresses if is_private(a)]
        if private:
            raise PrivateTarget(
                f"{host} resolves to {', '.join(private)}: a private, loopback or link-local "
                "address (OKR_WEBHOOK_ALLOW_PRIVATE=on allows it)"
            )
    return addresses


def check_url(url: str, allow_private: bool) -> None:
    """At registration: InvalidValue (422, field `url`) for a private or unresolvable host."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        public_addresses(host, port, allow_private)
    except PrivateTarget as e:
        raise InvalidValue("url_private", f"url: {e}", "url") from None
    except OSError:
        raise InvalidValue("url_unresolvable", f"url: {host} does not resolve", "url") from None


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to addresses the rule allows."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = public_addresses(host, port, self.allow_private)
        except PrivateTarget as e:
            raise httpcore.ConnectError(str(e)) from None
        except OSError as e:
            raise httpcore.ConnectError(f"{host} does not resolve: {e}") from None
        error: Exception | None = None
        for address in addresses:  # the checked address itself: no second lookup
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as e:
                error = e
        raise error or httpcore.ConnectError(f"{host} has no address")


def guarded_client(allow_private: bool, timeout: float, max_connections: int = 50) -> httpx.Client:
    """An httpx client whose connections pass the private-target rule (no proxies from the
    environment: a proxy would connect on its own terms)."""
    transport = httpx.HTTPTransport(
        trust_env=False,
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
    )
    # httpx builds its httpcore pool itself; its network backend is the one seam it leaves.
    transport._pool._network_backend = GuardedBackend(allow_private)
    return httpx.Client(
        transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
    )

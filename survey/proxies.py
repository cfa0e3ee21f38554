"""Which reverse proxies may tell the app the client's address and scheme: one setting, TRUSTED_PROXIES.

The same list feeds Werkzeug's ProxyFix (here) and gunicorn's `forwarded_allow_ips` (deploy/
gunicorn.conf.py), so the app and the server agree on who may set X-Forwarded-For and
X-Forwarded-Proto. A request from any other peer keeps its own address and scheme: a client can
write those headers itself (docs/bad-input.md row 32). `PROXY_HOPS` says how many proxies in a row
append to X-Forwarded-For (1 for nginx alone); set on its own, without TRUSTED_PROXIES, it keeps its
older meaning of trusting that many hops from any peer, for configurations written before this
setting existed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

from survey.client_address import parse_client_ip

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK = "127.0.0.1,::1"  # gunicorn's own default for forwarded_allow_ips


def trusted_networks(value: str | Iterable[str] | None) -> tuple[Network, ...]:
    """Parse TRUSTED_PROXIES: a list, or one comma-separated string, of addresses or CIDR networks.

    ValueError names the entry that is neither.
    """
    if value is None:
        return ()
    entries = value.split(",") if isinstance(value, str) else list(value)
    networks = []
    for entry in (str(e).strip() for e in entries):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"TRUSTED_PROXIES: {entry!r} is not an IP address or network") from None
    return tuple(networks)


def is_trusted(address: str | None, networks: tuple[Network, ...]) -> bool:
    ip = parse_client_ip(address)
    return ip is not None and any(ip in network for network in networks)


class TrustedProxyFix:
    """ProxyFix applied only to requests whose peer is a trusted proxy."""

    def __init__(self, app: Any, networks: tuple[Network, ...], hops: int) -> None:
        self.app = app
        self.networks = networks
        self.fixed = ProxyFix(app, x_for=hops, x_proto=hops)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if is_trusted(environ.get("REMOTE_ADDR"), self.networks):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)


def wrap(wsgi_app: Any, config: Mapping[str, Any]) -> Any:
    """The app behind the proxy handling TRUSTED_PROXIES and PROXY_HOPS ask for (maybe unchanged).

    The Host header is never taken from a proxy: printed QR URLs come from PUBLIC_BASE_URL.
    """
    networks = trusted_networks(config.get("TRUSTED_PROXIES"))
    hops = int(config.get("PROXY_HOPS", 0))
    if networks:
        return TrustedProxyFix(wsgi_app, networks, hops or 1)
    if hops > 0:
        return ProxyFix(wsgi_app, x_for=hops, x_proto=hops)
    return wsgi_app


def forwarded_allow_ips(config: Mapping[str, Any]) -> str:
    """gunicorn's `forwarded_allow_ips` for this configuration: the trusted proxies, else loopback."""
    networks = trusted_networks(config.get("TRUSTED_PROXIES"))
    return ",".join(str(network) for network in networks) or LOOPBACK

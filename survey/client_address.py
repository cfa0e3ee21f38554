"""One reading of a client's address for the proxies, the sign-in limits and the submission limits."""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_client_ip(address: str | None) -> IPAddress | None:
    """The address as an IP, None when it is missing or malformed.

    An IPv4 client reached over an IPv6 socket arrives as ``::ffff:a.b.c.d``; it is read as the IPv4
    address it is, so that it matches IPv4 proxy networks and shares the IPv4 client's limits.
    """
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip

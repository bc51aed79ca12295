"""A client address as a rate limit's key (pure)."""

from __future__ import annotations

import ipaddress


def limit_key(host: str) -> str:
    """The address itself for IPv4; its /64 network for IPv6, where one subscriber holds a whole /64 and could
    otherwise take a fresh address for every attempt. Anything unparsable is kept as given."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)

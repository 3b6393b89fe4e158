"""Who is on the other end of a web request, for log-in throttling and the audit log.

Behind a reverse proxy every request comes from the proxy; the proxy names the client in
`X-Forwarded-For`, which anyone can also write. So the header counts only when the immediate
peer is a proxy listed in `TONGDAI_TRUSTED_PROXIES`, and it is read from the right (the entries
our proxies appended) past every trusted proxy: the first untrusted address is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(text: str) -> tuple[Network, ...]:
    """`10.0.0.2, 172.16.0.0/12, ::1` as networks; ValueError naming the first bad entry."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network") from None
    return tuple(networks)


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, proxies: Sequence[Network]) -> bool:
    return any(address in network for network in proxies)


def client_address(
    remote_addr: str | None, forwarded_for: str | None, trusted_proxies: Sequence[Network]
) -> str:
    """The client's address as text, given the peer and the raw X-Forwarded-For header."""
    peer = _address(remote_addr or "")
    if peer is None:
        return remote_addr or "unknown"
    if not forwarded_for or not _trusted(peer, trusted_proxies):
        return str(peer)
    client = peer
    for entry in reversed(forwarded_for.split(",")):
        hop = _address(entry)
        if hop is None:
            break  # garbage further left was written by the client, not by a proxy of ours
        client = hop
        if not _trusted(hop, trusted_proxies):
            break
    return str(client)


def throttle_source(address: str) -> str:
    """What log-in throttling counts per: the address, or an IPv6 client's /64 network (one
    subscriber gets a whole /64 and could otherwise take a fresh address for every guess)."""
    parsed = _address(address)
    if parsed is None:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)

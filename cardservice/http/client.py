"""The client's address: the socket's peer, or what a trusted proxy says it forwarded.

`CARDSERVICE_FORWARDED_ALLOW_IPS` names the proxies (addresses or CIDRs, comma-separated;
default none). `X-Forwarded-For` counts only when the peer is one of them, and then the
address taken is the right-most one that is not itself a trusted proxy: a client can put
anything at the left of the header, but not past the proxy that appended its address.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from starlette.requests import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class ForwardedPolicy:
    """Which peers may tell us the client's address."""

    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> ForwardedPolicy:
        """`"10.0.0.1, 10.1.0.0/16"`; empty: trust nobody. A bad entry fails at start."""
        networks = []
        for item in (text or "").split(","):
            if item.strip():
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
        return cls(tuple(networks))

    def trusts(self, host: str | None) -> bool:
        address = _address(host) if host else None
        return address is not None and any(address in net for net in self.networks)

    def client_host(self, peer: str | None, forwarded_for: str | None) -> str | None:
        if not forwarded_for or not self.trusts(peer):
            return peer
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            if _address(hop) is None:
                return peer  # a garbled header from our own proxy: fall back to the peer
            if not self.trusts(hop):
                return str(_address(hop))
        return str(_address(hops[0])) if hops else peer


NO_PROXIES = ForwardedPolicy.parse("")


def forwarded_policy(request: Request) -> ForwardedPolicy:
    """The app's policy (set on its state by the app factory; none trusts no proxy)."""
    policy = getattr(request.app.state, "forwarded_policy", None)
    return policy if isinstance(policy, ForwardedPolicy) else NO_PROXIES


def client_host(request: Request) -> str | None:
    """The address to charge rate buckets to and to log."""
    peer = request.client.host if request.client else None
    return forwarded_policy(request).client_host(peer, request.headers.get("x-forwarded-for"))

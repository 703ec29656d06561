"""Which webhook URLs we will call: https only, and only to public addresses, so a client cannot make
us reach the metadata service, the Lambda runtime API, a VPC neighbour or this machine (SSRF)."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# IPv6 forms that carry an IPv4 address a router may deliver to: NAT64 (RFC 6052, RFC 8215).
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class UnsafeUrl(ValueError):
    """The URL must not be called; the message says why."""


@dataclass(frozen=True, slots=True)
class WebhookUrl:
    host: str  # lower case, without brackets for IPv6
    port: int
    target: str  # path and query, as sent in the request line

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == 443 else f"{host}:{self.port}"


def parse(url: str) -> WebhookUrl:
    """Syntax only: https, a host, no credentials, no fragment."""
    try:
        parts = urlsplit(url)
        port = parts.port or 443
    except ValueError as error:
        raise UnsafeUrl(f"not a valid URL ({error})") from None
    if parts.scheme.lower() != "https":
        raise UnsafeUrl("must be an https:// URL")
    if not parts.hostname:
        raise UnsafeUrl("has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("must not carry credentials")
    if parts.fragment:
        raise UnsafeUrl("must not have a #fragment")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return WebhookUrl(parts.hostname.lower().rstrip("."), port, target)


def embedded_ipv4(address: IpAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, Teredo, NAT64), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    # The deprecated IPv4-compatible form ::a.b.c.d (but not :: or ::1, which are themselves refused).
    if int(address) >> 32 == 0 and int(address) > 0xFFFF:
        return ipaddress.IPv4Address(int(address))
    return None


def refusal(address: IpAddress) -> str | None:
    """Why an address may not be called, or None for a public unicast address."""
    # The embedded IPv4 address first: it is where the packets would go, and names the reason best.
    for candidate in (embedded_ipv4(address), address):
        if candidate is None:
            continue
        if candidate.is_loopback:
            return f"{address} is a loopback address"
        if candidate.is_link_local or (
            isinstance(candidate, ipaddress.IPv6Address) and candidate.is_site_local
        ):
            return f"{address} is a link-local address"
        if candidate.is_multicast:
            return f"{address} is a multicast address"
        if candidate.is_unspecified or candidate.is_reserved:
            return f"{address} is a reserved address"
        if candidate.is_private or not candidate.is_global:
            return f"{address} is a private address"
    return None


def check_addresses(url: WebhookUrl, addresses: Iterable[str], allowed_hosts: Collection[str]) -> str:
    """The address to connect to: the first one, once every address the host has is public.

    A host in `allowed_hosts` (the deployment's list, empty by default) is exempt from the address check.
    """
    resolved = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
    if not resolved:
        raise UnsafeUrl(f"{url.host} has no address")
    if url.host not in allowed_hosts:
        for address in resolved:
            if reason := refusal(address):
                raise UnsafeUrl(f"{url.host} resolves to {reason}")
    return str(resolved[0])

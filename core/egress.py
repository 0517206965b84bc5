"""Outbound HTTP to addresses other people choose (webhook URLs), without a way into our network.

A URL's host is resolved once, every address it resolves to is checked, and the connection goes to
the checked address, so a name that answers a public address to the check and an internal one to
the connection (DNS rebinding) gets nowhere. The Host header, TLS SNI and certificate verification
still use the host name. Nothing here names a resolved address in an error: what a key holder can
read must not turn webhooks into a way to map internal names."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

REFUSED = "refused: the target is not a public address"

#: Special-purpose ranges that ``ipaddress`` still calls global, or that embed an IPv4 address a
#: translator would reach for us: NAT64, 6to4 (and its relay anycast), Teredo and the other IETF
#: protocol assignments, documentation, SRv6 SIDs, deprecated site-local, multicast, "this network".
_REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",
        "100.64.0.0/10",
        "192.0.0.0/24",
        "192.88.99.0/24",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "2001::/23",
        "2001:db8::/32",
        "2002::/16",
        "3fff::/20",
        "5f00::/16",
        "fec0::/10",
        "ff00::/8",
    )
)
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
_LOCAL_NAMES = ("localhost", "localhost.localdomain")


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is an ordinary public unicast address a webhook receiver may have.

    IPv4-mapped and IPv4-compatible IPv6 forms are refused whatever they embed: no real receiver
    is published that way, and they are the classic way round a check made on the IPv6 form."""
    if any(address in network for network in _REFUSED_NETWORKS if network.version == address.version):
        return False
    if isinstance(address, ipaddress.IPv6Address) and address not in _GLOBAL_UNICAST_V6:
        return False  # loopback, unspecified, mapped / compatible IPv4, ULA, link-local, ...
    return address.is_global and not (address.is_multicast or address.is_reserved)


def literal(host: str) -> IPAddress | None:
    """The address ``host`` is when it is an IP literal, else None (a name to resolve)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def local_name(host: str) -> bool:
    """Whether ``host`` names this machine without asking DNS (localhost and *.localhost)."""
    name = host.lower().rstrip(".")
    return name in _LOCAL_NAMES or name.endswith(".localhost")


def literal_internal_address(url: str) -> str | None:
    """The host of ``url`` when, without resolving anything, it is already known not to be public
    (localhost, or an IP literal outside the public ranges): for checks made while answering."""
    host = httpx.URL(url).host
    if local_name(host):
        return host
    address = literal(host)
    return str(address) if address is not None and not is_public(address) else None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to for a TCP connection, in the resolver's order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


class TargetRefused(Exception):
    """The URL's host is, or resolves to, an address that is not public."""

    def __init__(self) -> None:
        super().__init__(REFUSED)


class PinnedTransport(httpx.AsyncBaseTransport):
    """Resolve each request's host once, refuse it unless every address is public (or private
    hosts are allowed), and send the request to the checked addresses in the resolver's order
    (the next only when one refuses the connection, as for ``localhost``'s ::1 and 127.0.0.1).

    The URL's host is replaced by the address while the Host header (set by the client from the
    original URL) and the ``sni_hostname`` extension keep the name, so TLS verifies the name's
    certificate. Connections are never kept alive: a pooled connection to an address must not
    carry a later request for another name that happens to share it."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        resolver: Resolver = resolve,
        inner: httpx.AsyncBaseTransport | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        self.inner = inner or httpx.AsyncHTTPTransport(
            verify=verify, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0)
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Check and pin the address, then hand the request to the inner transport."""
        host = request.url.host
        fixed = literal(host)
        if fixed is None and local_name(host) and not self.allow_private:
            raise TargetRefused()
        if fixed is not None:
            addresses = [fixed]
        else:
            port = request.url.port or (443 if request.url.scheme == "https" else 80)
            try:
                addresses = await self.resolver(host, port)
            except OSError:
                raise httpx.ConnectError("the host name did not resolve", request=request) from None
        if not addresses:
            raise httpx.ConnectError("the host name did not resolve", request=request)
        if not self.allow_private and not all(is_public(address) for address in addresses):
            raise TargetRefused()
        if fixed is not None:
            return await self.inner.handle_async_request(request)
        request.extensions = {**request.extensions, "sni_hostname": host}
        named = request.url
        refused: httpx.ConnectError | None = None
        for address in addresses:  # every one was checked; the next is tried only if one refuses
            request.url = named.copy_with(host=str(address))
            try:
                return await self.inner.handle_async_request(request)
            except httpx.ConnectError as error:
                refused = error
        assert refused is not None
        raise refused

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self.inner.aclose()


def pinned_client(
    *,
    allow_private: bool = False,
    resolver: Resolver = resolve,
    inner: httpx.AsyncBaseTransport | None = None,
    verify: ssl.SSLContext | bool = True,
) -> httpx.AsyncClient:
    """An HTTP client for URLs other people chose: pinned, checked addresses; no redirects; no proxy
    from the environment and no ``.netrc`` credentials (``trust_env=False``)."""
    transport = PinnedTransport(allow_private=allow_private, resolver=resolver, inner=inner, verify=verify)
    return httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False)


_FAILURES: tuple[tuple[type[Exception], str], ...] = (
    (httpx.ConnectTimeout, "timed out connecting"),
    (httpx.ReadTimeout, "timed out waiting for the response"),
    (httpx.TimeoutException, "timed out"),
    (httpx.ConnectError, "could not connect"),
    (httpx.RemoteProtocolError, "the receiver broke the HTTP exchange"),
    (httpx.HTTPError, "the request failed"),
)


def describe_failure(failure: Exception) -> str:
    """A fixed phrase for a failed request (its type and what it means), never its message: socket
    errors name the address they tried, which key holders must not learn."""
    if isinstance(failure, TargetRefused):
        return REFUSED
    if isinstance(failure, httpx.ConnectError) and str(failure) == "the host name did not resolve":
        return "ConnectError: the host name did not resolve"
    meaning = next((text for kind, text in _FAILURES if isinstance(failure, kind)), "the request failed")
    return f"{type(failure).__name__}: {meaning}"

"""Which inference server judgedesk may talk to: a URL the user gave, checked, and added to the offline allowlist.

Data must not leave the organisation, so an endpoint is an IP address (or "localhost") in a block that is the
user's own network, and nothing else: a host name would need a DNS query (itself a packet that leaks the name).
The policy is one table, most specific block first (`SERVER_ADDRESS_POLICY`):

    accepted   loopback 127.0.0.0/8 and ::1; RFC 1918 10/8, 172.16/12, 192.168/16; IPv6 ULA fc00::/7
    opt-in     CGNAT 100.64.0.0/10 (`allow_cgnat=True`): a Tailscale-style VPN, or a carrier's shared NAT
    refused    cloud metadata services (169.254.169.254, fd00:ec2::254, 100.100.100.200), link-local
               169.254/16 and fe80::/10, the unspecified 0.0.0.0/8 and ::, and IPv6 addresses that tunnel or
               translate to IPv4 (Teredo 2001::/32, 6to4 2002::/16, NAT64 64:ff9b::/96 and 64:ff9b:1::/48)
    refused    everything else: the public internet, documentation and reserved blocks, multicast

The table is an allowlist, not Python's `is_private`: that counts link-local, documentation blocks and all of
2001::/23 (Teredo included) as private. Only the exact host:port is allowed in the guard, nothing else opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Literal
from urllib.parse import urlsplit

from ._errors import InputError
from ._offline import allow_endpoint

__all__ = ["SERVER_ADDRESS_POLICY", "AddressBlock", "ServerEndpoint", "address_block", "parse_server_url"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class AddressBlock:
    """One row of the server address policy."""

    network: IPv4Network | IPv6Network
    """The addresses the row covers."""
    name: str
    """What the block is, as a refusal names it ('IPv4 link-local')."""
    verdict: Literal["accepted", "opt-in", "refused"]
    """Whether a server may be there: 'opt-in' only when the caller says the block is its own network."""
    why: str = ""
    """Why the block is refused or needs the opt-in; empty for an accepted block."""


def _block(cidr: str, name: str, verdict: Literal["accepted", "opt-in", "refused"], why: str = "") -> AddressBlock:
    return AddressBlock(ip_network(cidr), name, verdict, why)


_METADATA = "it answers with this machine's cloud credentials and configuration, never as an inference server"
_LINK_LOCAL = ("any machine on the same link can take an address there, and cloud metadata services live there; "
               "give the server a private-network address")
_TUNNELLED = ("packets to it are tunnelled or translated to an IPv4 address through relays outside your network; "
              "give the server's own IPv4 address")

SERVER_ADDRESS_POLICY: tuple[AddressBlock, ...] = (
    _block("127.0.0.0/8", "loopback", "accepted"),
    _block("::1/128", "loopback", "accepted"),
    _block("10.0.0.0/8", "an RFC 1918 private network", "accepted"),
    _block("172.16.0.0/12", "an RFC 1918 private network", "accepted"),
    _block("192.168.0.0/16", "an RFC 1918 private network", "accepted"),
    _block("fc00::/7", "an IPv6 unique local network (ULA)", "accepted"),
    _block("100.64.0.0/10", "the CGNAT shared address space (RFC 6598)", "opt-in",
           "a carrier's NAT shares it among its customers, so it is your own network only when you run it (a "
           "Tailscale-style VPN); it is refused unless CGNAT addresses are allowed explicitly (--allow-cgnat "
           "on the command line)"),
    _block("169.254.169.254/32", "the cloud metadata service", "refused", _METADATA),
    _block("fd00:ec2::254/128", "the cloud metadata service (AWS, IPv6)", "refused", _METADATA),
    _block("100.100.100.200/32", "the cloud metadata service (Alibaba Cloud)", "refused", _METADATA),
    _block("169.254.0.0/16", "IPv4 link-local", "refused", _LINK_LOCAL),
    _block("fe80::/10", "IPv6 link-local", "refused", _LINK_LOCAL),
    _block("0.0.0.0/8", "the unspecified address ('this host')", "refused", "it names no server"),
    _block("::/128", "the unspecified address", "refused", "it names no server"),
    _block("2001::/32", "Teredo", "refused", _TUNNELLED),
    _block("2002::/16", "6to4", "refused", _TUNNELLED),
    _block("64:ff9b::/96", "NAT64", "refused", _TUNNELLED),
    _block("64:ff9b:1::/48", "local-use NAT64", "refused", _TUNNELLED),
)
"""Every block with a rule; an address in none of them is outside the user's network and refused."""


def address_block(address: IPv4Address | IPv6Address) -> AddressBlock | None:
    """The most specific policy row covering `address` (a metadata host before its link-local block), or None."""
    matches = [row for row in SERVER_ADDRESS_POLICY if row.network.version == address.version
               and address in row.network]
    return max(matches, key=lambda row: row.network.prefixlen, default=None)


@dataclass(frozen=True)
class ServerEndpoint:
    """An inference server's address, as judgedesk will connect to it."""

    scheme: str
    """'http' or 'https'."""
    host: str
    """An IP address, or 'localhost'."""
    port: int
    """The TCP port."""

    @property
    def address(self) -> str:
        """'host:port', an IPv6 host in brackets: how messages and the status bar name the server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}"

    def allow(self) -> None:
        """Add exactly this host:port to the offline guard's allowlist."""
        allow_endpoint(self.host, self.port)

    def __str__(self) -> str:
        return self.url


def parse_server_url(text: str, *, allow_cgnat: bool = False) -> ServerEndpoint:
    """The endpoint `text` names ('http://10.0.0.5:8080', '127.0.0.1:8000', a trailing '/v1' is dropped).

    Args:
        text: the URL as the user gave it.
        allow_cgnat: accept the CGNAT block 100.64.0.0/10, for a network the user runs there (a Tailscale-style
            VPN); off by default, since on a carrier's network those addresses belong to other customers.

    Raises InputError (field 'server') for a host name, an address outside `SERVER_ADDRESS_POLICY`'s accepted
    blocks (the message names the block and why), or anything not a server URL.
    """
    raw = text.strip()
    parts = urlsplit(raw if "://" in raw else f"http://{raw}")
    if parts.scheme not in _DEFAULT_PORTS:
        raise InputError(f"{text!r}: the server URL must start with http:// or https://", field="server")
    if parts.path.rstrip("/") not in ("", "/v1") or parts.query or parts.fragment:
        raise InputError(f"{text!r}: give the server's address only, e.g. http://10.0.0.5:8080", field="server")
    if parts.username or parts.password:
        raise InputError(f"{text!r}: credentials do not belong in the URL", field="server")
    host = parts.hostname or ""
    try:
        port = _DEFAULT_PORTS[parts.scheme] if parts.port is None else parts.port
    except ValueError:
        port = 0
    if not 0 < port <= 65535:
        raise InputError(f"{text!r}: the port is not a number from 1 to 65535", field="server")
    if host.lower() == "localhost":
        return ServerEndpoint(parts.scheme, "localhost", port)
    try:
        address = ip_address(host)
    except ValueError:
        raise InputError(f"{text!r}: give the server's IP address, not a host name (resolving a name sends a DNS "
                         "query, which judgedesk does not do)", field="server") from None
    _check_address(text, address, allow_cgnat=allow_cgnat)
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return ServerEndpoint(parts.scheme, str(address), port)


def _check_address(text: str, address: IPv4Address | IPv6Address, *, allow_cgnat: bool) -> None:
    """Refuse `address` unless the policy accepts it; an IPv4-mapped address is judged as the IPv4 it maps."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    zone = address.scope_id if isinstance(address, IPv6Address) else None
    unzoned = ip_address(str(address).partition("%")[0])
    row = address_block(unzoned)
    if row is None:
        raise InputError(f"{text!r}: {unzoned} is not a loopback or private-network address; judgedesk only talks "
                         "to servers inside your own network", field="server")
    if row.verdict == "refused" or (row.verdict == "opt-in" and not allow_cgnat):
        raise InputError(f"{text!r}: {unzoned} is {row.name} ({row.network}): {row.why}", field="server")
    if zone:
        # The guard's allowlist and the connection would both drop or misread the zone; only link-local needs one.
        raise InputError(f"{text!r}: a zone index (%{zone}) belongs to link-local addresses only; give {unzoned}",
                         field="server")

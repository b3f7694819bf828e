"""Which inference server judgedesk may talk to: a URL the user gave, checked, and added to the offline allowlist.

Data must not leave the organisation, so an endpoint is an IP address (or "localhost") on the loopback or a
private network: a host name would need a DNS query (itself a packet that leaks the name), and a public address is
outside the user's own network. Only the exact host:port is allowed, nothing else opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address, ip_address
from urllib.parse import urlsplit

from ._errors import InputError
from ._offline import allow_endpoint

__all__ = ["ServerEndpoint", "parse_server_url"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


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


def parse_server_url(text: str) -> ServerEndpoint:
    """The endpoint `text` names ('http://10.0.0.5:8080', '127.0.0.1:8000', a trailing '/v1' is dropped).

    Raises InputError (field 'server') for a host name, a public address, or anything not a server URL.
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
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not (address.is_loopback or address.is_private or address.is_link_local) or address.is_unspecified:
        raise InputError(f"{text!r}: {address} is not a loopback or private-network address; judgedesk only talks "
                         "to servers inside your own network", field="server")
    return ServerEndpoint(parts.scheme, str(address), port)

"""The offline guard: judgedesk refuses outbound network access from its own process.

judgedesk judges confidential data, so "offline" is enforced, not promised. Two layers, both inside Python:

- A PEP 578 audit hook sees every Python socket path (urllib, http.client, requests, httpx, asyncio, a bare
  socket), cannot be removed once added, and runs before the system call, so a refused connection or datagram
  sends no packet. Name lookups are refused too, forward and reverse (`getaddrinfo`, `gethostbyname`,
  `gethostbyname_ex`, `gethostbyaddr`, `getnameinfo`): a DNS query is itself a packet and leaks the name.
- `socket.socket`'s connect, connect_ex, sendto, sendmsg and bind refuse a host name before calling C. CPython
  resolves a (host, port) address inside those C methods (getsockaddrarg) *before* it raises their audit event,
  so the hook alone would see `sock.connect(("name.example.com", 80))` only after its DNS query had left, or not
  at all when the lookup fails. An IP literal goes on to C and to the hook as before.

HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE keep those libraries from trying at all. `getservbyname`,
`getservbyport`, `gethostname` and `getprotobyname` read local files and stay allowed.

Not covered, plainly: native code that opens sockets without Python's `socket` module (a C or Rust library), a
`_socket.socket` made directly rather than through `socket.socket`, and any child process that does not import
judgedesk (a child that does, like the quantization worker, installs its own guard). "localhost" is trusted to
resolve from the hosts file, as every system ships it. Binding and listening are not checked, only outbound
destinations and the names that would be looked up.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any, NoReturn

from ._errors import InputError, NetworkBlockedError

__all__ = [
    "AllowedEndpoint",
    "allow_endpoint",
    "allow_loopback",
    "allowed_endpoints",
    "allowing",
    "guard_installed",
    "install_offline_guard",
]

_LOCALHOST = (IPv4Address("127.0.0.1"), IPv6Address("::1"))
_INTERNET_FAMILIES = (socket.AF_INET, socket.AF_INET6)  # the only families whose addresses C resolves by name
_ADDRESS_METHODS = ("connect", "connect_ex", "sendto", "sendmsg", "bind")  # socket.socket's, resolving in C


@dataclass(frozen=True)
class AllowedEndpoint:
    """One allowlist entry: the addresses it covers (one host is a /32 or /128) and a port (None: any)."""

    network: IPv4Network | IPv6Network
    port: int | None = None

    def admits(self, address: IPv4Address | IPv6Address, port: int | None) -> bool:
        """Whether this entry covers `address` on `port` (None: a lookup that names no port)."""
        return address in self.network and (self.port is None or port is None or port == self.port)

    def __str__(self) -> str:
        host = str(self.network.network_address) if self.network.num_addresses == 1 else str(self.network)
        return host if self.port is None else _destination(host, self.port)


_lock = threading.Lock()  # serialises writers; the hook reads the tuple without it (one atomic load)
_allowlist: tuple[AllowedEndpoint, ...] = ()
_installed = False


def install_offline_guard() -> None:
    """Turn the guard on; safe to call any number of times (the hook is added once per process)."""
    global _installed
    # Forced to "1", not setdefault: a user's HF_HUB_OFFLINE=0 must not switch judgedesk online.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    with _lock:
        if not _installed:
            sys.addaudithook(_refuse_network)
            for name in _ADDRESS_METHODS:
                setattr(socket.socket, name, _refusing_host_names(name, getattr(socket.socket, name)))
            _installed = True


def guard_installed() -> bool:
    """Whether this process has the guard's audit hook."""
    return _installed


def allow_endpoint(host: str, port: int | None = None) -> None:
    """Allow `host` (an IP address, or "localhost" for 127.0.0.1 and ::1) on `port` (None: any port)."""
    if port is not None and (type(port) is not int or not 0 <= port <= 65535):
        raise InputError(f"{port!r} is not a port number (0 to 65535)", field="port")
    address = _parse_ip(host)
    if host.lower() == "localhost":
        _extend([AllowedEndpoint(ip_network(loopback), port) for loopback in _LOCALHOST])
    elif address is None:  # a host name would need a DNS query, which is itself network traffic
        raise InputError(f"{host!r} is not an IP address or 'localhost'", field="host")
    else:
        _extend([AllowedEndpoint(ip_network(address), port)])


def allow_loopback() -> None:
    """Allow 127.0.0.0/8 and ::1 on every port, for a backend that talks to a local server."""
    _extend([AllowedEndpoint(ip_network("127.0.0.0/8")), AllowedEndpoint(ip_network("::1/128"))])


def allowed_endpoints() -> tuple[AllowedEndpoint, ...]:
    """The current allowlist, in the order entries were added (empty by default: even loopback is refused)."""
    return _allowlist


@contextmanager
def allowing(host: str, port: int | None = None) -> Iterator[None]:
    """Allow an endpoint for the duration of a `with` block, then restore the allowlist as it was."""
    global _allowlist
    previous = _allowlist
    allow_endpoint(host, port)
    try:
        yield
    finally:
        with _lock:
            _allowlist = previous


def _extend(entries: list[AllowedEndpoint]) -> None:
    global _allowlist
    with _lock:
        _allowlist = _allowlist + tuple(entry for entry in entries if entry not in _allowlist)


def _refuse_network(event: str, args: tuple[Any, ...]) -> None:
    """The audit hook: it sees every audit event of the process, so anything not a socket returns at once."""
    if not event.startswith("socket."):
        return
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        address = args[1]
        if address is None or isinstance(address, str | bytes | bytearray):
            return  # sendmsg on a socket already connected (checked then), or an AF_UNIX path: local IPC
        host, port = (address[0], address[1]) if isinstance(address, tuple) and address else (address, None)
        _check("a connection to" if event == "socket.connect" else "a datagram to", host, port)
    elif event == "socket.getaddrinfo" and args[0] is not None:
        # Resolving a literal sends nothing: it is the first step of a connect, so it is worded as one.
        literal = _parse_ip(_text(args[0])) is not None
        _check("a connection to" if literal else "a name lookup for", args[0], _port_number(args[1]))
    elif event == "socket.gethostbyname":  # gethostbyname_ex raises this event too
        _check("a name lookup for", args[0], None)
    elif event in ("socket.gethostbyaddr", "socket.getnameinfo"):
        # A reverse lookup asks a name server, not the endpoint, so no allowed endpoint permits one (the PTR
        # query for an allowed 10.0.0.5 would still go to the resolver). getnameinfo's event does not carry its
        # flags, so even a numeric-only call is refused: the address is already at hand.
        target = args[0][0] if event == "socket.getnameinfo" and isinstance(args[0], tuple) else args[0]
        _refuse("a reverse lookup of", _text(target), "a reverse lookup asks a name server, which no allowed "
                "endpoint permits")


def _refusing_host_names(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """`method` of socket.socket, refusing a host name in its address before C resolves it."""

    @functools.wraps(method)
    def guarded(sock: socket.socket, *args: Any, **kwargs: Any) -> Any:
        if sock.family in _INTERNET_FAMILIES:
            _refuse_host_name(name, _address_argument(name, args))
        return method(sock, *args, **kwargs)

    return guarded


def _address_argument(method: str, args: tuple[Any, ...]) -> object:
    """The address among a method's positional arguments (the C methods take no keywords): connect, connect_ex
    and bind take only it, sendto(data[, flags], address) takes it last, sendmsg(buffers, ancdata, flags,
    address) fourth."""
    if method == "sendmsg":
        return args[3] if len(args) > 3 else None
    return args[-1] if args else None


def _refuse_host_name(method: str, address: object) -> None:
    if not isinstance(address, tuple) or not address or not isinstance(address[0], str | bytes | bytearray):
        return  # not a (host, port) address: the C method raises its own TypeError, as it would unguarded
    host = _text(address[0])
    if host in ("", "<broadcast>") or _parse_ip(host) is not None:
        return  # C fills these in without a lookup, and the audit event that follows checks the destination
    if method == "bind" and host.lower() == "localhost":
        return  # a bind sends nothing, and localhost comes from the hosts file
    port = address[1] if len(address) > 1 and type(address[1]) is int else None
    _check("a name lookup for", host, port)


def _check(what: str, host: object, port: int | None) -> None:
    text = _text(host)
    if text.lower() == "localhost":
        candidates: tuple[IPv4Address | IPv6Address, ...] = _LOCALHOST
    else:
        parsed = _parse_ip(text)
        candidates = () if parsed is None else (parsed,)
    entries = _allowlist
    if not any(entry.admits(address, port) for address in candidates for entry in entries):
        shown = _destination(text, port) if isinstance(port, int) else text
        _refuse(what, shown, "to use a local inference server, allow its endpoint explicitly")


def _refuse(what: str, shown: str, advice: str) -> NoReturn:
    raise NetworkBlockedError(
        f"judgedesk is offline: refused {what} {shown} (judgedesk never sends data over the network; {advice})"
    )


def _parse_ip(text: str) -> IPv4Address | IPv6Address | None:
    """The address a literal names, or None for a host name; "::ffff:a.b.c.d" is taken as IPv4."""
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _text(host: object) -> str:
    return host.decode("ascii", "replace") if isinstance(host, bytes | bytearray) else str(host)


def _port_number(port: object) -> int | None:
    """getaddrinfo's port as a number; None when absent or a service name (the connect is checked later)."""
    text = "" if port is None else _text(port)
    return port if isinstance(port, int) else int(text) if text.isdigit() else None


def _destination(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

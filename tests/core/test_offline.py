"""Tests for the offline guard.

The rule these tests keep: no test sends a packet to a real address. Anything aimed beyond loopback runs in a
child process inside a fresh network namespace (`unshare -n`), where only a down loopback device exists, so
a broken guard would fail the test without reaching the network (test_offline_dns.py does the same for name
lookups, with a resolver of its own). In this process, only loopback is used.
Once installed here, the audit hook stays for the whole session (hooks cannot be removed); that is intended,
since judgedesk always runs guarded. Every test leaves the allowlist as it found it.
"""

from __future__ import annotations

import _socket
import errno
import functools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from judgedesk.core import _offline as offline
from judgedesk.core._errors import InputError, JudgedeskError, NetworkBlockedError

# The child prints, for each attempt, the type name, message and errno of what stopped it. A URLError is
# unwrapped to its reason, which is where urllib keeps the socket-level error.
_PROBE = r"""
import json, socket, sys, urllib.error, urllib.request

if sys.argv[1] == "guarded":
    from judgedesk.core._offline import allowed_endpoints, install_offline_guard
    install_offline_guard()
    assert allowed_endpoints() == (), allowed_endpoints()

def tcp_create_connection():
    with socket.create_connection(("93.184.216.34", 80), timeout=2):
        pass

def tcp_bare_connect():  # skips getaddrinfo, so only the socket.connect event can stop it
    with socket.socket() as sock:
        sock.settimeout(2)
        sock.connect(("93.184.216.34", 80))

def http_urlopen():
    urllib.request.urlopen("http://example.com", timeout=2).close()

def udp_sendto():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"judgedesk", ("8.8.8.8", 53))

def loopback_connect():
    with socket.socket() as sock:
        sock.settimeout(2)
        sock.connect(("127.0.0.1", 9))

results = {}
for attempt in (tcp_create_connection, tcp_bare_connect, http_urlopen, udp_sendto, loopback_connect):
    try:
        attempt()
    except OSError as exc:
        if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
            exc = exc.reason
        results[attempt.__name__] = {"type": type(exc).__name__, "message": str(exc), "errno": exc.errno}
    else:
        results[attempt.__name__] = {"type": None, "message": "it went through", "errno": None}
print(json.dumps(results))
"""


@functools.cache
def _why_no_namespace() -> str | None:
    """Why a network namespace cannot be made here (None when it can); checked once per session."""
    if shutil.which("unshare") is None:
        return "`unshare` is not installed, so no network namespace can isolate the non-loopback tests"
    try:
        result = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`unshare -n true` could not run ({exc}); the non-loopback tests need a network namespace"
    if result.returncode != 0:
        return (
            f"`unshare -n true` failed ({result.stderr.strip() or result.returncode}); the non-loopback "
            "tests need a network namespace (root or user namespaces) so that no packet can leave"
        )
    return None


def _probe_in_namespace(mode: str) -> dict[str, dict[str, Any]]:
    reason = _why_no_namespace()
    if reason is not None:
        pytest.skip(reason)
    result = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    probed: dict[str, dict[str, Any]] = json.loads(result.stdout.strip().splitlines()[-1])
    return probed


@pytest.fixture
def guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The guard on, with an empty allowlist for the test; the allowlist it found is put back afterwards."""
    offline.install_offline_guard()
    found = offline.allowed_endpoints()
    monkeypatch.setattr(offline, "_allowlist", ())
    yield
    monkeypatch.undo()
    assert offline.allowed_endpoints() == found


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP server of our own on 127.0.0.1; binding and listening are never refused."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(5)
        yield server


def _port(server: socket.socket) -> int:
    port: int = server.getsockname()[1]
    return port


def _assert_nothing_arrived(server: socket.socket) -> None:
    # A SYN that reached the kernel would have completed a handshake into the backlog.
    server.settimeout(0)
    with pytest.raises(BlockingIOError):
        server.accept()


# --- in a network namespace: real destinations, no way out ------------------------------------------


def test_the_namespace_has_no_network_without_the_guard() -> None:
    probed = _probe_in_namespace("unguarded")
    for attempt in ("tcp_create_connection", "tcp_bare_connect", "udp_sendto"):
        assert probed[attempt]["type"] not in (None, "NetworkBlockedError"), probed[attempt]
        assert probed[attempt]["errno"] == errno.ENETUNREACH, probed[attempt]


def test_the_guard_refuses_every_outbound_path_and_names_the_destination() -> None:
    probed = _probe_in_namespace("guarded")
    expected = {
        "tcp_create_connection": "refused a connection to 93.184.216.34:80",
        "tcp_bare_connect": "refused a connection to 93.184.216.34:80",
        "http_urlopen": "refused a name lookup for example.com:80",
        "udp_sendto": "refused a datagram to 8.8.8.8:53",
        "loopback_connect": "refused a connection to 127.0.0.1:9",
    }
    for attempt, destination in expected.items():
        assert probed[attempt]["type"] == "NetworkBlockedError", probed[attempt]
        message = probed[attempt]["message"]
        assert message.startswith(f"judgedesk is offline: {destination} "), message
        assert "allow its endpoint explicitly" in message


# --- in this process: loopback and local IPC only ---------------------------------------------------


def test_installing_twice_is_harmless(guard: None, monkeypatch: pytest.MonkeyPatch) -> None:
    added: list[object] = []
    monkeypatch.setattr(sys, "addaudithook", added.append)
    offline.install_offline_guard()
    offline.install_offline_guard()
    assert offline.guard_installed()
    assert added == []
    for name in ("connect", "connect_ex", "sendto", "sendmsg", "bind"):  # wrapped once, around the C method
        assert getattr(socket.socket, name).__wrapped__ is getattr(_socket.socket, name)


def test_the_name_check_passes_ip_literals_on_to_the_audit_hook(guard: None, listener: socket.socket) -> None:
    # The host names themselves are refused in test_offline_dns.py, inside a namespace: a broken guard here
    # would send a real DNS query.
    port = _port(listener)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        with pytest.raises(NetworkBlockedError, match=f"refused a datagram to 127.0.0.1:{port} "):
            udp.sendto(b"judgedesk", 0, ("127.0.0.1", port))
        with pytest.raises(NetworkBlockedError, match=f"refused a datagram to 127.0.0.1:{port} "):
            udp.sendmsg([b"judgedesk"], [], 0, ("127.0.0.1", port))
    with socket.socket() as client, pytest.raises(NetworkBlockedError, match=f"connection to 127.0.0.1:{port} "):
        client.connect_ex(("127.0.0.1", port))
    _assert_nothing_arrived(listener)


def test_a_malformed_address_gets_the_error_it_gets_unguarded(guard: None) -> None:
    with socket.socket() as client, pytest.raises(TypeError):
        client.connect("127.0.0.1")
    with socket.socket() as client, pytest.raises(TypeError):
        client.connect((80, "127.0.0.1"))


def test_binding_stays_allowed(guard: None) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()


def test_the_hugging_face_variables_are_forced_to_1(guard: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE")
    offline.install_offline_guard()
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["TRANSFORMERS_OFFLINE"] == "1"


def test_loopback_is_refused_by_default(guard: None, listener: socket.socket) -> None:
    port = _port(listener)
    with socket.socket() as client, pytest.raises(NetworkBlockedError, match=f"127.0.0.1:{port} "):
        client.connect(("127.0.0.1", port))
    with pytest.raises(NetworkBlockedError, match=f"connection to 127.0.0.1:{port} "):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, pytest.raises(NetworkBlockedError):
        udp.sendto(b"judgedesk", ("127.0.0.1", port))
    with pytest.raises(NetworkBlockedError, match="name lookup for localhost"):
        socket.getaddrinfo("localhost", port)
    _assert_nothing_arrived(listener)


def test_the_error_is_a_judgedesk_error_and_a_connection_refused_error(
    guard: None, listener: socket.socket
) -> None:
    with socket.socket() as client, pytest.raises(ConnectionRefusedError) as caught:
        client.connect(listener.getsockname())
    assert isinstance(caught.value, JudgedeskError)
    assert isinstance(caught.value, NetworkBlockedError)


def test_allowing_lets_a_real_loopback_connection_through_then_refuses_again(
    guard: None, listener: socket.socket
) -> None:
    port = _port(listener)
    with offline.allowing("127.0.0.1", port):
        assert [str(entry) for entry in offline.allowed_endpoints()] == [f"127.0.0.1:{port}"]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            server_side, _ = listener.accept()
            with server_side:
                client.sendall(b"judgedesk")
                assert server_side.recv(16) == b"judgedesk"
    assert offline.allowed_endpoints() == ()
    with socket.socket() as client, pytest.raises(NetworkBlockedError):
        client.connect(("127.0.0.1", port))
    _assert_nothing_arrived(listener)


def test_allowing_restores_the_allowlist_when_the_block_raises(guard: None) -> None:
    offline.allow_endpoint("127.0.0.1", 8080)
    before = offline.allowed_endpoints()
    with pytest.raises(RuntimeError), offline.allowing("127.0.0.2", 9090):
        raise RuntimeError("inside the block")
    assert offline.allowed_endpoints() == before


def test_an_endpoint_allows_only_its_own_port(guard: None, listener: socket.socket) -> None:
    port = _port(listener)
    with offline.allowing("127.0.0.1", port + 1 if port < 65535 else port - 1):
        with socket.socket() as client, pytest.raises(NetworkBlockedError):
            client.connect(("127.0.0.1", port))
    _assert_nothing_arrived(listener)


def test_allow_loopback_opens_every_loopback_port_and_localhost(guard: None, listener: socket.socket) -> None:
    port = _port(listener)
    offline.allow_loopback()
    offline.allow_loopback()  # no duplicate entries
    assert [str(entry) for entry in offline.allowed_endpoints()] == ["127.0.0.0/8", "::1"]
    assert socket.getaddrinfo("localhost", port, type=socket.SOCK_STREAM)
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        listener.accept()[0].close()


def test_an_ipv4_mapped_address_counts_as_ipv4(guard: None) -> None:
    offline.allow_endpoint("127.0.0.1", 5000)
    assert socket.getaddrinfo("::ffff:127.0.0.1", 5000, socket.AF_INET6)
    with pytest.raises(NetworkBlockedError, match=r"\[::ffff:127.0.0.2\]:5000"):
        socket.getaddrinfo("::ffff:127.0.0.2", 5000, socket.AF_INET6)


def test_unix_sockets_are_always_allowed(guard: None, tmp_path: Path) -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(b"judgedesk")
        assert right.recv(16) == b"judgedesk"
    path = str(tmp_path / "judge.sock")
    with socket.socket(socket.AF_UNIX) as server, socket.socket(socket.AF_UNIX) as client:
        server.bind(path)
        server.listen()
        client.connect(path)
        server.accept()[0].close()


def test_a_lookup_without_a_host_is_allowed(guard: None) -> None:
    assert socket.getaddrinfo(None, 8080, type=socket.SOCK_STREAM)


def test_allow_endpoint_refuses_host_names_and_bad_ports(guard: None) -> None:
    with pytest.raises(InputError, match="'example.com' is not an IP address"):
        offline.allow_endpoint("example.com", 443)
    with pytest.raises(InputError, match="70000 is not a port number"):
        offline.allow_endpoint("127.0.0.1", 70000)
    assert offline.allowed_endpoints() == ()


def test_allowed_endpoints_are_shown_as_host_and_port(guard: None) -> None:
    offline.allow_endpoint("10.0.0.5", 8080)
    offline.allow_endpoint("::1", 11434)
    offline.allow_endpoint("localhost", 8000)
    offline.allow_endpoint("192.168.1.20")
    shown = [str(entry) for entry in offline.allowed_endpoints()]
    assert shown == ["10.0.0.5:8080", "[::1]:11434", "127.0.0.1:8000", "[::1]:8000", "192.168.1.20"]


# --- native code: llama.cpp opens no sockets --------------------------------------------------------

# The C library's socket and resolver entry points: a library that imports none of them cannot reach the network
# through libc (the audit hook sees none of its calls, so this is what keeps llama.cpp offline).
_NETWORK_FUNCTIONS = re.compile(r"(socket|connect|sendto|sendmsg|sendmmsg|getaddrinfo|getnameinfo|gethostbyname\w*"
                                r"|gethostbyaddr\w*|res_n?query|res_n?search|__res_\w+)")


linux_only = pytest.mark.skipif(sys.platform != "linux", reason="reads ELF dynamic symbols with nm -D")


def _imported_network_functions(library: Path) -> set[str]:
    nm = shutil.which("nm")
    if nm is None:
        pytest.fail("nm (Debian package binutils, installed by `make setup`) is needed to inspect llama.cpp")
    listing = subprocess.run([nm, "-D", "--undefined-only", str(library)], capture_output=True, text=True,
                             check=True).stdout
    names = {line.split()[-1].split("@")[0] for line in listing.splitlines() if line.strip()}
    return {name for name in names if _NETWORK_FUNCTIONS.fullmatch(name)}


@linux_only
def test_no_llama_cpp_library_imports_a_socket_function() -> None:
    from tests.llama_build import LIB_DIR

    libraries = sorted(path for path in LIB_DIR.iterdir() if ".so" in path.name and not path.is_symlink())
    assert libraries, f"no shared library in {LIB_DIR}"
    assert {path.name: _imported_network_functions(path) for path in libraries} == \
        {path.name: set() for path in libraries}


@linux_only
def test_the_inspection_finds_socket_functions_where_there_are_some() -> None:
    socket_module = getattr(_socket, "__file__", None)
    if socket_module is None:
        pytest.skip("this Python has _socket built in, so there is no library to inspect")
    assert {"socket", "connect", "sendto", "getaddrinfo", "getnameinfo"} <= _imported_network_functions(
        Path(socket_module))

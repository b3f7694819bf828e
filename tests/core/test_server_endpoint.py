"""Which server URLs judgedesk accepts, and what accepting one opens in the offline guard.

No test here sends a packet to a real address: private addresses are only ever checked by the guard's audit hook
through `getaddrinfo` on a numeric host (which resolves nothing and sends nothing), and real connections are made
to a listener of our own on loopback only, as in test_offline.py.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from judgedesk.core import _offline as offline
from judgedesk.core import parse_server_url
from judgedesk.core._errors import InputError, NetworkBlockedError


@pytest.fixture
def guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The guard on, with an empty allowlist for the test (conftest restores the one it found afterwards)."""
    offline.install_offline_guard()
    monkeypatch.setattr(offline, "_allowlist", ())
    yield


def _refused(text: str) -> InputError:
    with pytest.raises(InputError) as caught:
        parse_server_url(text)
    assert caught.value.field == "server"
    return caught.value


def _numeric_lookup(host: str, port: int) -> None:
    """The guard's audit path for a connection to host:port, without a name lookup or a packet."""
    socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)


# --- accepted ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "scheme", "host", "port"), [
    ("http://127.0.0.1:8080", "http", "127.0.0.1", 8080),
    ("https://10.0.0.5", "https", "10.0.0.5", 443),
    ("http://10.0.0.5", "http", "10.0.0.5", 80),
    ("127.0.0.1:8000", "http", "127.0.0.1", 8000),
    ("  http://10.1.2.3:8080/v1  ", "http", "10.1.2.3", 8080),
    ("http://10.1.2.3:8080/v1/", "http", "10.1.2.3", 8080),
    ("http://10.1.2.3:8080/", "http", "10.1.2.3", 8080),
    ("localhost:11434", "http", "localhost", 11434),
    ("http://LocalHost:8080", "http", "localhost", 8080),
    ("http://127.5.6.7:9000", "http", "127.5.6.7", 9000),
    ("http://10.255.255.254:1", "http", "10.255.255.254", 1),
    ("http://172.16.0.1:8080", "http", "172.16.0.1", 8080),
    ("http://172.31.255.254:8080", "http", "172.31.255.254", 8080),
    ("http://192.168.1.20:8080", "http", "192.168.1.20", 8080),
    ("http://[fd12:3456::1]:8080", "http", "fd12:3456::1", 8080),
    ("http://[fc00::5]:8080", "http", "fc00::5", 8080),
    ("[::1]:8080", "http", "::1", 8080),
    ("http://169.254.10.20:8080", "http", "169.254.10.20", 8080),
    ("http://[fe80::1]:8080", "http", "fe80::1", 8080),
    # An IPv4-mapped address is the IPv4 host it maps, as the guard sees it.
    ("http://[::ffff:10.0.0.5]:8080", "http", "10.0.0.5", 8080),
])
def test_loopback_and_private_addresses_are_accepted(text: str, scheme: str, host: str, port: int) -> None:
    endpoint = parse_server_url(text)
    assert (endpoint.scheme, endpoint.host, endpoint.port) == (scheme, host, port)


def test_the_url_brackets_ipv6_hosts_and_always_names_the_port() -> None:
    assert parse_server_url("http://[fd00::7]:8080/v1").url == "http://[fd00::7]:8080"
    assert str(parse_server_url("https://192.168.0.2")) == "https://192.168.0.2:443"


# --- refused ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["http://judge-server:8080", "http://example.com", "gpu-box.local:8000"])
def test_host_names_are_refused_because_they_need_dns(text: str) -> None:
    assert "DNS" in str(_refused(text))


@pytest.mark.parametrize("text", ["8.8.8.8:80", "http://8.8.8.8", "http://[2001:4860::8888]:80",
                                  "http://172.32.0.1:8080", "http://100.64.0.1:8080", "http://[::ffff:8.8.8.8]:80"])
def test_public_addresses_are_refused(text: str) -> None:
    assert "not a loopback or private-network address" in str(_refused(text))


@pytest.mark.parametrize("text", ["http://0.0.0.0:8080", "http://[::]:8080"])
def test_the_unspecified_address_is_refused(text: str) -> None:
    _refused(text)


@pytest.mark.parametrize("text", ["http://10.0.0.5:8080/api", "http://10.0.0.5:8080/v1/completions",
                                  "http://10.0.0.5:8080/?model=x", "http://10.0.0.5:8080#top"])
def test_paths_queries_and_fragments_are_refused(text: str) -> None:
    assert "address only" in str(_refused(text))


@pytest.mark.parametrize("text", ["http://user:secret@10.0.0.5:8080", "http://user@10.0.0.5:8080"])
def test_credentials_in_the_url_are_refused(text: str) -> None:
    message = str(_refused(text))
    assert "credentials" in message


@pytest.mark.parametrize("text", ["http://10.0.0.5:99999", "http://10.0.0.5:port", "10.0.0.5:-1"])
def test_bad_ports_are_refused(text: str) -> None:
    assert "port" in str(_refused(text))


def test_port_zero_is_refused_not_replaced_by_the_default() -> None:
    assert "port" in str(_refused("http://10.0.0.5:0"))


@pytest.mark.parametrize("text", ["ftp://10.0.0.5:21", "file:///etc/passwd", "ws://127.0.0.1:8080"])
def test_schemes_other_than_http_are_refused(text: str) -> None:
    assert "http://" in str(_refused(text))


# --- the allowlist ----------------------------------------------------------------------------------


def test_allow_adds_exactly_host_and_port(guard: None) -> None:
    parse_server_url("http://10.0.0.5:8080/v1").allow()
    assert [str(entry) for entry in offline.allowed_endpoints()] == ["10.0.0.5:8080"]
    _numeric_lookup("10.0.0.5", 8080)
    for host, port in (("10.0.0.5", 8081), ("10.0.0.6", 8080), ("127.0.0.1", 8080)):
        with pytest.raises(NetworkBlockedError, match=f"{host}:{port} "):
            _numeric_lookup(host, port)


def test_allowing_localhost_covers_both_loopbacks_on_that_port_only(guard: None) -> None:
    parse_server_url("localhost:8000").allow()
    assert [str(entry) for entry in offline.allowed_endpoints()] == ["127.0.0.1:8000", "[::1]:8000"]
    _numeric_lookup("::1", 8000)
    with pytest.raises(NetworkBlockedError):
        _numeric_lookup("::1", 8001)


def test_an_allowed_endpoint_connects_and_another_port_on_the_host_stays_refused(guard: None) -> None:
    with socket.create_server(("127.0.0.1", 0)) as allowed, socket.create_server(("127.0.0.1", 0)) as other:
        allowed_port, other_port = allowed.getsockname()[1], other.getsockname()[1]
        parse_server_url(f"http://127.0.0.1:{allowed_port}").allow()
        with socket.create_connection(("127.0.0.1", allowed_port), timeout=5):
            allowed.settimeout(5)
            allowed.accept()[0].close()
        with socket.socket() as client, pytest.raises(NetworkBlockedError, match=f"127.0.0.1:{other_port} "):
            client.connect(("127.0.0.1", other_port))
        other.settimeout(0)
        with pytest.raises(BlockingIOError):  # no handshake reached the refused port
            other.accept()

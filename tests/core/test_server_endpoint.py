"""Which server URLs judgedesk accepts, and what accepting one opens in the offline guard.

No test here sends a packet to a real address: private addresses are only ever checked by the guard's audit hook
through `getaddrinfo` on a numeric host (which resolves nothing and sends nothing), and real connections are made
to a listener of our own on loopback only, as in test_offline.py.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from ipaddress import ip_address
from urllib.parse import urlsplit

import pytest
from judgedesk.core import _offline as offline
from judgedesk.core import parse_server_url
from judgedesk.core._errors import InputError, NetworkBlockedError
from judgedesk.core._server_endpoint import SERVER_ADDRESS_POLICY, address_block


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


def _host_of(text: str) -> str:
    host = urlsplit(text if "://" in text else f"http://{text}").hostname or ""
    return host.partition("%")[0]


def _numeric_lookup(host: str, port: int) -> None:
    """The guard's audit path for a connection to host:port, without a name lookup or a packet."""
    socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)


# --- the address policy: every block, accepted and refused ----------------------------------------

# (URL, the host judgedesk keeps, the policy block that decides): each block of SERVER_ADDRESS_POLICY appears
# here or in _REFUSED (a test checks), at its edges where an edge is easy to get wrong.
_ACCEPTED = [
    ("http://127.0.0.1:8080", "127.0.0.1", "127.0.0.0/8"),
    ("http://127.5.6.7:9000", "127.5.6.7", "127.0.0.0/8"),
    ("[::1]:8080", "::1", "::1/128"),
    ("http://10.0.0.5", "10.0.0.5", "10.0.0.0/8"),
    ("http://10.255.255.254:1", "10.255.255.254", "10.0.0.0/8"),
    ("http://172.16.0.1:8080", "172.16.0.1", "172.16.0.0/12"),
    ("http://172.31.255.254:8080", "172.31.255.254", "172.16.0.0/12"),
    ("http://192.168.1.20:8080", "192.168.1.20", "192.168.0.0/16"),
    ("http://[fd12:3456::1]:8080", "fd12:3456::1", "fc00::/7"),
    ("http://[fc00::5]:8080", "fc00::5", "fc00::/7"),
    ("http://[fdff:ffff::1]:8080", "fdff:ffff::1", "fc00::/7"),
    # An IPv4-mapped address is the IPv4 host it maps, as the guard sees it.
    ("http://[::ffff:10.0.0.5]:8080", "10.0.0.5", "10.0.0.0/8"),
]

# (URL, the block the message names, a piece of the reason it gives)
_REFUSED = [
    ("http://169.254.169.254:80", "the cloud metadata service (169.254.169.254/32)", "cloud credentials"),
    ("http://[::ffff:169.254.169.254]:80", "the cloud metadata service (169.254.169.254/32)", "cloud credentials"),
    ("http://[fd00:ec2::254]:80", "the cloud metadata service (AWS, IPv6) (fd00:ec2::254/128)", "cloud credentials"),
    ("http://100.100.100.200:80", "the cloud metadata service (Alibaba Cloud) (100.100.100.200/32)",
     "cloud credentials"),
    ("http://169.254.10.20:8080", "IPv4 link-local (169.254.0.0/16)", "any machine on the same link"),
    ("http://[fe80::1]:8080", "IPv6 link-local (fe80::/10)", "any machine on the same link"),
    ("http://[fe80::1%lo]:8080", "IPv6 link-local (fe80::/10)", "any machine on the same link"),
    ("http://0.0.0.0:8080", "the unspecified address ('this host') (0.0.0.0/8)", "names no server"),
    ("http://[::]:8080", "the unspecified address (::/128)", "names no server"),
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]:80", "Teredo (2001::/32)", "relays outside your network"),
    ("http://[2002:a00:5::1]:80", "6to4 (2002::/16)", "relays outside your network"),
    ("http://[64:ff9b::a00:5]:80", "NAT64 (64:ff9b::/96)", "relays outside your network"),
    ("http://[64:ff9b:1::a00:5]:80", "local-use NAT64 (64:ff9b:1::/48)", "relays outside your network"),
    ("http://100.64.0.1:8080", "the CGNAT shared address space (RFC 6598) (100.64.0.0/10)", "allowed explicitly"),
    ("http://100.127.255.254:8080", "the CGNAT shared address space (RFC 6598) (100.64.0.0/10)",
     "allowed explicitly"),
]


@pytest.mark.parametrize(("text", "host", "block"), _ACCEPTED)
def test_loopback_rfc1918_and_ula_addresses_are_accepted(text: str, host: str, block: str) -> None:
    endpoint = parse_server_url(text)
    assert endpoint.host == host
    decided_by = address_block(ip_address(host))
    assert decided_by is not None and (str(decided_by.network), decided_by.verdict) == (block, "accepted")


@pytest.mark.parametrize(("text", "scheme", "host", "port"), [
    ("https://10.0.0.5", "https", "10.0.0.5", 443),
    ("http://10.0.0.5", "http", "10.0.0.5", 80),
    ("127.0.0.1:8000", "http", "127.0.0.1", 8000),
    ("  http://10.1.2.3:8080/v1  ", "http", "10.1.2.3", 8080),
    ("http://10.1.2.3:8080/v1/", "http", "10.1.2.3", 8080),
    ("http://10.1.2.3:8080/", "http", "10.1.2.3", 8080),
    ("localhost:11434", "http", "localhost", 11434),
    ("http://LocalHost:8080", "http", "localhost", 8080),
])
def test_the_url_gives_scheme_host_and_port(text: str, scheme: str, host: str, port: int) -> None:
    endpoint = parse_server_url(text)
    assert (endpoint.scheme, endpoint.host, endpoint.port) == (scheme, host, port)


@pytest.mark.parametrize(("text", "block", "why"), _REFUSED)
def test_metadata_link_local_unspecified_tunnelled_and_cgnat_addresses_are_refused_naming_block_and_reason(
        text: str, block: str, why: str) -> None:
    message = str(_refused(text))
    assert f" is {block}: " in message, message
    assert why in message, message


@pytest.mark.parametrize("text", ["http://100.64.0.1:8080", "http://100.127.255.254:8080", "http://100.90.1.2:41641"])
def test_cgnat_addresses_are_accepted_when_the_caller_opts_in(text: str) -> None:
    endpoint = parse_server_url(text, allow_cgnat=True)
    assert endpoint.host == text.split("//")[1].rsplit(":", 1)[0]


def test_the_opt_in_does_not_open_the_metadata_service_inside_cgnat() -> None:
    with pytest.raises(InputError, match=r"the cloud metadata service \(Alibaba Cloud\)"):
        parse_server_url("http://100.100.100.200:80", allow_cgnat=True)


def test_every_block_of_the_policy_is_tested() -> None:
    tested = {address_block(ip_address(_host_of(text))) for text, *_ in _ACCEPTED + _REFUSED}
    assert set(SERVER_ADDRESS_POLICY) - tested == set()
    assert all(row.why for row in SERVER_ADDRESS_POLICY if row.verdict != "accepted")


@pytest.mark.parametrize("text", ["http://judge-server:8080", "http://example.com", "gpu-box.local:8000"])
def test_host_names_are_refused_because_they_need_dns(text: str) -> None:
    assert "DNS" in str(_refused(text))


# Python's is_private counts documentation, benchmarking and IETF blocks as private: the policy does not.
@pytest.mark.parametrize("text", ["8.8.8.8:80", "http://8.8.8.8", "http://[2001:4860::8888]:80",
                                  "http://172.32.0.1:8080", "http://172.15.255.255:8080", "http://100.128.0.1:8080",
                                  "http://[::ffff:8.8.8.8]:80", "http://192.0.2.1:8080", "http://198.18.0.1:8080",
                                  "http://[2001:db8::1]:8080", "http://[2001:10::1]:8080", "http://224.0.0.1:8080",
                                  "http://255.255.255.255:8080", "http://[ff02::1]:8080", "http://[::10.0.0.5]:8080"])
def test_public_and_unassigned_addresses_are_refused(text: str) -> None:
    assert "not a loopback or private-network address" in str(_refused(text))


def test_a_zone_index_is_refused_on_an_address_that_needs_none() -> None:
    assert "zone index (%eth0)" in str(_refused("http://[fd00::1%eth0]:8080"))


def test_the_url_brackets_ipv6_hosts_and_always_names_the_port() -> None:
    assert parse_server_url("http://[fd00::7]:8080/v1").url == "http://[fd00::7]:8080"
    assert str(parse_server_url("https://192.168.0.2")) == "https://192.168.0.2:443"


# --- not a server URL -------------------------------------------------------------------------------


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


def test_the_command_line_takes_a_cgnat_server_only_with_allow_cgnat(capsys, monkeypatch) -> None:
    from judgedesk.core.cli import _commands as cli_commands
    from judgedesk.core.cli import main

    # Nothing listens there and the guard would refuse the connection anyway: the point is which error comes first.
    assert main(["compare", "--server", "http://100.64.0.1:9", "--instruction", "x", "--a", "a", "--b", "b",
                 "--retries", "0", "--timeout", "1"]) == 1
    refused = capsys.readouterr().err
    assert "100.64.0.0/10" in refused and "--allow-cgnat" in refused
    # With the opt-in, the address reaches the server backend (stopped there: no packet to a real address).
    seen = []

    def load_judge(*args, server=None, **options):
        seen.append(parse_server_url(server.url, allow_cgnat=server.allow_cgnat))
        raise InputError("stopped before connecting")

    monkeypatch.setattr(cli_commands, "load_judge", load_judge)
    assert main(["compare", "--server", "http://100.64.0.1:9", "--allow-cgnat", "--instruction", "x", "--a", "a",
                 "--b", "b"]) == 1
    assert [endpoint.host for endpoint in seen] == ["100.64.0.1"]

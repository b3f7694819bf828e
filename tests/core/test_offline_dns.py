"""No DNS query leaves a guarded process: every Python path that would resolve a name, forward or reverse.

Each probe runs in a child inside fresh network and mount namespaces (`unshare -n -m`): /etc/resolv.conf is
bind-mounted to name 127.0.0.1 only, /etc/nsswitch.conf to resolve hosts by DNS only (no nscd, systemd-resolved
or mDNS, whose unix sockets lead out of the namespace), and a fake resolver of the child's own on 127.0.0.1:53
records every query it gets and answers NXDOMAIN at once. The same attempts run unguarded first, as the negative
control: there every one of them reaches the fake resolver, so a guard that let one through would fail the test.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# The namespace's name service: the fake resolver only, one quick try, hosts from DNS and services from files.
_RESOLV_CONF = "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"
_NSSWITCH_CONF = "hosts: dns\nservices: files\nprotocols: files\n"

# Made by a root shell in the new namespaces; `set -e`, so a mount that fails stops the probe before any lookup.
# A tmpfs over nscd's folder keeps glibc from asking a host nscd, which would resolve outside the namespace.
_SETUP = """set -e
mount --bind "$1" /etc/resolv.conf
if [ -e /etc/nsswitch.conf ]; then mount --bind "$2" /etc/nsswitch.conf; fi
for folder in /run/nscd /var/run/nscd; do if [ -d "$folder" ]; then mount -t tmpfs none "$folder"; fi; done
shift 2
exec "$@"
"""

# The child: loopback up, the fake resolver, then each attempt with the queries that arrived during it.
_PROBE = r"""
import asyncio, fcntl, json, socket, ssl, struct, sys, threading, time, urllib.error, urllib.request

assert open("/etc/resolv.conf").read() == sys.argv[2], "the namespace's resolv.conf is not the test's"

def bring_loopback_up():  # a new network namespace starts with lo down; `ip` may not be installed
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, siocgifflags, struct.pack("16sH14x", b"lo", 0)))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sH14x", b"lo", flags | iff_up))

def question_name(query):
    labels, at = [], 12
    while query[at]:
        labels.append(query[at + 1:at + 1 + query[at]].decode("ascii", "replace"))
        at += 1 + query[at]
    return ".".join(labels), at + 5  # the name, and where the question (name, type, class) ends

queries, lock = [], threading.Lock()

def fake_resolver(sock):
    while True:
        query, sender = sock.recvfrom(4096)
        name, end = question_name(query)
        with lock:
            queries.append(name)
        # NXDOMAIN at once (QR, RD, RA, rcode 3), so an unguarded lookup does not wait for a timeout.
        try:
            sock.sendto(query[:2] + b"\x81\x83\x00\x01" + bytes(6) + query[12:end], sender)
        except OSError:
            pass  # refused by a guard that let the query in: the recorded query already fails the test

bring_loopback_up()
resolver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
resolver.bind(("127.0.0.1", 53))
threading.Thread(target=fake_resolver, args=(resolver,), daemon=True).start()

if sys.argv[1] == "guarded":
    from judgedesk.core._offline import allow_endpoint, install_offline_guard
    install_offline_guard()
    allow_endpoint("10.0.0.5", 8080)  # an allowed endpoint permits connections to it, never lookups about it

NAME = "name.example.com"

def udp():
    return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

async def open_connection():
    await asyncio.wait_for(asyncio.open_connection(NAME, 80), 5)

attempts = {
    "connect": lambda: socket.socket().connect((NAME, 80)),
    "connect_ex": lambda: socket.socket().connect_ex((NAME, 80)),
    "connect_ipv6": lambda: socket.socket(socket.AF_INET6).connect((NAME, 80, 0, 0)),
    "connect_bytes_host": lambda: socket.socket().connect((NAME.encode(), 80)),
    "sendto": lambda: udp().sendto(b"x", (NAME, 53)),
    "sendto_with_flags": lambda: udp().sendto(b"x", 0, (NAME, 53)),
    "sendmsg": lambda: udp().sendmsg([b"x"], [], 0, (NAME, 53)),
    "bind": lambda: socket.socket().bind((NAME, 0)),
    "ssl_connect": lambda: ssl.create_default_context().wrap_socket(
        socket.socket(), server_hostname=NAME).connect((NAME, 443)),
    "create_connection": lambda: socket.create_connection((NAME, 80), timeout=5),
    "urlopen": lambda: urllib.request.urlopen(f"http://{NAME}/", timeout=5),
    "asyncio_open_connection": lambda: asyncio.run(open_connection()),
    "getaddrinfo": lambda: socket.getaddrinfo(NAME, 80),
    "gethostbyname": lambda: socket.gethostbyname(NAME),
    "gethostbyname_ex": lambda: socket.gethostbyname_ex(NAME),
    "gethostbyaddr": lambda: socket.gethostbyaddr("192.0.2.77"),
    "gethostbyaddr_allowed_endpoint": lambda: socket.gethostbyaddr("10.0.0.5"),
    "getnameinfo": lambda: socket.getnameinfo(("192.0.2.77", 80), 0),
    "getnameinfo_allowed_endpoint": lambda: socket.getnameinfo(("10.0.0.5", 8080), 0),
    "getfqdn": lambda: socket.getfqdn("192.0.2.77"),  # swallows the refusal: only the queries tell
}

results = {}
for name, attempt in attempts.items():
    with lock:
        queries.clear()
    try:
        attempt()
        error = None
    except Exception as exc:
        if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
            exc = exc.reason
        error = {"type": type(exc).__name__, "message": str(exc)}
    time.sleep(0.2)  # a query sent from another thread (asyncio's resolver) has landed by now
    with lock:
        results[name] = {"error": error, "queries": list(queries)}
print(json.dumps(results))
"""

_ATTEMPTS_THAT_SWALLOW_THE_REFUSAL = {"getfqdn"}


def _namespace_command() -> list[str]:
    # Root makes the namespaces itself; anyone else needs a user namespace (-r) to mount and set lo up.
    return ["unshare", "-n", "-m"] + ([] if os.geteuid() == 0 else ["-r"])


@functools.cache
def _why_no_namespace() -> str | None:
    """Why network and mount namespaces with our own resolver cannot be made here (None when they can)."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return "`unshare` and `mount` (util-linux) are needed to give the DNS probe a namespace of its own"
    command = [*_namespace_command(), "sh", "-c", "mount -t tmpfs none /mnt"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`unshare -n -m` could not run ({exc}); the DNS probe needs network and mount namespaces"
    if result.returncode != 0:
        return (f"`unshare -n -m` failed ({result.stderr.strip() or result.returncode}); the DNS probe needs "
                "network and mount namespaces (root or user namespaces) so that no query can leave")
    return None


@functools.cache
def _probe(mode: str, folder: str) -> dict[str, dict[str, Any]]:
    reason = _why_no_namespace()
    if reason is not None:
        pytest.skip(reason)
    resolv_conf, nsswitch_conf = Path(folder) / "resolv.conf", Path(folder) / "nsswitch.conf"
    resolv_conf.write_text(_RESOLV_CONF)
    nsswitch_conf.write_text(_NSSWITCH_CONF)
    command = [*_namespace_command(), "sh", "-c", _SETUP, "setup", str(resolv_conf), str(nsswitch_conf),
               sys.executable, "-c", _PROBE, mode, _RESOLV_CONF]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    probed: dict[str, dict[str, Any]] = json.loads(result.stdout.strip().splitlines()[-1])
    return probed


@pytest.fixture(scope="module")
def probe_folder(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("dns_probe"))


def test_without_the_guard_every_attempt_reaches_the_fake_resolver(probe_folder: str) -> None:
    probed = _probe("unguarded", probe_folder)
    for attempt, result in probed.items():
        assert result["queries"], f"{attempt} sent no query even unguarded, so it proves nothing: {result}"
        assert result["error"] is None or result["error"]["type"] != "NetworkBlockedError", result
    assert "name.example.com" in probed["connect"]["queries"]
    assert "name.example.com" in probed["sendto"]["queries"]
    assert "77.2.0.192.in-addr.arpa" in probed["getnameinfo"]["queries"]
    assert probed["getnameinfo"]["error"] is None  # it went on to answer with the number, as the issue saw


def test_the_guard_lets_no_query_out_and_refuses_each_attempt(probe_folder: str) -> None:
    probed = _probe("guarded", probe_folder)
    unguarded = _probe("unguarded", probe_folder)
    assert probed.keys() == unguarded.keys()
    leaked = {attempt: result["queries"] for attempt, result in probed.items() if result["queries"]}
    assert leaked == {}
    for attempt, result in probed.items():
        if attempt in _ATTEMPTS_THAT_SWALLOW_THE_REFUSAL:
            continue
        assert result["error"] is not None and result["error"]["type"] == "NetworkBlockedError", (attempt, result)
        assert result["error"]["message"].startswith("judgedesk is offline: refused "), result


@pytest.mark.parametrize(("attempt", "refused"), [
    ("connect", "a name lookup for name.example.com:80"),
    ("connect_ex", "a name lookup for name.example.com:80"),
    ("sendto", "a name lookup for name.example.com:53"),
    ("sendto_with_flags", "a name lookup for name.example.com:53"),
    ("sendmsg", "a name lookup for name.example.com:53"),
    ("bind", "a name lookup for name.example.com:0"),
    ("getnameinfo", "a reverse lookup of 192.0.2.77"),
    ("getnameinfo_allowed_endpoint", "a reverse lookup of 10.0.0.5"),
    ("gethostbyaddr_allowed_endpoint", "a reverse lookup of 10.0.0.5"),
    ("gethostbyname_ex", "a name lookup for name.example.com"),
])
def test_the_refusal_names_what_would_have_been_looked_up(probe_folder: str, attempt: str, refused: str) -> None:
    message = _probe("guarded", probe_folder)[attempt]["error"]["message"]
    assert message.startswith(f"judgedesk is offline: refused {refused} ("), message

"""JSON over HTTP to one inference server: keep-alive connections per thread, timeouts, retries with backoff.

The standard library's http.client is enough (judgedesk talks to one host, JSON only), so the server backend adds
no dependency. Retries follow one rule: a request is sent again only when no answer came back (connection refused
or reset, a timeout) or the server said it failed (5xx, 429). An answer that parsed is final, whatever it says,
so a verdict is never resampled. 4xx is the caller's mistake and is reported at once. A connection the offline
guard refuses is never retried: nothing was sent, and trying again would not change the allowlist.

The `Transport` protocol is the seam the unit tests drive with a fake; everything above it is the real code path.
"""

from __future__ import annotations

import http.client
import json
import random
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .._errors import NetworkBlockedError, ServerError, ServerRequestError, ServerUnavailableError
from .._server_endpoint import ServerEndpoint

__all__ = ["HttpTransport", "JsonClient", "RetryPolicy", "Transport", "require"]

_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class Transport(Protocol):
    """Sends one HTTP request and returns (status, body); raises OSError (or TimeoutError) when no answer came."""

    def request(self, method: str, path: str, body: bytes | None, headers: Mapping[str, str],
                timeout: float) -> tuple[int, bytes]:
        """One request/response exchange."""
        ...

    def close(self) -> None:
        """Close every connection."""
        ...


class HttpTransport:
    """http.client connections to one endpoint, one per thread (a connection carries one request at a time)."""

    def __init__(self, endpoint: ServerEndpoint) -> None:
        self.endpoint = endpoint
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            host = self.endpoint.host
            if self.endpoint.scheme == "https":
                connection = http.client.HTTPSConnection(host, self.endpoint.port, timeout=timeout,
                                                         context=ssl.create_default_context())
            else:
                connection = http.client.HTTPConnection(host, self.endpoint.port, timeout=timeout)
            self._local.connection = connection
            with self._lock:
                self._all.append(connection)
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        return connection

    def request(self, method: str, path: str, body: bytes | None, headers: Mapping[str, str],
                timeout: float) -> tuple[int, bytes]:
        connection = self._connection(timeout)
        try:
            connection.request(method, path, body=body, headers=dict(headers))
            response = connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()  # a half-read response would poison the next request on this connection
            if isinstance(exc, OSError):
                raise
            raise ConnectionError(f"bad HTTP answer: {exc!r}") from exc

    def close(self) -> None:
        with self._lock:
            for connection in self._all:
                connection.close()
            self._all.clear()
        self._local = threading.local()


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a request without an answer is sent again."""

    retries: int = 5
    """Further attempts after the first (0: none)."""
    backoff_s: float = 0.5
    """Wait before the first retry; doubled each time, with jitter."""
    max_backoff_s: float = 8.0
    """Longest wait between two attempts."""

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based): exponential, jittered so that several
        requests in flight do not hit a recovering server in the same instant."""
        base = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        return base * random.uniform(0.75, 1.0)


class JsonClient:
    """POST/GET JSON to one server with the retry rule above; thread-safe."""

    def __init__(self, endpoint: ServerEndpoint, *, timeout_s: float = 120.0, retry: RetryPolicy | None = None,
                 api_key: str | None = None, transport: Transport | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self._transport = transport or HttpTransport(endpoint)
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._sleep = sleep
        self.attempts = 0
        """Requests sent, retries included (for tests and the benchmark)."""

    def post(self, path: str, payload: Mapping[str, Any], *, timeout_s: float | None = None,
             attempts: int | None = None) -> Any:
        """The JSON answer to POSTing `payload` to `path`; `attempts` overrides the retry policy's count."""
        return self._exchange("POST", path, json.dumps(payload).encode("utf-8"), timeout_s, attempts)

    def get(self, path: str, *, timeout_s: float | None = None, attempts: int | None = None) -> Any:
        """The JSON answer to GET `path`."""
        return self._exchange("GET", path, None, timeout_s, attempts)

    def close(self) -> None:
        self._transport.close()

    def _exchange(self, method: str, path: str, body: bytes | None, timeout_s: float | None,
                  attempts: int | None) -> Any:
        timeout = timeout_s or self.timeout_s
        attempts = attempts or self.retry.retries + 1
        where = f"{self.endpoint.url}{path}"
        started = time.monotonic()
        problem = ""
        for attempt in range(attempts):
            if attempt:
                self._sleep(self.retry.delay(attempt))
            self.attempts += 1
            try:
                status, data = self._transport.request(method, path, body, self._headers, timeout)
            except NetworkBlockedError:
                raise
            except TimeoutError:
                problem = f"no answer within {timeout:g} s"
                continue
            except OSError as exc:
                problem = _describe(exc)
                continue
            if status in _RETRY_STATUS:
                problem = f"HTTP {status}: {_server_message(data)}"
                continue
            if not 200 <= status < 300:
                raise ServerRequestError(f"{where}: the server refused the request (HTTP {status}): "
                                         f"{_server_message(data)}")
            try:
                return json.loads(data)
            except ValueError:
                problem = f"HTTP {status} with a body that is not JSON: {data[:120]!r}"
                continue
        raise ServerUnavailableError(
            f"{where}: no usable answer after {attempts} attempt{'s' if attempts > 1 else ''} in "
            f"{time.monotonic() - started:.0f} s (last: {problem}); is the server running?")


def _describe(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    return str(exc) or type(exc).__name__


def _server_message(data: bytes) -> str:
    """The error text a server put in its body (OpenAI style {'error': {'message'}}, FastAPI {'detail'}, ...)."""
    try:
        parsed = json.loads(data)
    except ValueError:
        return data[:300].decode("utf-8", "replace").strip() or "(empty body)"
    if isinstance(parsed, dict):
        error = parsed.get("error", parsed.get("detail", parsed.get("message")))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error is not None:
            return str(error)[:500]
    return str(parsed)[:300]


def require(answer: Any, *keys: str | int, where: str) -> Any:
    """`answer[keys[0]][keys[1]]...`, or a ServerError naming what was missing (a server of another kind)."""
    value = answer
    for key in keys:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            path = "".join(f"[{k!r}]" for k in keys)
            raise ServerError(f"{where}: the server's answer has no {path}: {str(answer)[:200]}") from None
    return value

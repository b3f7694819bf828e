"""JsonClient's retry rule, driven through the `Transport` seam with a scripted fake and a fake sleep.

The rule: only a request that got no answer (refused, reset, timed out) or a failure answer (5xx, 408, 429, a body
that is not JSON) is sent again; an answer that parsed is final, a 4xx is reported at once, and a connection the
offline guard refused is never retried.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest
from judgedesk.core._errors import NetworkBlockedError, ServerRequestError, ServerUnavailableError
from judgedesk.core._server_endpoint import parse_server_url
from judgedesk.core.backends._http import JsonClient, RetryPolicy

Outcome = BaseException | tuple[int, bytes]
OK = (200, b'{"ok": true}')


@dataclass
class ScriptedTransport:
    """Answers each request with the next scripted outcome (an exception is raised) and records what was sent."""

    outcomes: list[Outcome]
    sent: list[dict[str, object]] = field(default_factory=list)
    closed: bool = False

    def request(self, method: str, path: str, body: bytes | None, headers: Mapping[str, str],
                timeout: float) -> tuple[int, bytes]:
        self.sent.append({"method": method, "path": path, "body": body, "headers": dict(headers),
                          "timeout": timeout})
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def close(self) -> None:
        self.closed = True


def _client(*outcomes: Outcome, retries: int = 3, api_key: str | None = None,
            timeout_s: float = 30.0) -> tuple[JsonClient, ScriptedTransport, list[float]]:
    transport = ScriptedTransport(list(outcomes))
    slept: list[float] = []
    client = JsonClient(parse_server_url("http://10.0.0.5:8080"), timeout_s=timeout_s,
                        retry=RetryPolicy(retries=retries, backoff_s=0.5, max_backoff_s=3.0), api_key=api_key,
                        transport=transport, sleep=slept.append)
    return client, transport, slept


def _json(body: object) -> bytes:
    return json.dumps(body).encode()


@pytest.mark.parametrize("failure", [
    ConnectionRefusedError(111, "Connection refused"),
    ConnectionResetError(104, "Connection reset by peer"),
    TimeoutError("timed out"),
    OSError(113, "No route to host"),
    (500, b"internal error"),
    (502, b"bad gateway"),
    (503, _json({"error": {"message": "loading model"}})),
    (504, b""),
    (429, _json({"error": {"message": "too many requests"}})),
    (408, b"request timeout"),
    (200, b"<html>proxy login</html>"),
], ids=repr)
def test_a_request_without_a_usable_answer_is_sent_again(failure: Outcome) -> None:
    client, transport, slept = _client(failure, OK)
    assert client.post("/v1/completions", {"prompt": [1, 2]}) == {"ok": True}
    assert client.attempts == 2 and len(transport.sent) == 2 and len(slept) == 1
    assert transport.sent[0] == transport.sent[1]  # the same request, byte for byte


def test_a_later_attempt_that_answers_ends_the_retries() -> None:
    client, transport, slept = _client(ConnectionRefusedError(), (503, b""), TimeoutError(), OK, retries=5)
    assert client.get("/v1/models") == {"ok": True}
    assert client.attempts == 4 and len(slept) == 3
    assert transport.outcomes == []


@pytest.mark.parametrize("attempt", range(1, 9))
def test_a_retry_delay_is_jittered_below_its_exponential_cap(attempt: int) -> None:
    policy = RetryPolicy(retries=8, backoff_s=0.5, max_backoff_s=3.0)
    base = min(3.0, 0.5 * 2 ** (attempt - 1))
    delays = [policy.delay(attempt) for _ in range(200)]
    assert all(0.75 * base <= delay <= base for delay in delays)
    assert max(delays) - min(delays) > 0  # jittered, so requests in flight do not retry in step


def test_the_waits_between_attempts_grow_then_stay_capped() -> None:
    client, _, slept = _client(*[ConnectionResetError()] * 7, retries=6)
    with pytest.raises(ServerUnavailableError):
        client.post("/v1/completions", {})
    assert len(slept) == 6
    bases = [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert all(0.75 * base <= wait <= base for wait, base in zip(slept, bases, strict=True)), slept
    assert slept[0] < slept[1] < slept[2]  # doubling outgrows the jitter until the cap
    assert max(slept) <= 3.0


@pytest.mark.parametrize(("status", "body", "message"), [
    (400, _json({"error": {"message": "the request exceeds the available context size", "code": 400}}),
     "the request exceeds the available context size"),
    (404, _json({"detail": "Not Found"}), "Not Found"),
    (422, _json({"detail": [{"loc": ["body", "prompt"], "msg": "Field required"}]}), "Field required"),
    (400, _json({"message": "bad grammar"}), "bad grammar"),
    (401, b"unauthorized", "unauthorized"),
])
def test_a_refusal_is_reported_at_once_with_the_servers_message(status: int, body: bytes, message: str) -> None:
    client, transport, slept = _client((status, body), OK)
    with pytest.raises(ServerRequestError) as caught:
        client.post("/v1/completions", {"prompt": "x"})
    assert message in str(caught.value)
    assert f"HTTP {status}" in str(caught.value)
    assert "http://10.0.0.5:8080/v1/completions" in str(caught.value)
    assert client.attempts == 1 and slept == [] and transport.outcomes == [OK]


def test_a_connection_the_offline_guard_refused_is_never_retried() -> None:
    blocked = NetworkBlockedError("judgedesk is offline: refused a connection to 10.0.0.5:8080")
    client, transport, slept = _client(blocked, OK)
    with pytest.raises(NetworkBlockedError) as caught:
        client.get("/v1/models")
    assert caught.value is blocked
    assert client.attempts == 1 and slept == [] and transport.outcomes == [OK]


def test_after_every_attempt_the_error_names_the_url_the_count_and_the_last_problem() -> None:
    client, _, slept = _client(ConnectionRefusedError(), TimeoutError(), ConnectionResetError(), retries=2,
                               timeout_s=7)
    with pytest.raises(ServerUnavailableError) as caught:
        client.post("/v1/completions", {})
    message = str(caught.value)
    assert message.startswith("http://10.0.0.5:8080/v1/completions: no usable answer after 3 attempts")
    assert "last: connection reset" in message
    assert "is the server running?" in message
    assert client.attempts == 3 and len(slept) == 2


@pytest.mark.parametrize(("last", "problem"), [
    (TimeoutError(), "no answer within 7 s"),
    (ConnectionRefusedError(), "connection refused"),
    ((503, _json({"error": {"message": "server overloaded"}})), "HTTP 503: server overloaded"),
    ((200, b"not json"), "HTTP 200 with a body that is not JSON: b'not json'"),
])
def test_the_last_problem_is_described(last: Outcome, problem: str) -> None:
    client, _, _ = _client((502, b"x"), last, retries=1, timeout_s=7)
    with pytest.raises(ServerUnavailableError, match=f"last: {problem}"):
        client.get("/props")


def test_attempts_overrides_the_policy_for_one_request() -> None:
    client, transport, slept = _client((503, b""), (503, b""), OK, retries=5)
    with pytest.raises(ServerUnavailableError, match="after 1 attempt in"):
        client.get("/props", attempts=1)
    assert slept == [] and client.attempts == 1
    assert client.get("/props", attempts=2) == {"ok": True}
    assert client.attempts == 3 and len(transport.sent) == 3


def test_the_api_key_goes_in_the_authorization_header() -> None:
    client, transport, _ = _client(OK, api_key="sk-local-123")
    client.post("/v1/completions", {"prompt": "x"})
    headers = transport.sent[0]["headers"]
    assert headers["Authorization"] == "Bearer sk-local-123"  # type: ignore[index]
    assert headers["Content-Type"] == "application/json"  # type: ignore[index]


def test_without_an_api_key_no_authorization_header_is_sent() -> None:
    client, transport, _ = _client(OK)
    client.get("/v1/models")
    assert "Authorization" not in transport.sent[0]["headers"]  # type: ignore[operator]


def test_a_post_sends_its_payload_as_json_and_a_get_sends_no_body() -> None:
    client, transport, _ = _client(OK, OK, timeout_s=30)
    client.post("/tokenize", {"content": "héllo", "parse_special": False}, timeout_s=5)
    client.get("/v1/models")
    post, get = transport.sent
    assert (post["method"], post["path"], post["timeout"]) == ("POST", "/tokenize", 5)
    assert json.loads(post["body"]) == {"content": "héllo", "parse_special": False}  # type: ignore[arg-type]
    assert (get["method"], get["body"], get["timeout"]) == ("GET", None, 30)


def test_the_attempts_counter_counts_every_request_sent_retries_included() -> None:
    client, _, _ = _client(OK, (500, b""), OK, (400, b"no"), retries=3)
    client.get("/a")
    client.get("/b")
    with pytest.raises(ServerRequestError):
        client.get("/c")
    assert client.attempts == 4


def test_close_closes_the_transport() -> None:
    client, transport, _ = _client()
    client.close()
    assert transport.closed

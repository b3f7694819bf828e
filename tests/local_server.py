"""Real inference servers on 127.0.0.1 for the server backend's real tests and bench/server_throughput.py:
llama-cpp-python's own OpenAI-compatible server (`python -m llama_cpp.server`, `LocalServer`) and llama.cpp's C++
`llama-server` (`LlamaServer`), built from the same pinned llama.cpp by scripts/build_llama.py.

Each runs in a child process serving the embedded demo judge; it can be stopped and started again on the same port
(the fault tests), and a `FaultyProxy` in front of it makes it slow or failing on demand.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from judgedesk.core import allow_endpoint

__all__ = ["FaultyProxy", "LlamaServer", "LocalServer", "free_port", "llama_server_binary"]

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _ServerProcess:
    """A server in a child process on 127.0.0.1:`port`, ready once `ready_path` answers 200; `start()`, `stop()`,
    `kill()`. Subclasses say how it is started (`command`)."""

    name = "server"
    ready_path = "/v1/models"

    def __init__(self, model: Path, *, port: int | None = None, log: Path | None = None) -> None:
        self.model = model
        self.port = port or free_port()
        self.log = log
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout_s: float = 120.0) -> None:
        output = open(self.log, "ab") if self.log else subprocess.DEVNULL  # lives with the process
        self._process = subprocess.Popen(self.command(), stdout=output, stderr=subprocess.STDOUT,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
        if output is not subprocess.DEVNULL:
            output.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self._process.returncode} (log: {self.log})")
            if _answers(self.port, self.ready_path):
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer on port {self.port} within {timeout_s:g} s")

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL) and wait for the port to be free."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """SIGKILL the server mid-answer, as a crash would."""
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGKILL)
            self._process.wait()
        self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> _ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LocalServer(_ServerProcess):
    """`python -m llama_cpp.server` serving `model` on 127.0.0.1:`port`."""

    name = "llama_cpp.server"

    def __init__(self, model: Path, *, port: int | None = None, n_ctx: int = 2048, threads: int = 2,
                 logits_all: bool = True, log: Path | None = None) -> None:
        super().__init__(model, port=port, log=log)
        self.n_ctx = n_ctx
        self.threads = threads
        self.logits_all = logits_all

    def command(self) -> list[str]:
        # interrupt_requests off: by default the server cuts a streaming answer short when another request queues.
        return [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model), "--host", "127.0.0.1",
                "--port", str(self.port), "--n_ctx", str(self.n_ctx), "--n_threads", str(self.threads),
                "--n_threads_batch", str(self.threads), "--logits_all", str(self.logits_all).lower(),
                "--interrupt_requests", "false", "--verbose", "false"]

    def __enter__(self) -> LocalServer:
        self.start()
        return self


@functools.cache
def llama_server_binary() -> Path:
    """llama.cpp's llama-server built from the pinned source by scripts/build_llama.py (minutes the first time on
    this machine, then from its cache). A build that fails raises: the tests that need the server fail with it."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_llama.py"), "server"],
                          capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines or not Path(lines[-1]).is_file():
        raise RuntimeError(f"scripts/build_llama.py server failed (exit {done.returncode}):\n"
                           f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return Path(lines[-1])


class LlamaServer(_ServerProcess):
    """llama.cpp's C++ `llama-server` serving `model` on 127.0.0.1:`port` with `parallel` slots.

    `arguments()` is the command line judgedesk is tested with (the README quotes it); `options` replaces
    everything after the model and the address, to start a server the way someone else might have.
    """

    name = "llama-server"
    ready_path = "/health"  # 503 while the model loads, 200 once the slots take requests

    def __init__(self, model: Path, *, port: int | None = None, parallel: int = 4, n_ctx_per_slot: int = 2048,
                 threads: int = 2, options: list[str] | None = None, log: Path | None = None) -> None:
        super().__init__(model, port=port, log=log)
        self.parallel = parallel
        self.n_ctx_per_slot = n_ctx_per_slot
        self.threads = threads
        self.options = options

    def arguments(self) -> list[str]:
        """The options that matter to judgedesk (see the README): slots, context per slot, threads; flash
        attention off as in the in-process backend (llama-server's 'auto' turns it on even on a CPU, which moves
        verdict probabilities by a few hundredths); a prompt too long for its slot refused, never shifted."""
        return ["--parallel", str(self.parallel), "--ctx-size", str(self.parallel * self.n_ctx_per_slot),
                "--threads", str(self.threads), "--threads-batch", str(self.threads), "--flash-attn", "off",
                "--no-context-shift", "--no-webui"]

    def command(self) -> list[str]:
        options = self.arguments() if self.options is None else self.options
        return [str(llama_server_binary()), "--model", str(self.model), "--host", "127.0.0.1", "--port",
                str(self.port), *options]

    def __enter__(self) -> LlamaServer:
        self.start()
        return self


def _answers(port: int, path: str) -> bool:
    from judgedesk.core._offline import allowing  # judgedesk's offline guard is on in this process

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        with allowing("127.0.0.1", port):
            connection.request("GET", path)
            return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


class FaultyProxy:
    """An HTTP proxy on 127.0.0.1 in front of `upstream_port` that can delay answers or fail them.

    `withhold_all` leaves every completion request unanswered until the proxy closes, `withhold_next(n)` only the
    next n: an answer that never comes in time, whatever the client's timeout and however slow the machine, so no
    test races a fixed delay against one. `fail_next(n, status)` answers the next n completion requests with
    `status` without forwarding them; `drop_next(n)` closes the connection instead of answering. Every completion
    request that reached the server is counted in `forwarded`, and the slowest answer the server gave is
    `slowest_answer_s`.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.withhold_all = False
        self.forwarded = 0
        self.slowest_answer_s = 0.0
        self.bodies: list[bytes] = []
        """The completion requests forwarded, as sent."""
        self.refused = 0
        self._failures: list[int] = []  # HTTP status to answer with, or 0 to drop the connection
        self._withheld = 0  # how many of the next completion requests get no answer
        self._closing = threading.Event()
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return  # quiet: the tests print what matters

            def do_GET(self) -> None:  # the stdlib's name
                proxy._relay(self, None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                proxy._relay(self, self.rfile.read(length))

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    def withhold_next(self, count: int) -> None:
        with self._lock:
            self._withheld += count

    def drop_next(self, count: int) -> None:
        with self._lock:
            self._failures.extend([0] * count)

    def _relay(self, handler: http.server.BaseHTTPRequestHandler, body: bytes | None) -> None:
        completion = handler.path.endswith("/completions")
        failure, withheld = None, False
        if completion:
            with self._lock:
                failure = self._failures.pop(0) if self._failures else None
                withheld = self.withhold_all or self._withheld > 0
                self._withheld -= withheld and not self.withhold_all
        if withheld:
            self._closing.wait()  # the client times out meanwhile; then there is no one left to answer
            return
        if failure is not None:
            self.refused += 1
            if failure == 0:
                handler.close_connection = True
                with contextlib.suppress(OSError):
                    handler.connection.shutdown(socket.SHUT_RDWR)
                return
            self._answer(handler, failure, b'{"error": {"message": "injected failure"}}')
            return
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=600)
        # The proxy runs in the test process, where judgedesk's offline guard is on; the test allows only the
        # proxy's port (as a user would allow their server), so the proxy lets itself through to the upstream.
        allow_endpoint("127.0.0.1", self.upstream_port)
        started = time.monotonic()
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() in ("content-type", "authorization")}
            upstream.request(handler.command, handler.path, body=body, headers=headers)
            response = upstream.getresponse()
            status, data = response.status, response.read()
        except OSError:
            self._answer(handler, 502, b'{"error": {"message": "upstream down"}}')
            return
        finally:
            upstream.close()
        if completion:
            with self._lock:
                self.forwarded += 1
                self.bodies.append(body or b"")
                self.slowest_answer_s = max(self.slowest_answer_s, time.monotonic() - started)
        self._answer(handler, status, data)

    @staticmethod
    def _answer(handler: http.server.BaseHTTPRequestHandler, status: int, data: bytes) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            return  # the client gave up (its timeout): nothing to answer to

    def __enter__(self) -> FaultyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def serving(model: Path, **options: object) -> Iterator[LocalServer]:
    """A started LocalServer, stopped afterwards."""
    server = LocalServer(model, **options)  # type: ignore[arg-type]
    server.start()
    try:
        yield server
    finally:
        server.stop()

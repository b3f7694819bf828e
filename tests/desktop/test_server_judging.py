"""The app judging through a real inference server (llama-cpp-python's, serving the demo judge on 127.0.0.1):
Test connection, a comparison equal to the in-process one, a batch run whose status bar names the endpoint, the
run continued in-process, and the one notice when the server cannot decode as asked."""

from __future__ import annotations

from pathlib import Path

import pytest
from judgedesk.core import BothOrdersResult
from judgedesk.core.backends._server import ServerBackend
from judgedesk.core.runs import RunStore
from judgedesk.desktop._compare_view import CompareView
from judgedesk.desktop._main_window import MainWindow
from judgedesk.desktop._settings import AppSettings
from judgedesk.desktop._settings_view import SettingsView
from judgedesk.desktop._tasks import TaskState
from PySide6.QtWidgets import QLabel

from tests.local_server import LocalServer

pytestmark = pytest.mark.real_model

TIMEOUT = 120000
LIMIT = 2  # 2 items x 3 models = 6 pairs, 12 judgements in both orders


@pytest.fixture
def through_server(app_settings: AppSettings, local_server: LocalServer) -> str:
    """Settings that judge through the session's server; returns its 'host:port'."""
    app_settings.n_ctx = local_server.n_ctx  # the server's context, so in-process verdicts are cut the same way
    app_settings.use_server, app_settings.server_url = True, local_server.url
    return f"127.0.0.1:{local_server.port}"


def test_test_connection_says_what_the_server_is(app_context, through_server: str, qtbot) -> None:
    view = SettingsView(app_context)
    qtbot.addWidget(view)
    allowlist = view.findChild(QLabel, "allowedEndpoints")
    assert through_server not in allowlist.text()
    task = view.server_panel.test_connection()
    assert task is not None
    qtbot.waitSignal(task.task_did_end, timeout=TIMEOUT).wait()
    assert task.state is TaskState.FINISHED, app_context.messages.current_text()
    facts = view.findChild(QLabel, "serverFacts").text()
    assert f"Connected to {through_server}: llama-cpp-python" in facts
    assert "logprobs: yes" in facts and "grammars: yes" in facts
    assert "serves the same judge as SmolLM2-135M-Instruct.Q4_1.gguf" in facts
    assert through_server in allowlist.text()  # allowed once connected, and said so


def _compare(view: CompareView, qtbot) -> BothOrdersResult:
    task = view.run()
    assert task is not None
    qtbot.waitSignal(task.task_did_end, timeout=TIMEOUT).wait()
    assert task.state is TaskState.FINISHED, view.context.messages.current_text()
    assert task.result.result is not None, "not judged: the estimate asked first"
    return task.result.result


def test_a_comparison_through_the_server_equals_the_in_process_one(app_context, through_server: str,
                                                                   qtbot) -> None:
    view = CompareView(app_context)
    qtbot.addWidget(view)
    view.picker.set_format("pandalm")
    view.instruction.editor.setPlainText("What is the capital of France? Answer in one sentence.")
    view.response_a.editor.setPlainText("The capital of France is Paris.")
    view.response_b.editor.setPlainText("The capital of France is Lyon.")
    served = _compare(view, qtbot)
    assert app_context.service.loaded.endpoint == through_server
    app_context.settings.use_server = False
    app_context.settings_did_change.emit()
    local = _compare(view, qtbot)
    assert app_context.service.loaded.endpoint is None
    for a, b in ((served.ab, local.ab), (served.ba, local.ba)):
        assert (a.manifest.backend, b.manifest.backend) == ("server", "llama.cpp")
        assert a.winner == b.winner and a.status == b.status == "ok"
        assert a.probabilities is not None and b.probabilities is not None
        assert dict(a.probabilities) == pytest.approx(dict(b.probabilities), abs=1e-6)
    assert served.decision == local.decision


def test_a_batch_runs_through_the_server_and_continues_in_process(app_context, through_server: str,
                                                                  demo_folder: Path, qtbot) -> None:
    window = MainWindow(app_context)
    qtbot.addWidget(window)
    assert window.offline_label.text() == f"● Offline · judging through {through_server} only"
    batch = window.batch
    batch.picker.set_format("pandalm")
    batch.limit_box.setValue(LIMIT)
    preview = batch.open_path(demo_folder)
    qtbot.waitSignal(preview.task_did_end, timeout=30000).wait()  # type: ignore[union-attr]
    rows_seen: list[int] = []
    batch.live_model.rowsInserted.connect(lambda *_: rows_seen.append(batch.live_model.rowCount()))
    run = batch.start()
    assert run is not None
    qtbot.waitUntil(lambda: bool(rows_seen), timeout=TIMEOUT)
    assert run.is_running  # the table fills while the run goes on
    qtbot.waitSignal(run.task_did_end, timeout=TIMEOUT).wait()
    assert run.state is TaskState.FINISHED, app_context.messages.current_text()
    assert batch.last_result is not None and batch.last_result.total == 6 and not batch.last_result.errors
    assert batch.last_result.judged_now == 12
    assert batch.live_model.rowCount() == 12 and len(rows_seen) >= 2
    assert f"through {through_server}" in window.judge_label.text()
    with RunStore(batch.folder) as store:
        (info,) = store.runs()
    assert info.settings["backend"] == "server"
    assert info.settings["decoding"]["endpoint"] == f"http://{through_server}"
    assert info.settings["decoding"]["max_in_flight"] == 4  # the runner kept 4 requests in flight

    app_context.settings.use_server = False  # the run key holds no backend: the same run continues here
    app_context.settings_did_change.emit()
    assert window.offline_label.text() == "● Offline: network access is blocked in this process"
    batch._refresh_earlier()
    qtbot.waitUntil(lambda: batch.earlier_table.rowCount() == 1, timeout=30000)
    batch.earlier_table.selectRow(0)
    resumed = batch.resume_selected_run()
    assert resumed is not None
    qtbot.waitSignal(resumed.task_did_end, timeout=TIMEOUT).wait()
    assert resumed.state is TaskState.FINISHED, app_context.messages.current_text()
    assert resumed.result.run_key == info.run_key and resumed.result.already_done == 12
    assert app_context.service.loaded.endpoint is None
    window.close()


def test_a_server_without_logprobs_is_said_once(app_context, through_server: str, qtbot,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ServerBackend, "_probe_logprobs", lambda self: False)
    notices: list[tuple[str, str]] = []
    app_context.messages.message_did_show.connect(lambda kind, text: notices.append((kind, text)))
    spec = app_context.settings.judge_spec()
    decodings = []
    for _ in range(2):
        task = app_context.service.submit(spec, lambda ctx: decodings.append(ctx.judge.decoding))
        qtbot.waitSignal(task.task_did_end, timeout=TIMEOUT).wait()
        assert task.state is TaskState.FINISHED, app_context.messages.current_text()
    assert [d.fast for d in decodings] == [False, False] and spec.decoding.fast
    qtbot.waitUntil(lambda: bool(notices), timeout=5000)
    assert len(notices) == 1 and notices[0][0] == "info"
    assert f"The server at {through_server}" in notices[0][1] and "no token probabilities" in notices[0][1]

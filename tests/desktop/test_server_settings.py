"""Inference server settings without a server: persistence, URL validation with core's messages, the specs built
from them, the status-bar statement of the endpoint in use, and resuming a run known by a server's model id."""

from __future__ import annotations

import time

import pytest
from judgedesk.core import (
    BackendCapabilities,
    DecodingSettings,
    InputError,
    ServerOptions,
    create_backend,
    decoding_for_backend,
    parse_server_url,
)
from judgedesk.core.runs import RunInfo
from judgedesk.desktop._batch_runs import spec_for_run
from judgedesk.desktop._judge_service import decoding_notice
from judgedesk.desktop._main_window import MainWindow, offline_indicator_text
from judgedesk.desktop._settings import API_KEY_VARIABLE, AppSettings
from judgedesk.desktop._settings_view import SettingsView
from judgedesk.desktop._tasks import TaskState
from PySide6.QtWidgets import QCheckBox, QLabel, QLineEdit, QPushButton, QSpinBox

from tests.local_server import free_port

URL = "http://127.0.0.1:8765"


@pytest.fixture
def view(app_context, qtbot) -> SettingsView:
    widget = SettingsView(app_context)
    qtbot.addWidget(widget)
    return widget


def _type_url(view: SettingsView, text: str) -> None:
    edit = view.findChild(QLineEdit, "serverUrl")
    edit.setText(text)
    edit.editingFinished.emit()


def test_server_settings_default_to_judging_here(app_settings: AppSettings) -> None:
    assert app_settings.use_server is False and app_settings.server_url == "" and app_settings.server_model is None
    assert (app_settings.in_flight, app_settings.timeout_s, app_settings.retries) == (4, 120, 5)
    assert app_settings.server_options() is None and app_settings.server_endpoint() is None
    assert app_settings.judge_spec().server is None


def test_server_settings_persist_and_go_into_every_spec(app_settings: AppSettings,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_VARIABLE, "secret")
    app_settings.use_server, app_settings.server_url, app_settings.server_model = True, URL, "judge-7b"
    app_settings.in_flight, app_settings.timeout_s, app_settings.retries = 8, 30, 2
    reread = AppSettings(app_settings.path)
    expected = ServerOptions(url=URL, model="judge-7b", max_in_flight=8, timeout_s=30.0, retries=2, api_key="secret")
    assert reread.server_options() == expected
    assert reread.server_endpoint() == parse_server_url(URL)
    spec = reread.judge_spec(judge="demo")
    assert spec.server == expected and spec.judge == "demo"  # the judge names the local copy of the served file
    assert "secret" not in app_settings.path.read_text()  # the token stays in the environment
    reread.server_local_file = False
    assert AppSettings(app_settings.path).judge_spec(judge="demo").judge is None  # known by the server's model id
    reread.use_server = False
    assert AppSettings(app_settings.path).judge_spec().server is None


@pytest.mark.parametrize(("url", "message"), [
    ("http://judge.example.com:8080", "not a host name"),
    ("http://8.8.8.8:8080", "not a loopback or private-network address"),
    ("ftp://10.0.0.5:21", "must start with http:// or https://"),
])
def test_a_refused_url_is_not_saved(app_settings: AppSettings, url: str, message: str) -> None:
    app_settings.server_url = URL
    with pytest.raises(InputError, match=message) as refused:
        app_settings.server_url = url
    assert refused.value.field == "server"
    assert AppSettings(app_settings.path).server_url == URL


def test_the_panel_saves_each_edit_and_shows_core_message_for_a_bad_url(view: SettingsView, app_context) -> None:
    changes: list[None] = []
    app_context.settings_did_change.connect(lambda: changes.append(None))
    view.findChild(QCheckBox, "serverUse").setChecked(True)
    _type_url(view, URL)
    model = view.findChild(QLineEdit, "serverModel")
    model.setText("judge-7b")
    model.editingFinished.emit()
    view.findChild(QSpinBox, "serverInFlight").setValue(6)
    view.findChild(QSpinBox, "serverTimeout").setValue(45)
    view.findChild(QSpinBox, "serverRetries").setValue(1)
    assert len(changes) == 6
    reread = AppSettings(app_context.settings.path)
    assert reread.server_options() == ServerOptions(url=URL, model="judge-7b", max_in_flight=6, timeout_s=45.0,
                                                    retries=1)

    _type_url(view, "http://judge.local:8080")
    assert "give the server's IP address, not a host name" in app_context.messages.current_text()
    assert "field 'server'" in app_context.messages.current_text()
    assert AppSettings(app_context.settings.path).server_url == URL and len(changes) == 6


def test_a_cgnat_server_is_taken_only_once_the_opt_in_is_checked(view: SettingsView, app_context) -> None:
    view.findChild(QCheckBox, "serverUse").setChecked(True)
    _type_url(view, "http://100.64.0.7:8080")
    assert "100.64.0.0/10" in app_context.messages.current_text()
    assert AppSettings(app_context.settings.path).server_url == ""
    view.findChild(QCheckBox, "serverAllowCgnat").setChecked(True)  # takes the address still in the field
    reread = AppSettings(app_context.settings.path)
    assert reread.server_url == "http://100.64.0.7:8080" and reread.allow_cgnat
    assert reread.server_options().allow_cgnat and reread.server_endpoint().host == "100.64.0.7"


def test_the_privacy_statement_names_the_server(view: SettingsView, app_context) -> None:
    statement = view.findChild(QLabel, "offlineStatement")
    assert "never leave this computer" in statement.text()
    view.findChild(QCheckBox, "serverUse").setChecked(True)
    _type_url(view, URL)
    assert "only to the inference server at 127.0.0.1:8765" in statement.text()


def test_test_connection_refuses_a_bad_url_without_connecting(view: SettingsView, app_context) -> None:
    view.findChild(QLineEdit, "serverUrl").setText("http://8.8.4.4:8080")
    assert view.server_panel.test_connection() is None
    assert "not a loopback or private-network address" in app_context.messages.current_text()


def test_test_connection_to_nothing_is_a_message(view: SettingsView, app_context, qtbot) -> None:
    view.findChild(QLineEdit, "serverUrl").setText(f"http://127.0.0.1:{free_port()}")
    view.findChild(QCheckBox, "serverLocalFile").setChecked(False)
    button = view.findChild(QPushButton, "testServer")
    started = time.monotonic()
    task = view.server_panel.test_connection()
    assert task is not None and not button.isEnabled()
    qtbot.waitSignal(task.task_did_end, timeout=20000).wait()
    assert time.monotonic() - started < 15  # no retries for a test
    assert task.state is TaskState.FAILED and "127.0.0.1" in app_context.messages.current_text()
    assert "Could not connect" in view.findChild(QLabel, "serverFacts").text()
    assert button.isEnabled()


def test_the_indicator_says_the_endpoint_in_use() -> None:
    assert offline_indicator_text(True, None) == "● Offline: network access is blocked in this process"
    assert offline_indicator_text(True, parse_server_url(URL)) == "● Offline · judging through 127.0.0.1:8765 only"
    assert offline_indicator_text(True, parse_server_url("http://[fd00::5]:8080")) == \
        "● Offline · judging through [fd00::5]:8080 only"
    assert "NOT installed" in offline_indicator_text(False, parse_server_url(URL))


def test_the_status_bar_follows_the_settings(app_context, qtbot) -> None:
    window = MainWindow(app_context)
    qtbot.addWidget(window)
    assert window.offline_label.text() == offline_indicator_text(True, None)
    assert window.judge_label.text() == "no judge loaded"
    panel = window.settings_view.server_panel
    panel.use_box.setChecked(True)
    panel.url_edit.setText(URL)
    panel.url_edit.editingFinished.emit()
    assert window.offline_label.text() == "● Offline · judging through 127.0.0.1:8765 only"
    assert window.judge_label.text() == "no judge loaded · server 127.0.0.1:8765"
    panel.use_box.setChecked(False)
    assert window.offline_label.text() == offline_indicator_text(True, None)
    assert window.judge_label.text() == "no judge loaded"


def test_the_server_decodes_with_less_and_says_so_in_plain_words() -> None:
    asked = DecodingSettings()
    bare = create_backend("mock", capabilities=BackendCapabilities(logprobs=False, grammar=False))
    used = decoding_for_backend(bare, asked)
    assert (used.fast, used.constrained) == (False, False)
    notice = decoding_notice(asked, used, "10.0.0.5:8080")
    assert notice is not None and "10.0.0.5:8080" in notice
    assert "no token probabilities" in notice and "no grammar" in notice
    full = create_backend("mock", capabilities=BackendCapabilities(logprobs=True, grammar=True))
    assert decoding_for_backend(full, asked) == asked
    assert decoding_notice(asked, asked, "10.0.0.5:8080") is None
    slow = DecodingSettings(fast=False)  # generation was asked for: only the grammar is missing
    slow_notice = decoding_notice(slow, decoding_for_backend(bare, slow), "x")
    assert slow_notice is not None and "no grammar" in slow_notice and "probabilities" not in slow_notice
    assert decoding_notice(DecodingSettings(fast=False, constrained=False),
                           DecodingSettings(fast=False, constrained=False), "x") is None


def _run_by_model_id() -> RunInfo:
    return RunInfo(run_key="k", label="demo / pandalm", mode="pairwise", orders=("AB", "BA"), source="data.jsonl",
                   settings={"judge_sha256": "server:demo.gguf", "judge_name": "demo", "file_type": "unknown",
                             "format": "pandalm", "seed": 7, "backend": "server",
                             "decoding": {"mode": "logits", "lang": "en", "n_ctx": 2048, "endpoint": URL,
                                          "server_model": "demo.gguf", "max_in_flight": 4}})


def test_a_run_known_by_a_server_model_id_resumes_only_through_a_server() -> None:
    info = _run_by_model_id()
    with pytest.raises(LookupError, match="turn on the inference server"):
        spec_for_run(info)
    spec = spec_for_run(info, ServerOptions(url="http://10.0.0.9:8000", max_in_flight=2))
    assert spec.judge is None and spec.server == ServerOptions(url="http://10.0.0.9:8000", model="demo.gguf",
                                                               max_in_flight=2)
    assert (spec.format, spec.n_ctx, spec.decoding.sampling.seed, spec.decoding.fast) == ("pandalm", 2048, 7, True)
    chosen = spec_for_run(info, ServerOptions(url=URL, model="other-id"))
    assert chosen.server is not None and chosen.server.model == "other-id"  # the analyst's choice stands

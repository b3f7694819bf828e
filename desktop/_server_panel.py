"""The Settings view's "Inference server" group: whether judging goes through a server on the user's network, its
address and request limits, and a "Test connection" button that says what the server is and what it can do.

Every edit is saved at once to `context.settings` and announced with `context.settings_did_change`; an address
judgedesk will not talk to (a host name, a public IP) is refused with core's message and not saved.
"""

from __future__ import annotations

from dataclasses import dataclass

from judgedesk.core import InputError, ServerOptions, open_judge_backend, parse_server_url
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from ._context import AppContext
from ._messages import report_task_errors
from ._settings import API_KEY_VARIABLE
from ._tasks import Task, WorkContext
from ._widgets import SELECTABLE

__all__ = ["ServerCheck", "ServerPanel", "describe_check"]


@dataclass(frozen=True)
class ServerCheck:
    """What "Test connection" learned about the server."""

    endpoint: str
    """'host:port'."""
    server: str
    """The kind of server ('llama.cpp', 'vllm' or 'llama-cpp-python') and its version when it reports one, as
    manifests record it."""
    model: str
    """The model id it serves (or was asked for)."""
    logprobs: bool
    """Whether it returns token probabilities (fast verdicts with probabilities)."""
    grammar: bool
    """Whether it takes a grammar (output held to the verdict format)."""
    local_file: str | None
    """The local judge file it was checked against (same tokenizer), None when not checked."""


def describe_check(check: ServerCheck) -> str:
    """The result line shown under the button."""
    same = f" · serves the same judge as {check.local_file}" if check.local_file else ""
    return (f"Connected to {check.endpoint}: {check.server}, model {check.model!r}{same}\n"
            f"logprobs: {'yes' if check.logprobs else 'no (verdicts read from generated text, slower)'} · "
            f"grammars: {'yes' if check.grammar else 'no (output not held to the verdict format)'}")


class ServerPanel(QGroupBox):
    """Inference server settings, saved as they are edited."""

    server_did_connect = Signal(object)
    """A `ServerCheck`, after "Test connection" reached the server (its endpoint is now allowed)."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__("Inference server", parent)
        self._context = context
        settings = context.settings
        self.check_task: Task | None = None

        self.use_box = QCheckBox("Judge through an inference server on my network")
        self.use_box.setObjectName("serverUse")
        self.use_box.setToolTip("Send the judge prompts to an OpenAI-compatible server (llama.cpp, vLLM, "
                                "llama-cpp-python) at the address below, and to nothing else")
        self.use_box.setChecked(settings.use_server)

        self.url_edit = QLineEdit(settings.server_url)
        self.url_edit.setObjectName("serverUrl")
        self.url_edit.setPlaceholderText("http://10.0.0.5:8080")
        self.url_edit.setToolTip("An IP address on this computer or your private network, with its port; host "
                                 "names are refused (looking one up would send a DNS query)")
        self.cgnat_box = QCheckBox("Allow an address in 100.64.0.0/10 (CGNAT: a Tailscale-style network I run)")
        self.cgnat_box.setObjectName("serverAllowCgnat")
        self.cgnat_box.setToolTip("Refused by default: on a carrier's network that block is shared with other "
                                  "customers, so it is your own network only when you run it")
        self.cgnat_box.setChecked(settings.allow_cgnat)
        self.model_edit = QLineEdit(settings.server_model or "")
        self.model_edit.setObjectName("serverModel")
        self.model_edit.setPlaceholderText("optional: the one the server serves")
        self.local_file_box = QCheckBox("The judge picked in Compare and Batch is the file the server serves")
        self.local_file_box.setObjectName("serverLocalFile")
        self.local_file_box.setToolTip("Checked: verdicts carry that file's identity and runs continue on either "
                                       "backend. Unchecked: the judge is known by the server's model id only.")
        self.local_file_box.setChecked(settings.server_local_file)

        self.in_flight_box = _spin_box("serverInFlight", 1, 256, settings.in_flight, "")
        self.in_flight_box.setToolTip("Requests a batch run keeps in flight at once (the server batches them)")
        self.timeout_box = _spin_box("serverTimeout", 1, 3600, settings.timeout_s, " s")
        self.timeout_box.setToolTip("How long to wait for one answer, queueing on the server included")
        self.retries_box = _spin_box("serverRetries", 0, 50, settings.retries, "")
        self.retries_box.setToolTip("Further attempts for a request that got no answer or a server error")

        self.test_button = QPushButton("Test connection")
        self.test_button.setObjectName("testServer")
        self.test_button.clicked.connect(self.test_connection)
        self.test_button.setToolTip(f"Connect now and say what the server can do (a bearer token, if the server "
                                    f"needs one, comes from the {API_KEY_VARIABLE} environment variable)")
        self.result_label = QLabel("Not tested yet.")
        self.result_label.setObjectName("serverFacts")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(SELECTABLE)

        form = QFormLayout(self)
        form.addRow(self.use_box)
        form.addRow("Server &URL", self.url_edit)
        form.addRow(self.cgnat_box)
        form.addRow("&Model id", self.model_edit)
        form.addRow(self.local_file_box)
        limits = QHBoxLayout()
        for caption, box in (("In flight", self.in_flight_box), ("Timeout", self.timeout_box),
                             ("Retries", self.retries_box)):
            limits.addWidget(QLabel(caption))
            limits.addWidget(box)
        limits.addStretch(1)
        form.addRow("Requests", limits)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.result_label, 1)
        form.addRow(test_row)

        self.use_box.toggled.connect(lambda on: self._save("use_server", on))
        self.url_edit.editingFinished.connect(self._url_edited)
        self.cgnat_box.toggled.connect(self._cgnat_toggled)
        self.model_edit.editingFinished.connect(lambda: self._save("server_model",
                                                                   self.model_edit.text().strip() or None))
        self.local_file_box.toggled.connect(lambda on: self._save("server_local_file", on))
        self.in_flight_box.valueChanged.connect(lambda v: self._save("in_flight", v))
        self.timeout_box.valueChanged.connect(lambda v: self._save("timeout_s", v))
        self.retries_box.valueChanged.connect(lambda v: self._save("retries", v))

    # -- saving ---------------------------------------------------------------------------------------------

    def _save(self, attribute: str, value: object) -> bool:
        """Save one setting; False (and core's message shown) when it is refused."""
        settings = self._context.settings
        if getattr(settings, attribute) == value:
            return True
        try:
            setattr(settings, attribute, value)
        except InputError as exc:
            self._context.messages.show_error(str(exc))
            return False
        self._context.settings_did_change.emit()
        return True

    def _url_edited(self) -> None:
        # A refused address stays in the field to be corrected; the saved one is still in use until then.
        self._save("server_url", self.url_edit.text().strip())

    def _cgnat_toggled(self, on: bool) -> None:
        self._save("allow_cgnat", on)
        if on:  # the address in the field may have been refused for want of this
            self._url_edited()

    # -- testing --------------------------------------------------------------------------------------------

    def test_connection(self) -> Task | None:
        """Connect to the address in the field (off the GUI thread), show what the server is, and disconnect."""
        if self.check_task is not None:
            return None
        text = self.url_edit.text().strip()
        allow_cgnat = self.cgnat_box.isChecked()
        try:
            parse_server_url(text, allow_cgnat=allow_cgnat)
        except InputError as exc:
            self._context.messages.show_error(str(exc))
            return None
        settings = self._context.settings
        model = self.model_edit.text().strip() or None
        judge = settings.default_judge if self.local_file_box.isChecked() else None
        timeout_s, n_ctx = float(self.timeout_box.value()), settings.n_ctx
        api_key = settings.server_api_key

        def connect(ctx: WorkContext) -> ServerCheck:
            # No retries: a test should answer now; judging itself retries as set.
            server = ServerOptions(url=text, model=model, timeout_s=timeout_s, retries=0, api_key=api_key,
                                   allow_cgnat=allow_cgnat)
            backend = open_judge_backend(judge, n_ctx=n_ctx, server=server)
            try:
                capabilities, local = backend.capabilities, backend.info.path
                assert capabilities.endpoint is not None  # a server backend always judges through one
                return ServerCheck(endpoint=capabilities.endpoint, server=backend.versions()["server"],
                                   model=str(backend.settings()["server_model"]), logprobs=capabilities.logprobs,
                                   grammar=capabilities.grammar, local_file=None if local is None else local.name)
            finally:
                backend.close()

        self.test_button.setEnabled(False)
        self.result_label.setText(f"Connecting to {text} …")
        task = report_task_errors(self._context.jobs.submit(connect, "testing the server"), self._context.messages)
        task.task_did_finish.connect(self._connected)
        task.task_did_fail.connect(lambda _: self.result_label.setText("Could not connect (see the message above)."))
        task.task_did_end.connect(self._test_ended)
        self.check_task = task
        return task

    def _connected(self, check: ServerCheck) -> None:
        self.result_label.setText(describe_check(check))
        self.server_did_connect.emit(check)

    def _test_ended(self) -> None:
        self.check_task = None
        self.test_button.setEnabled(True)


def _spin_box(name: str, low: int, high: int, value: int, suffix: str) -> QSpinBox:
    box = QSpinBox()
    box.setObjectName(name)
    box.setRange(low, high)
    box.setSuffix(suffix)
    box.setValue(min(max(value, low), high))
    return box

"""Ctrl-C on the command line: at any moment, one line ("judgedesk: interrupted") and exit 130.

Before, Ctrl-C in the first few tenths of a second (the `judgedesk` script importing) ended in a KeyboardInterrupt
traceback and exit -2, and one pressed while llama.cpp loaded the model was dropped inside its ctypes log callback:
the command finished with exit 0.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from judgedesk.core._interrupts import interrupts_remembered, raise_if_interrupted

JUDGEDESK = Path(sys.executable).parent / "judgedesk"


def test_an_interrupt_a_ctypes_callback_swallowed_is_raised_again_afterwards(capsys) -> None:
    @ctypes.CFUNCTYPE(None)
    def callback() -> None:  # as llama.cpp's log callback is called, from native code
        signal.raise_signal(signal.SIGINT)

    with interrupts_remembered():
        callback()  # the KeyboardInterrupt raised in there cannot leave the callback
        with pytest.raises(KeyboardInterrupt):
            raise_if_interrupted()
    assert "Exception ignored" not in capsys.readouterr().err  # remembered, so not reported as lost


def test_without_an_interrupt_nothing_is_raised() -> None:
    with interrupts_remembered():
        raise_if_interrupted()


def test_the_previous_handler_is_back_afterwards() -> None:
    before = signal.getsignal(signal.SIGINT)
    with interrupts_remembered():
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before


def test_ctrl_c_while_starting_ends_the_command_even_where_python_drops_what_a_handler_raises(
        tmp_path: Path) -> None:
    """Python runs a signal handler wherever the main thread is, and while importing that can be importlib's weakref
    callback (or an audit hook), which reports and drops an exception: the handler's SystemExit was lost there, the
    import went on and the command finished with exit 0 after printing "interrupted" (seen once in CI)."""
    script = tmp_path / "judgedesk"  # the console script's name: only there is the starting handler installed
    script.write_text("import signal, weakref\n"
                      "import judgedesk.core\n"
                      "class Module: pass\n"
                      "module = Module()\n"
                      "lock = weakref.ref(module, lambda ref: signal.raise_signal(signal.SIGINT))\n"
                      "del module  # the callback runs, and the handler inside it\n"
                      "print('went on')\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "judgedesk: interrupted\n")


@pytest.mark.real_model
@pytest.mark.slow
@pytest.mark.parametrize("delay_s", [0.0, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.75, 0.9, 1.1, 1.4, 1.8])
def test_ctrl_c_at_any_moment_of_a_compare_is_one_line_and_exit_130(delay_s: float, tmp_path: Path) -> None:
    """Ctrl-C `delay_s` after judgedesk's own code starts, across importing, loading the demo judge and judging
    (the whole command takes about a second here; on a slower machine the later ones land earlier in it).

    Counted from judgedesk's first import, not from the process start: the first ~20 ms are Python starting up
    (its `site` module), where no program can catch Ctrl-C. `-X importtime` shows when judgedesk's code runs.
    """
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        process = subprocess.Popen([sys.executable, "-X", "importtime", str(JUDGEDESK), "compare", "--instruction",
                                    "What is 2+2?", "--a", "4", "--b", "5"],
                                   stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=tmp_path)
        try:
            _wait_for(lambda: "judgedesk.core._cpu_features" in log.read_text(), process)
            process.wait(timeout=delay_s or 0.001)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=300)
    err = [line for line in log.read_text().splitlines() if not line.startswith("import time:")]
    if process.returncode == 0:  # it had finished before the key was pressed
        assert "decision:" in out and err == [], (out, err)
    else:
        assert (process.returncode, err) == (130, ["judgedesk: interrupted"]), out


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[str]) -> None:
    while not condition():
        assert process.poll() is None, "judgedesk ended before its first import was seen"
        time.sleep(0.002)

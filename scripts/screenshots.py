"""Render each view of the desktop app, in a meaningful state, into docs/screenshot-<view>.png (`make screenshots`).

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python scripts/screenshots.py [--out docs]

The app runs for real on the embedded demo judge with a fresh JUDGEDESK_HOME (no personal judges or settings
show up): Compare judges a pair, Batch previews assets/demo and runs a small part of it (one picture mid-run, one
with the finished run in the run history), Results shows that run as the demo judge leaves it (the warning banner,
figures with their n, the verdicts table with a row opened), Judges the library, Settings the defaults. Without
a display (no DISPLAY) Qt's offscreen platform is used; the pictures are the same widgets, but under Xvfb they are
drawn by the X11 platform plugin a Linux desktop uses.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WINDOW_SIZE = (1280, 820)
BATCH_ITEMS = 8
"""Prompts of the demo data the batch run judges: 8 prompts x 3 model pairs x 2 orders = 48 verdicts."""
WAIT_S = 300.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for the PNG files (default docs/)")
    parser.add_argument("--only", nargs="*",
                        help="views to render (compare batch results judges settings leaderboards)")
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    with tempfile.TemporaryDirectory(prefix="judgedesk-screenshots-") as scratch:
        os.environ["JUDGEDESK_HOME"] = str(Path(scratch) / "home")
        return Shooter(Path(scratch), args.out, set(args.only or [])).run()


class Shooter:
    """Drives one MainWindow through the views and grabs each."""

    def __init__(self, scratch: Path, out: Path, only: set[str]) -> None:
        # Imported here: JUDGEDESK_HOME must be set before judgedesk reads its folders.
        from judgedesk.core import demo_data_path
        from judgedesk.desktop._context import AppContext
        from judgedesk.desktop._main_window import MainWindow
        from PySide6.QtWidgets import QApplication

        self.app = QApplication.instance() or QApplication(["judgedesk"])
        self.app.setApplicationName("judgedesk")
        self.app.setOrganizationName("judgedesk")
        self.out = out
        self.only = only
        self.data = scratch / "demo"
        shutil.copytree(demo_data_path(), self.data)
        context = AppContext()
        context.settings.runs_dir = scratch / "runs"
        self.window = MainWindow(context)
        self.window.resize(*WINDOW_SIZE)
        self.window.show()
        self.context = context
        self.written: list[Path] = []

    # -- the tour -------------------------------------------------------------------------------------------

    def run(self) -> int:
        self.out.mkdir(parents=True, exist_ok=True)
        service = self.context.service
        preload = service.preload(self.context.settings.judge_spec())
        self.wait_for(lambda: not preload.is_running, "the demo judge to load")
        steps: list[tuple[str, Callable[[], None]]] = [
            ("compare", self.compare), ("batch", self.batch), ("results", self.results), ("judges", self.judges),
            ("settings", self.settings), ("leaderboards", self.leaderboards),
        ]
        failed = []
        for name, step in steps:
            if self.only and name not in self.only and not (name == "batch" and "results" in self.only):
                continue
            try:
                step()
            except Exception as exc:  # one view's failure must not cost the others their pictures
                failed.append(name)
                print(f"{name}: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        self.close()
        for path in self.written:
            print(path)
        return 1 if failed else 0

    def compare(self) -> None:
        view = self.window.compare
        self.show(view)
        view.set_pair("What is the capital of France? Answer in one sentence.", "The capital of France is Paris.",
                      "The capital of France is Lyon, which is also its largest city.")
        view.explain.setChecked(True)  # the card then shows the reason as well
        task = view.run()
        if task is None:
            raise RuntimeError(f"the comparison did not start: {self.context.messages.current_text()}")
        self.wait_for(lambda: not task.is_running, "the verdict")
        self.grab("compare")

    def batch(self) -> None:
        from PySide6.QtWidgets import QSpinBox

        view = self.window.batch
        self.show(view)
        limit = view.findChild(QSpinBox, "limitBox")
        limit.setValue(BATCH_ITEMS)
        task = view.open_path(self.data)
        self.wait_for(lambda: task is None or not task.is_running, "the preview")
        self.wait_for(lambda: view.dataset is not None, "the preview")
        run = view.start()
        if run is None:
            raise RuntimeError(f"the batch run did not start: {self.context.messages.current_text()}")
        self.wait_for(lambda: view.progress_bar.value() >= view.progress_bar.maximum() // 2 or not run.is_running,
                      "half of the batch run")
        self.grab("batch")
        self.wait_for(lambda: not run.is_running, "the batch run to finish")
        self.pump(1.0)
        self.grab("batch-history")  # the finished run in "Earlier runs of this data": progress, date, settings
        self.batch_folder = view.folder
        self.batch_key = view.last_result.run_key if view.last_result else None

    def results(self) -> None:
        view = self.window.results
        summaries: list[object] = []
        view.summary_did_update.connect(summaries.append)
        self.context.open_results(self.batch_folder, self.batch_key)
        self.wait_for(lambda: bool(summaries) and not view.is_loading, "the results")
        # As the demo judge really does: it prefers whichever response it sees first, so nearly every pair is
        # inconsistent: the warning banner, figures that carry their n, and "too few games for an interval".
        self.grab("results")
        # "Inconsistent as tie" ranks what little there is: small-n figures say "too few games for an interval",
        # and the judge-behaviour panel still shows what the judge did.
        summaries.clear()
        view.inconsistent_as_tie.setChecked(True)
        self.wait_for(lambda: bool(summaries) and not view.is_loading, "the results with ties")
        self.grab("results-ties")
        view.inconsistent_as_tie.setChecked(False)
        view.tabs.setCurrentIndex(1)
        view.table.selectRow(0)
        self.grab("results-verdicts")

    def judges(self) -> None:
        view = self.window.judges
        self.show(view)
        view.select_judge("demo")
        view.set_budget(24.0, "gpu")  # a budget a reader recognises, not this build machine's memory
        task = view.plan_memory()
        self.wait_for(lambda: task is None or not task.is_running, "the memory plan")
        self.grab("judges")

    def settings(self) -> None:
        self.show(self.window.settings_view)
        self.grab("settings")

    def leaderboards(self) -> None:
        """AlpacaEval's own GPT-4-turbo annotations of two models, imported: the Results view's Leaderboards tab
        with AlpacaEval's columns, as its published leaderboard has them."""
        import gzip

        from judgedesk.core.cli import main as judgedesk

        results = self.data.parent / "alpaca_eval" / "results"
        packed = ROOT / "tests" / "data" / "ecosystem" / "alpaca_eval" / "results"
        for source in packed.rglob("*.json.gz"):
            target = results / source.relative_to(packed).with_suffix("")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(gzip.decompress(source.read_bytes()))
        folder = self.data.parent / "runs" / "alpaca_eval"
        annotations = sorted(str(p) for p in results.rglob("annotations.json"))
        if judgedesk(["import-verdicts", *annotations, "--data", str(results), "--out", str(folder)]) != 0:
            raise RuntimeError("the AlpacaEval annotations did not import")
        view = self.window.results
        summaries: list[object] = []
        view.summary_did_update.connect(summaries.append)
        self.context.open_results(folder, None)
        self.wait_for(lambda: bool(summaries) and not view.is_loading, "the imported run's results")
        view.tabs.setCurrentWidget(view.protocol_tables)
        self.pump(0.5)
        self.grab("results-leaderboards")

    def close(self) -> None:
        """Close the window (which stops the services) and delete the Qt objects while Python is still whole."""
        import shiboken6

        self.window.close()
        self.pump(0.3)
        shiboken6.delete(self.window)
        self.pump(0.1)

    # -- helpers --------------------------------------------------------------------------------------------

    def show(self, view: object) -> None:
        self.window.show_view(self.window.view_index(view))
        self.pump(0.3)

    def pump(self, seconds: float) -> None:
        """Run the event loop for `seconds` so that layouts settle and paint events are handled."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.app.processEvents()
            time.sleep(0.01)

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise TimeoutError(f"gave up waiting {timeout:.0f} s for {what}")
            self.app.processEvents()
            time.sleep(0.02)

    def grab(self, name: str, *, keep_message: bool = False) -> None:
        """Save the window; the message bar is cleared first (an earlier view's news is noise in this one)."""
        if not keep_message:
            self.context.messages.clear()
        self.pump(0.7)
        path = self.out / f"screenshot-{name}.png"
        if not self.window.grab().save(str(path)):
            raise OSError(f"{path}: could not write the PNG")
        self.written.append(path)


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is written and the window is closed. After the batch and results tour, PySide6 6.12 has aborted
    # in the interpreter's final garbage collection ("none_dealloc: deallocating None"), which would turn a good
    # run into exit code 134; leave without that collection.
    os._exit(status)

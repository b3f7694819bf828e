"""Python's cyclic garbage collector, run in the GUI thread while the app is up.

Automatic collection runs in whichever thread happens to allocate past a threshold. In this app the judge service
and the job pool allocate constantly on worker threads, so a Qt wrapper caught in a reference cycle (a task and the
lambda connected to its signal, a view's closure) can be finalised there: its C++ object deleted on a thread that
does not own it while the GUI thread still delivers its events. That is a segfault, seen in CI as "Garbage-collecting"
on a worker thread while a fidelity check was being cancelled. So, while any AppContext lives, automatic collection
is off and a timer in the GUI thread collects four times a second: the young generation every time, an older one
when its count passed Python's own threshold. With the last context gone, automatic collection is back.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QTimer

__all__ = ["hold_gui_thread_gc", "release_gui_thread_gc"]

_INTERVAL_MS = 250


class _Collector(QObject):
    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.holders = 0
        self.was_enabled = True  # set by start()
        self._timer = QTimer(self)
        self._timer.setInterval(_INTERVAL_MS)
        self._timer.timeout.connect(self.collect)

    def start(self) -> None:
        self.was_enabled = gc.isenabled()
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self.collect()
        if self.was_enabled:
            gc.enable()

    def collect(self) -> None:
        # The young generation every tick (cheap, and a tick cannot see the allocation peaks that Python's own
        # trigger sees), an older one when its count passed its threshold; collecting it takes the younger ones too.
        counts, thresholds = gc.get_count(), gc.get_threshold()
        older = [generation for generation in (1, 2) if counts[generation] > thresholds[generation]]
        gc.collect(older[-1] if older else 0)


_collector: _Collector | None = None


def hold_gui_thread_gc() -> None:
    """Collect garbage in the GUI thread only, until every holder has released it. Call from the GUI thread."""
    global _collector
    app = QCoreApplication.instance()
    if app is None:
        return  # no event loop to collect from: Python's own collection stays
    if _collector is None:  # one QApplication per process, which owns the collector
        _collector = _Collector(app)
    if _collector.holders == 0:
        _collector.start()
    _collector.holders += 1


def release_gui_thread_gc() -> None:
    """Give back one hold; the last one restores automatic collection."""
    if _collector is None or _collector.holders == 0:
        return
    _collector.holders -= 1
    if _collector.holders == 0:
        _collector.stop()

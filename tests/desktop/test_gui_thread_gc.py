"""Garbage is collected in the GUI thread while an AppContext lives, never on a worker thread that allocates.

A Qt wrapper finalised by a collection on a worker thread deletes its C++ object on the wrong thread (a segfault
seen in CI); these tests hold the rule with a plain Python cycle whose finaliser records the thread it ran on.
"""

from __future__ import annotations

import gc
import threading

from judgedesk.desktop._context import AppContext


class _Cycle:
    def __init__(self, finalised_on: list[int]) -> None:
        self.me = self
        self.finalised_on = finalised_on

    def __del__(self) -> None:
        self.finalised_on.append(threading.get_ident())


def _make_garbage_on_a_worker(finalised_on: list[int]) -> None:
    def work() -> None:
        _Cycle(finalised_on)  # unreachable at once, but only the cyclic collector can free it
        keep = [[index] for index in range(50_000)]  # container allocations: far past generation 0's threshold
        del keep

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()


def test_a_cycle_dropped_on_a_worker_is_collected_in_the_gui_thread(app_context: AppContext, qtbot) -> None:
    assert not gc.isenabled()
    finalised_on: list[int] = []
    _make_garbage_on_a_worker(finalised_on)
    assert finalised_on == []  # the worker's allocations did not collect it
    qtbot.waitUntil(lambda: finalised_on != [], timeout=5_000)
    assert finalised_on == [threading.get_ident()]


def test_automatic_collection_comes_back_with_the_last_context(app_settings, qtbot) -> None:
    assert gc.isenabled()
    first, second = AppContext(settings=app_settings), AppContext(settings=app_settings)
    qtbot.addWidget(first.messages)
    qtbot.addWidget(second.messages)
    first.shutdown()
    assert not gc.isenabled()
    second.shutdown()
    second.shutdown()  # twice is harmless and gives back nothing more
    assert gc.isenabled()
    finalised_on: list[int] = []
    _make_garbage_on_a_worker(finalised_on)
    assert len(finalised_on) == 1  # Python's own collection ran again, here on the worker

"""The memory plan's budget starts from the machine the app runs on: its GPU, else its RAM (CPU only)."""

from __future__ import annotations

import pytest
from judgedesk.desktop import _memory_plan_panel
from judgedesk.desktop._memory_plan_panel import MemoryPlanPanel
from judgedesk.quantize import GpuMemory, SystemMemory
from PySide6.QtWidgets import QComboBox, QLabel

_GIB = 1 << 30


def _panel(app_context, qtbot, monkeypatch: pytest.MonkeyPatch, memory: SystemMemory) -> MemoryPlanPanel:
    monkeypatch.setattr(_memory_plan_panel, "detect_memory", lambda: memory)
    panel = MemoryPlanPanel(app_context)
    qtbot.addWidget(panel)
    return panel


def test_without_a_gpu_the_budget_is_this_machines_ram(app_context, qtbot, monkeypatch) -> None:
    panel = _panel(app_context, qtbot, monkeypatch, SystemMemory(ram_total_bytes=16 * _GIB,
                                                                 ram_available_bytes=9 * _GIB))
    budget = panel.findChild(QComboBox, "planBudget")
    assert budget.currentData() == (16.0, "cpu")
    assert budget.currentText().startswith("CPU only: this machine's RAM (16")
    assert "planning for the CPU" in panel.findChild(QLabel, "machineMemory").text()


def test_with_a_gpu_the_budget_is_that_gpu(app_context, qtbot, monkeypatch) -> None:
    gpu = GpuMemory(index=0, name="NVIDIA RTX 4060", total_bytes=8 * _GIB, free_bytes=7 * _GIB)
    panel = _panel(app_context, qtbot, monkeypatch, SystemMemory(ram_total_bytes=32 * _GIB,
                                                                 ram_available_bytes=20 * _GIB, gpus=(gpu,)))
    budget = panel.findChild(QComboBox, "planBudget")
    assert budget.currentData() == (8.0, "gpu") and "RTX 4060" in budget.currentText()


def test_when_nothing_can_be_measured_the_budget_is_a_24_gb_card(app_context, qtbot, monkeypatch) -> None:
    panel = _panel(app_context, qtbot, monkeypatch, SystemMemory(ram_total_bytes=None, ram_available_bytes=None))
    assert panel.findChild(QComboBox, "planBudget").currentData() == (24.0, "gpu")

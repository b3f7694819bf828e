"""The judgedesk desktop app (PySide6)."""

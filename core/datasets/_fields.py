"""Reading the typed fields of one record, collecting what is wrong with them instead of raising.

A `FieldReader` sorts every defect into one of two lists: `errors` make the record unusable (a missing
instruction, a response that is a list), `notes` leave it usable but not exactly as written (a number read as
text, a label that is not one of the known values). The importer turns both into one `Problem` per record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._records import Label

__all__ = ["FieldReader", "json_kind", "parse_ab_label"]

_AB_LABELS: dict[str, Label] = {"a": "A", "b": "B", "tie": "tie"}


def json_kind(value: Any) -> str:
    """The JSON name of a value's type, for messages ("a list", "a boolean", "null")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def parse_ab_label(value: Any) -> Label | None:
    """A, B or tie from "A", "b", " Tie " ...; None for anything else (the caller reports it)."""
    if isinstance(value, str):
        return _AB_LABELS.get(value.strip().lower())
    return None


def _encodable(text: str) -> bool:
    # json.loads turns "\ud800" into a lone surrogate, which no UTF-8 writer (the store, a report) can encode.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class FieldReader:
    """The fields of one record, read with their types checked."""

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self.fields = fields
        self.errors: list[str] = []
        """Defects that make the record unusable."""
        self.notes: list[str] = []
        """Defects the record is used despite."""

    def present(self, name: str) -> bool:
        """Whether the field holds a value: absent, null and the empty text (a blank CSV cell) count as absent."""
        value = self.fields.get(name)
        return value is not None and value != ""

    def text(self, name: str, *, required: bool) -> str | None:
        """A text field the item's content depends on; a wrong type makes the record unusable.

        Numbers and booleans are read as their text with a note: PandaLM's test set has responses that its
        conversion to JSON turned into `true`, and its own evaluation reads them as the text "True".
        """
        value = self.fields.get(name)
        if value is None:
            if required:
                self.errors.append(f"missing field {name!r}" if name not in self.fields else f"field {name!r} is null")
            return None
        if isinstance(value, str):
            if not _encodable(value):
                self.errors.append(f"field {name!r} holds an unpaired surrogate escape (\\ud800-\\udfff)")
                return None
            return value
        if isinstance(value, bool | int | float):
            read = str(value)
            self.notes.append(f"field {name!r} is {json_kind(value)}, read as the text {read!r}")
            return read
        self.errors.append(f"field {name!r} must be text, found {json_kind(value)}")
        return None

    def name(self, name: str) -> str | None:
        """A descriptive text field (a category, a model name): a wrong type is noted and the field ignored.

        A number or boolean is used as its text, with a note: `"model_a": 3` is more likely a column shifted or an
        index written where a name belongs than a model called "3", and a run's tables would show it as one.
        """
        value = self.fields.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str) and _encodable(value):
            return value.strip() or None
        if isinstance(value, bool | int | float):
            read = str(value)
            self.notes.append(f"field {name!r} is {json_kind(value)}, read as the name {read!r}")
            return read
        self.notes.append(f"field {name!r} ignored: it must be text, found {json_kind(value)}")
        return None

    def ident(self, name: str) -> str | None:
        """An item id: text or a whole number, as text; None when absent. A wrong type makes the record unusable."""
        value = self.fields.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and _encodable(value):
            if value.strip():
                return value.strip()
            self.errors.append(f"field {name!r} is blank")
            return None
        self.errors.append(f"field {name!r} must be text or a whole number, found {json_kind(value)}")
        return None

    def code(self, name: str, allowed: Mapping[int, Label]) -> Label | None:
        """A label stored as a number code (also as its digits, from CSV); a bad value is noted, giving None."""
        value = self.fields.get(name)
        if value is None or value == "":
            return None
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value) < 10:
            number = int(value.strip())
        if number is not None and number in allowed:
            return allowed[number]
        codes = ", ".join(f"{code} ({label})" for code, label in allowed.items())
        self.notes.append(f"field {name!r} is {_shown(value)}, expected one of {codes}: no human label")
        return None

    def ab_label(self, name: str) -> Label | None:
        """A label written as A, B or tie (any case); a bad value is noted, giving None."""
        value = self.fields.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        label = parse_ab_label(value)
        if label is None:
            self.notes.append(f"field {name!r} is {_shown(value)}, expected A, B or tie: no human label")
        return label


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str | int | float | bool) else json_kind(value)
    return text if len(text) <= 40 else text[:37] + "..."

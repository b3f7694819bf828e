"""A label plan as a CSV file to label outside the app, and the labels read back from it.

The file has one row per planned task, in plan order: its position, item id, content hash, models, the texts
(earlier turns of a conversation, instruction, input, reference, both responses) and an empty `label` column.
Reading it back matches every row by item id *and* content hash, so a row edited into another task, or a task
whose texts changed since the export, is refused rather than labelled wrongly. Every bad row is reported with the
file and line; nothing is stored unless every row is good (fix the file, import it again).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from .._errors import InputError
from ._label_plan import LABEL_PLAN_NOTE, LabelledSample, load_label_plan, resolve_run
from ._store import RunStore

__all__ = ["LABEL_CSV_COLUMNS", "LabelImport", "LabelImportError", "export_label_plan", "import_labels"]

LABEL_CSV_COLUMNS = ("position", "item_id", "content", "model_a", "model_b", "conversation", "instruction", "input",
                     "reference", "response_a", "response_b", "label")
_PAIRWISE = {"a": "A", "b": "B", "tie": "tie"}


class LabelImportError(InputError):
    """A labels file with bad rows; `problems` lists every one as 'FILE:LINE: reason'."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        listed = "\n  ".join(problems)
        super().__init__(f"{len(problems)} bad row(s), nothing stored:\n  {listed}", path=path)
        self.problems = problems


@dataclass(frozen=True)
class LabelImport:
    """What an import stored."""

    stored: int
    """Labels stored (each an override with the note 'label plan')."""
    blank: int
    """Rows left without a label (still to label)."""
    sample: LabelledSample
    """The plan with its labels after the import."""


def export_label_plan(folder: str | Path, target: str | Path, *, run_key: str | None = None) -> Path:
    """Write the run's label plan to `target` (CSV, UTF-8 with a BOM so spreadsheet programs read it as UTF-8);
    existing labels fill the label column."""
    sample = load_label_plan(folder, run_key)
    if sample is None:
        raise InputError("the run has no label plan yet: draw one first (label-plan --n N)", path=folder)
    target = Path(target)
    try:
        with target.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(LABEL_CSV_COLUMNS)
            for item in sample.items:
                task = item.task
                payload = task.payload if task else {}
                responses = list(payload.get("responses") or [])
                label = "" if item.label is None else (f"{item.label:g}" if isinstance(item.label, float)
                                                       else item.label)
                writer.writerow([item.position, task.item_id if task else "", item.content,
                                 task.model_a if task else "", (task.model_b or "") if task else "",
                                 _conversation(payload.get("history") or []), payload.get("instruction", ""),
                                 payload.get("input") or "", payload.get("reference") or "",
                                 responses[0] if responses else "", responses[1] if len(responses) > 1 else "",
                                 label])
    except OSError as exc:
        raise InputError(f"cannot write the label file ({exc.strerror or exc})", path=target) from None
    return target


def _conversation(history: list[dict[str, object]]) -> str:
    """Earlier turns of a conversation as plain text (the judged turn is the instruction)."""
    parts = []
    for number, turn in enumerate(history, start=1):
        answers = list(turn.get("answers") or [])  # type: ignore[call-overload]
        parts.append(f"Turn {number} question:\n{turn.get('question', '')}")
        for side, answer in zip("AB", answers, strict=False):
            parts.append(f"Turn {number} answer {side}:\n{answer}")
    return "\n\n".join(parts)


def import_labels(folder: str | Path, source: str | Path, *, run_key: str | None = None) -> LabelImport:
    """Read labels from a file written by `export_label_plan` (rows may be reordered or dropped) and store each as
    the planned task's override, note 'label plan'. Labels: A, B or tie (any case) for a pairwise run, a number
    for single grading; an empty label leaves the task unlabelled. Raises `LabelImportError` listing every bad
    row; then nothing is stored."""
    folder, source = Path(folder), Path(source)
    sample = load_label_plan(folder, run_key)  # checks the folder first
    if sample is None:
        raise InputError("the run has no label plan: draw one (label-plan --n N) and export it first", path=folder)
    planned = {item.content: item for item in sample.items}
    single = sample.info.mode == "single"
    problems: list[str] = []
    labels: dict[str, tuple[str | float, int]] = {}
    blank = 0
    try:
        with source.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise InputError("empty file: expected the header of an exported label plan", path=source, line=1)
            columns = {name.strip(): i for i, name in enumerate(header)}
            missing = [name for name in ("item_id", "content", "label") if name not in columns]
            if missing:
                raise InputError(f"missing column(s) {', '.join(missing)}: expected an exported label plan",
                                 path=source, line=1)
            while True:
                line = reader.line_num + 1  # where the record starts (a response may span lines)
                try:
                    row = next(reader)
                except StopIteration:
                    break
                if not any(cell.strip() for cell in row):
                    continue
                cell = {name: row[i].strip() if i < len(row) else "" for name, i in columns.items()}
                where = f"{source}:{line}"
                item = planned.get(cell["content"])
                if item is None:
                    problems.append(f"{where}: content {cell['content'][:12]!r} is not a task of this run's label "
                                    "plan (only planned tasks take a label)")
                    continue
                if item.task is None or item.task.item_id != cell["item_id"]:
                    known = item.task.item_id if item.task else "a task the run no longer holds"
                    problems.append(f"{where}: item {cell['item_id']!r} does not match its content hash (planned "
                                    f"as {known!r})")
                    continue
                if not cell["label"]:
                    blank += 1
                    continue
                value = _label(cell["label"], single)
                if value is None:
                    wanted = "a number (the right score)" if single else "A, B or tie"
                    problems.append(f"{where}: item {cell['item_id']!r}: label {cell['label']!r} is not {wanted}")
                    continue
                earlier = labels.get(item.content)
                if earlier is not None and earlier[0] != value:
                    problems.append(f"{where}: item {cell['item_id']!r} labelled {value!r} here and "
                                    f"{earlier[0]!r} on line {earlier[1]}")
                    continue
                labels[item.content] = (value, line)
    except FileNotFoundError:
        raise InputError("no such file", path=source) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", path=source) from None
    except csv.Error as exc:
        raise InputError(f"not a readable CSV file ({exc})", path=source) from None
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), path=source) from None
    if problems:
        raise LabelImportError(source, problems)
    with RunStore(folder) as store:
        info = resolve_run(store, sample.info.run_key)
        for content, (value, _line) in labels.items():
            store.set_override(info.run_key, content, value, LABEL_PLAN_NOTE)
    after = load_label_plan(folder, sample.info.run_key)
    assert after is not None
    return LabelImport(stored=len(labels), blank=blank, sample=after)


def _label(text: str, single: bool) -> str | float | None:
    if not single:
        return _PAIRWISE.get(text.lower())
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None

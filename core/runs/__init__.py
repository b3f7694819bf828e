"""Batch runs: a data set judged into a run folder, resumable, crash-safe and cancellable.

The run folder holds `run.sqlite` (every judged order, committed at once, keyed by content) and the reports.
The CLI's `judgedesk batch` and the desktop app's batch view both call `run_batch`; `import_judgements` stores
judgements made elsewhere (AlpacaEval, MT-bench, Arena-Hard, judgedesk's JSONL) as a run (`import-verdicts`).
"""

from __future__ import annotations

from ._jury import JURY_METHODS, JuryBallot, JuryMethod, JuryResult, build_jury, jury_run_key, jury_verdict
from ._label_csv import LABEL_CSV_COLUMNS, LabelImport, LabelImportError, export_label_plan, import_labels
from ._label_plan import (
    LABEL_PLAN_NOTE,
    LabelledSample,
    LabelPlan,
    LabelPlanExistsError,
    PlannedItem,
    draw_label_plan,
    label_planned_task,
    label_population,
    load_label_plan,
    resolve_run,
)
from ._lock import RunFolderLock
from ._runner import (
    BatchOptions,
    BatchProgress,
    BatchResult,
    JudgedOrder,
    RunInterrupted,
    prepare_folder,
    run_batch,
    run_key_for,
    task_rows,
)
from ._store import DB_NAME, LabelDraw, Override, RunInfo, RunStore, StoredTask, content_hash
from ._terminal import TerminalProgress, format_duration
from ._verdict_import import ImportedRun, import_judgements

__all__ = [
    "DB_NAME",
    "JURY_METHODS",
    "LABEL_CSV_COLUMNS",
    "LABEL_PLAN_NOTE",
    "BatchOptions",
    "BatchProgress",
    "BatchResult",
    "ImportedRun",
    "JudgedOrder",
    "JuryBallot",
    "JuryMethod",
    "JuryResult",
    "LabelDraw",
    "LabelImport",
    "LabelImportError",
    "LabelPlan",
    "LabelPlanExistsError",
    "LabelledSample",
    "PlannedItem",
    "Override",
    "RunFolderLock",
    "RunInfo",
    "RunInterrupted",
    "RunStore",
    "StoredTask",
    "TerminalProgress",
    "build_jury",
    "content_hash",
    "draw_label_plan",
    "export_label_plan",
    "format_duration",
    "import_judgements",
    "import_labels",
    "jury_run_key",
    "jury_verdict",
    "label_planned_task",
    "label_population",
    "load_label_plan",
    "prepare_folder",
    "resolve_run",
    "run_batch",
    "run_key_for",
    "task_rows",
]

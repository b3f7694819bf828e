"""Judgements made elsewhere stored as a run, so reports and the app treat them as one more judge of the data set.

The run's key is "import-" and the SHA-256 of the one file imported (several: of their hashes), so importing the
same files again replaces the same run. Its tasks are the data set's tasks that some file judged, in the data
set's order; when every file is judgedesk's own JSONL they are all the data set's tasks, as they always were, and
what no line judged stays pending. The judgements that could not be imported are stored with the data set's
problems, each naming its file and line. Its settings record each file's project (`protocol`), judges and baseline, so
a report can compute each project's own figures:

    protocol   alpaca_eval | mtbench | arenahard | jsonl, or mixed when the files differ
    files      [{path, sha256, protocol, mode, judges, baselines, judgements}] one per file
    judges     every judge (annotator) the files name
    baseline   the one baseline the files name (AlpacaEval's generator_1, Arena-Hard's baseline), else None
    shown_order  unknown when a file does not record which response its judge saw first (AlpacaEval shuffles;
               its one judgement per pair is stored as order AB)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .._errors import InputError
from .._records import Status
from ..datasets import Dataset, JudgementFile, MatchedJudgements, Problem, match_judgements
from ._lock import RunFolderLock
from ._runner import prepare_folder, task_rows
from ._store import RunInfo, RunStore, content_hash

__all__ = ["ImportedRun", "import_judgements"]


@dataclass(frozen=True)
class ImportedRun:
    """What an import stored."""

    run_key: str
    mode: str
    """pairwise or single."""
    tasks: int
    """Tasks in the run."""
    judgements: int
    """Judgements stored (orders of pairs, or grades)."""
    unparsed: int
    """Of those, judgements without a verdict (kept, left out of the figures)."""
    problems: tuple[Problem, ...]
    """What could not be imported, each naming its file and line."""


def _settings(files: Sequence[JudgementFile], matched: MatchedJudgements, *, name: str, judge_format: str | None,
              orders: tuple[str, ...], file_sha256: str) -> dict[str, object]:
    protocols = sorted({file.protocol for file in files if file.protocol is not None})
    baselines = sorted({baseline for file in files for baseline in file.baselines})
    judges = list(dict.fromkeys(judge for file in files for judge in file.judges))
    unknown_order = any(file.protocol == "alpaca_eval" for file in files)
    return {
        "imported_from": ", ".join(file.shown for file in files), "file_sha256": file_sha256, "judge_name": name,
        "format": judge_format, "mode": matched.mode, "orders": list(orders), "seed": None,
        "decoding": {"mode": "imported"},
        "protocol": protocols[0] if len(protocols) == 1 else "mixed", "judges": judges,
        "baseline": baselines[0] if len(baselines) == 1 else None,
        "shown_order": "unknown" if unknown_order else "recorded",
        "files": [{"path": file.shown, "sha256": file.sha256, "protocol": file.protocol, "mode": file.mode,
                   "judges": list(file.judges), "baselines": list(file.baselines), "judgements": file.count}
                  for file in files],
    }


def import_judgements(folder: str | Path, dataset: Dataset, files: Sequence[JudgementFile], *, name: str,
                      judge_format: str | None = None) -> ImportedRun:
    """Match `files` to `dataset` and store what matched as a run in `folder` (created owner-only).

    name: the judge's name, shown as "<name> (imported)". judge_format: the format judgedesk's JSONL outputs were
    parsed with, recorded in the settings. Raises `InputError` when nothing can be imported, or when the files mix
    pairwise judgements and grades.
    """
    matched = match_judgements(dataset, files)
    if not matched.judgements:
        listed = "".join(f"\n  {problem}" for problem in matched.problems[:10])
        raise InputError(f"no judgement could be imported{':' if listed else ''}{listed}",
                         path=files[0].shown if len(files) == 1 else None)
    rows = task_rows(dataset, matched.mode)
    if all(file.protocol == "jsonl" for file in files if file.protocol is not None):
        tasks = rows
    else:
        judged = sorted({judgement.position for judgement in matched.judgements})
        tasks = [replace(rows[position], position=number) for number, position in enumerate(judged)]
    if matched.mode == "single":
        orders: tuple[str, ...] = ("single",)
    else:
        orders = ("AB", "BA") if any(judgement.side == "BA" for judgement in matched.judgements) else ("AB",)
    shas = [file.sha256 for file in files if file.sha256]
    file_sha256 = shas[0] if len(shas) == 1 else content_hash(*sorted(shas))
    run_key = "import-" + file_sha256[:40]
    settings = _settings(files, matched, name=name, judge_format=judge_format, orders=orders,
                         file_sha256=file_sha256)
    prepare_folder(Path(folder))
    with RunFolderLock(Path(folder)), RunStore(folder) as store:
        store.ensure_run(RunInfo(run_key, f"{name} (imported)", matched.mode, orders, settings, str(dataset.source)))
        store.touch_run(run_key)
        store.replace_tasks(run_key, tasks)
        # The data set's problems, then the judgements that could not be imported: both are the run's input.
        store.replace_problems(run_key, [(p.path, p.line, p.reason, p.item)
                                         for p in (*dataset.problems, *matched.problems)])
        # Keyed by content like a judged run's: two tasks with the same texts share one judgement per order.
        store.put_verdicts(run_key, [(rows[judgement.position].content, judgement.side, judgement.status,
                                      judgement.record) for judgement in matched.judgements])
    unparsed = sum(judgement.status == Status.UNPARSED for judgement in matched.judgements)
    return ImportedRun(run_key, matched.mode, len(tasks), len(matched.judgements), unparsed, matched.problems)

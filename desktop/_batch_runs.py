"""Where the app keeps a data set's runs, which earlier runs exist, and how to resume one exactly.

Each data set gets one run folder under the runs folder of the Settings, named after the data and a hash of its
absolute path, so the same data opened again finds its earlier runs and two data sets that share a name do not
share a folder. A run is resumed with the judge and the settings it was started with (read back from the run's
manifest), so the resumed judgements land under the same run key instead of starting a new run. How the judge
runs is not part of the key: a run continues the way the app judges now, in this process or through the
inference server of the Settings, whichever began it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import Path

from judgedesk.core import DecodingSettings, Sampling, ServerOptions, judge_sha256, list_judges
from judgedesk.core.backends import served_model_of
from judgedesk.core.runs import RunInfo, RunStore

from ._judge_service import JudgeSpec

__all__ = ["EarlierRun", "find_earlier_runs", "run_folder_for", "spec_for_run"]

_DB = "run.sqlite"


@dataclass(frozen=True)
class EarlierRun:
    """A run key found in a data set's run folder, with how far it got."""

    info: RunInfo
    done: int
    """Tasks with every order judged."""
    total: int
    """Tasks in the run."""


def run_folder_for(runs_dir: Path, source: Path) -> Path:
    """The run folder of the data at `source`: `<runs>/<name>-<hash of the absolute path>`."""
    absolute = source.expanduser().resolve()
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", absolute.stem or "data")[:48]
    digest = hashlib.sha256(str(absolute).encode("utf-8")).hexdigest()[:10]
    return runs_dir / f"{safe}-{digest}"


def find_earlier_runs(folder: Path) -> list[EarlierRun]:
    """The runs stored in `folder`, newest first; none when the folder holds no run database."""
    if not (folder / _DB).exists():
        return []
    found = []
    with RunStore(folder) as store:
        for info in store.runs():
            tasks = store.tasks(info.run_key)
            done_sides = store.done(info.run_key)
            done = sum(all((t.content, side) in done_sides for side in info.orders) for t in tasks)
            found.append(EarlierRun(info=info, done=done, total=len(tasks)))
    return found[::-1]


def spec_for_run(info: RunInfo, server: ServerOptions | None = None) -> JudgeSpec:
    """The JudgeSpec that reproduces `info`'s run key: its judge file, format, language and decoding settings,
    judged through `server` (the Settings' inference server) when given, else in this process.

    Raises LookupError when no judge in the library has the run's judge file (by SHA-256), or when the run's judge
    is known only by a server's model id and no server is given.
    """
    settings = info.settings
    decoding = dict(settings.get("decoding") or {})
    sha256 = str(settings.get("judge_sha256"))
    judge: str | None
    model = served_model_of(sha256)
    if model is not None:
        judge, server = None, _server_for_model_id(model, server)
    else:
        judge = _judge_with_sha(sha256, str(settings.get("judge_name")), str(settings.get("file_type")))
    return JudgeSpec(
        judge=judge,
        format=settings.get("format"),
        lang=str(decoding.get("lang", "en")),
        decoding=DecodingSettings(
            fast=decoding.get("mode", "logits") == "logits" or info.mode == "single",
            explain=bool(decoding.get("explain", False)),
            constrained=bool(decoding.get("constrained", True)),
            max_tokens=decoding.get("max_tokens"),
            sampling=Sampling(temperature=decoding.get("temperature", 0.0), top_k=decoding.get("top_k", 40),
                              top_p=decoding.get("top_p", 0.95), min_p=decoding.get("min_p", 0.05),
                              repeat_penalty=decoding.get("repeat_penalty", 1.0),
                              seed=int(settings.get("seed") or Sampling().seed)),
        ),
        n_ctx=int(decoding.get("n_ctx", 4096)),
        n_threads=decoding.get("n_threads"),
        n_gpu_layers=int(decoding.get("n_gpu_layers", 0)),
        server=server,
    )


def _server_for_model_id(model: str, server: ServerOptions | None) -> ServerOptions:
    # Without the judge's file there is nothing to load here: only a server serving that model id can go on.
    if server is None:
        raise LookupError(f"this run was judged through an inference server by its model id {model!r}, without a "
                          "local copy of the judge's file: turn on the inference server in Settings (one serving "
                          "that model) to resume it")
    return replace(server, model=server.model or model)


def _judge_with_sha(sha256: str, name: str, file_type: str) -> str:
    # Hashing a 7B file takes a while: only files whose header matches the run's judge are hashed (the hash is
    # cached by size and modification time, and kept in the library record).
    for entry in list_judges():
        header = entry.header
        if header is None or header.name != name or header.file_type != file_type:
            continue
        if judge_sha256(entry.name) == sha256:
            return entry.name
    raise LookupError(f"the judge of this run ({name}, {file_type}, sha256 {sha256[:12]}…) is not in the judge "
                      "library any more: import its file in the Judges view to resume the run")

"""One call from a judge name or path to a ready `Judge`: resolve the file, pick its format, load the backend."""

from __future__ import annotations

from ._engine import DecodingSettings, Judge
from ._judges import default_format_for, recorded_format, resolve_judge
from .backends import create_backend

__all__ = ["load_judge"]


def load_judge(judge: str | None = None, *, format: str | None = None, lang: str = "en", rubric: str | None = None,
               decoding: DecodingSettings | None = None, n_ctx: int = 4096, n_threads: int | None = None,
               n_gpu_layers: int = 0) -> Judge:
    """Load `judge` (a name, a .gguf path, or None for the demo judge) with the llama.cpp backend.

    The format defaults to the one chosen when the judge was imported into the library, else the one recorded in
    (or recognisable from) the model file, else generic.
    """
    path = resolve_judge(judge)
    seed = (decoding or DecodingSettings()).sampling.seed
    backend = create_backend("llama.cpp", path=path, n_ctx=n_ctx, n_threads=n_threads, n_gpu_layers=n_gpu_layers,
                             seed=seed)
    try:
        chosen = format or recorded_format(judge) or default_format_for(backend.info.judge_format,
                                                                         backend.info.name, path.name)
        return Judge(backend, format=chosen, lang=lang, rubric=rubric, decoding=decoding)
    except BaseException:
        backend.close()
        raise

"""Data sets: pairs files and folders of per-model outputs, read into pairs to judge and responses to grade.

`load_dataset(path)` tells a pairs file (PandaLM's test set, Auto-J's pairwise test set, plain pairs) from a folder
of per-model outputs (plain files, AlpacaEval outputs, FastChat MT-bench with every turn, Arena-Hard) and reads it
natively. Bad input never stops the import and is never hidden: every line, field or file that could not be used is
a `Problem` in the returned `Dataset`. Only an input unusable as a whole raises `DatasetError`.

`read_judgement_file` reads judgements made elsewhere (AlpacaEval annotations, FastChat MT-bench and Arena-Hard
judgments, judgedesk's JSONL) and `match_judgements` matches them to a data set's pairs or grades, for
`judgedesk import-verdicts`.
"""

from __future__ import annotations

from ._errors import DatasetError
from ._human_labels import HUMAN_LABELS_FILE
from ._loading import load_dataset, preview, raise_if_problems
from ._mtbench import turn_item_id
from ._outputs_folder import text_item_id
from ._pairing import Pairing
from ._peer_judgements import JUDGEMENT_LAYOUTS, read_judgement_file
from ._peer_matching import MatchedJudgement, MatchedJudgements, match_judgements
from ._peer_records import JudgementFile, PeerProtocol
from ._records import Dataset, GradeTask, PairTask, Problem

__all__ = [
    "HUMAN_LABELS_FILE",
    "JUDGEMENT_LAYOUTS",
    "Dataset",
    "DatasetError",
    "GradeTask",
    "JudgementFile",
    "MatchedJudgement",
    "MatchedJudgements",
    "PairTask",
    "Pairing",
    "PeerProtocol",
    "Problem",
    "load_dataset",
    "match_judgements",
    "preview",
    "raise_if_problems",
    "read_judgement_file",
    "text_item_id",
    "turn_item_id",
]

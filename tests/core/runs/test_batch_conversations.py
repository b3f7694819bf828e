"""A batch over conversations (issue 18): a format that cannot show one judges the first turns and names how many
later turns it left out, in the run's problems; nothing of the first turns is lost."""

from __future__ import annotations

from pathlib import Path

from judgedesk.core import DecodingSettings, EvalItem, Judge, PriorTurn
from judgedesk.core.backends._mock import MockBackend
from judgedesk.core.datasets import Dataset, PairTask
from judgedesk.core.reports import load_results
from judgedesk.core.runs import run_batch


def _dataset() -> Dataset:
    pairs = []
    for n in range(3):
        first = EvalItem(id=f"{n}", instruction=f"question {n}", responses=(f"good {n}", f"bad {n}"))
        second = EvalItem(id=f"{n}:turn2", instruction=f"follow-up {n}",
                          responses=(f"good again {n}", f"bad again {n}"),
                          history=(PriorTurn(f"question {n}", (f"good {n}", f"bad {n}")),))
        pairs += [PairTask(first, "alpha", "beta"), PairTask(second, "alpha", "beta")]
    return Dataset(source=Path("mt_bench"), kind="mtbench", models=("alpha", "beta"), pairs=tuple(pairs), grades=())


def _judge() -> Judge:
    def scores(prompt: str, options: list[str]) -> list[float]:
        first_wins = prompt.find("good") < prompt.find("bad")
        return [0.0 if (o == "1") == first_wins and o in ("1", "2") else -9.0 for o in options]

    return Judge(MockBackend(option_scores=scores), format="pandalm", decoding=DecodingSettings())


def test_a_format_without_conversations_judges_the_first_turns_and_says_what_it_left_out(tmp_path: Path) -> None:
    result = run_batch(tmp_path / "run", _dataset(), _judge())
    assert result.total == 3 and result.errors == 0
    results = load_results(tmp_path / "run")
    assert [row.task.item_id for row in results.rows] == ["0", "1", "2"]
    assert all(row.decision(results.info.orders) == "A" for row in results.rows)
    [problem] = results.problems
    assert problem[0] == "mt_bench" and "3 pair(s) or response(s) of later conversation turns left out" in problem[2]
    assert "format 'pandalm' cannot show a conversation" in problem[2] and "mtbench" in problem[2]


def test_a_data_set_without_conversations_is_untouched() -> None:
    dataset = Dataset(source=Path("x"), kind="pairs", models=("alpha", "beta"),
                      pairs=tuple(p for p in _dataset().pairs if not p.item.history), grades=())
    assert dataset.without_conversations("why") is dataset

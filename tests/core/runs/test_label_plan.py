"""Label plans on the mock backend: a uniform draw (checked by frequencies over many seeds and a chi-square test on
the extended union), reproducible from its stored seed, never replaced, extended without losing earlier items or
labels, and read back as what calibration needs (sampled contents, labels)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from itertools import combinations
from math import comb
from pathlib import Path

import numpy as np
import pytest
from judgedesk.core import DecodingSettings, EvalItem, InputError, Judge
from judgedesk.core.backends._mock import MockBackend
from judgedesk.core.datasets import Dataset, GradeTask, PairTask
from judgedesk.core.runs import (
    LABEL_PLAN_NOTE,
    BatchOptions,
    LabelPlanExistsError,
    RunStore,
    draw_label_plan,
    label_planned_task,
    label_population,
    load_label_plan,
    run_batch,
)
from scipy import stats


def _dataset(n: int) -> Dataset:
    pairs = tuple(PairTask(item=EvalItem(id=f"i{k}", instruction=f"Task {k}", responses=(f"good {k}", f"bad {k}")),
                           model_a="alpha", model_b="beta") for k in range(n))
    grades = tuple(GradeTask(item=EvalItem(id=p.item.id, instruction=p.item.instruction, responses=(r,)), model=m)
                   for p in pairs for r, m in zip(p.item.responses, ("alpha", "beta"), strict=True))
    return Dataset(source=Path("mem"), kind="pairs", models=("alpha", "beta"), pairs=pairs, grades=grades)


def _judge() -> Judge:
    return Judge(MockBackend(option_scores=lambda prompt, options: [0.0] * len(options)), format="pandalm",
                 decoding=DecodingSettings())


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A finished pairwise run of six tasks (one order, to keep it quick)."""
    folder = tmp_path_factory.mktemp("plan") / "run"
    result = run_batch(folder, _dataset(6), _judge(), BatchOptions(both_orders=False))
    return folder, result.run_key


def _fresh(tmp_path: Path, small_run: tuple[Path, str]) -> Path:
    """A copy of the run's database without any plan (each test draws its own)."""
    target = tmp_path / "run"
    target.mkdir(parents=True)
    with closing(sqlite3.connect(small_run[0] / "run.sqlite")) as source:
        source.execute("VACUUM INTO ?", (str(target / "run.sqlite"),))
    return target


def _forget_plans(folder: Path) -> None:
    """Drop every plan straight in SQLite (the API never does), to draw again with another seed."""
    with closing(sqlite3.connect(folder / "run.sqlite", isolation_level=None)) as db:
        db.execute("DELETE FROM label_plans")


def _contents(folder: Path, key: str) -> list[str]:
    with RunStore(folder) as store:
        return [t.content for t in label_population(store.tasks(key))]


def test_draw_is_stored_reproducible_and_never_replaced(tmp_path: Path, small_run: tuple[Path, str]) -> None:
    folder, key = _fresh(tmp_path, small_run), small_run[1]
    sample = draw_label_plan(folder, 3, seed=42)
    population = _contents(folder, key)
    expected = [population[int(i)] for i in np.random.default_rng(42).choice(6, size=3, replace=False)]
    assert list(sample.plan.contents) == expected  # the documented recipe redraws it
    assert sample.plan.seed == 42 and sample.plan.n == 3 and sample.plan.population == 6
    assert sample.sampled == frozenset(expected) and sample.labels == {} and sample.info.run_key == key
    assert [item.position for item in sample.items] == [1, 2, 3]
    assert all(item.task is not None and item.task.content == item.content for item in sample.items)

    with pytest.raises(LabelPlanExistsError, match="already has a label plan of 3 tasks .seed 42") as refused:
        draw_label_plan(folder, 3, seed=7)
    assert refused.value.plan.contents == tuple(expected)
    assert load_label_plan(folder).plan.contents == tuple(expected)  # untouched

    fresh = draw_label_plan(_fresh(tmp_path / "b", small_run), 2)  # no seed: a random one, stored and printed
    assert fresh.plan.seed >= 0
    population_b = _contents(fresh.folder, key)
    redrawn = np.random.default_rng(fresh.plan.seed).choice(6, size=2, replace=False)
    assert list(fresh.plan.contents) == [population_b[int(i)] for i in redrawn]


def test_extension_keeps_items_and_labels(tmp_path: Path, small_run: tuple[Path, str]) -> None:
    folder, key = _fresh(tmp_path, small_run), small_run[1]
    first = draw_label_plan(folder, 2, seed=1)
    content = first.plan.contents[0]
    label_planned_task(folder, key, content, "B")
    extended = draw_label_plan(folder, 3, seed=2, extend=True)
    assert extended.plan.contents[:2] == first.plan.contents
    assert len(set(extended.plan.contents)) == 5 and extended.plan.n == 5
    assert [d.seed for d in extended.plan.draws] == [1, 2] and extended.plan.draws[1].population == 4
    assert extended.labels == {content: "B"}
    assert extended.items[0].override is not None and extended.items[0].override.note == LABEL_PLAN_NOTE
    with pytest.raises(InputError, match="cannot draw 2: run .* has 1 tasks not yet planned"):
        draw_label_plan(folder, 2, extend=True)
    assert load_label_plan(folder).plan.n == 5


def test_labels_only_for_planned_tasks_and_overrides_of_planned_tasks_count(tmp_path: Path,
                                                                             small_run: tuple[Path, str]) -> None:
    folder, key = _fresh(tmp_path, small_run), small_run[1]
    sample = draw_label_plan(folder, 2, seed=3)
    outside = next(c for c in _contents(folder, key) if c not in sample.sampled)
    with pytest.raises(InputError, match="not in run .* label plan"):
        label_planned_task(folder, key, outside, "A")
    with pytest.raises(InputError, match="A, B or tie"):
        label_planned_task(folder, key, sample.plan.contents[0], "maybe")
    with RunStore(folder) as store:  # set in the Results view: a planned task's override is its label
        store.set_override(key, sample.plan.contents[1], "tie", "by hand")
        store.set_override(key, outside, "A", "picked, not sampled")
    again = load_label_plan(folder)
    assert again.labels == {sample.plan.contents[1]: "tie"}  # the picked one is not part of the sample
    assert again.labelled == 1


def test_bad_requests_name_what_is_wrong(tmp_path: Path, small_run: tuple[Path, str]) -> None:
    folder = _fresh(tmp_path, small_run)
    with pytest.raises(InputError, match="cannot draw 7: run .* has 6 tasks"):
        draw_label_plan(folder, 7)
    with pytest.raises(InputError, match="field 'n'.*positive"):
        draw_label_plan(folder, 0)
    with pytest.raises(InputError, match="field 'seed'"):
        draw_label_plan(folder, 2, seed=-1)
    with pytest.raises(InputError, match="matches 0 runs"):
        draw_label_plan(folder, 2, run_key="ffff")
    with pytest.raises(InputError, match="no run.sqlite"):
        draw_label_plan(tmp_path / "nowhere", 2)
    assert load_label_plan(folder) is None


def test_extension_refused_when_the_run_changed(tmp_path: Path, small_run: tuple[Path, str]) -> None:
    folder, key = _fresh(tmp_path, small_run), small_run[1]
    draw_label_plan(folder, 2, seed=5)
    with RunStore(folder) as store:
        store.replace_tasks(key, store.tasks(key)[:5])
    with pytest.raises(InputError, match="tasks changed since its label plan was drawn .6 tasks then, 5 now"):
        draw_label_plan(folder, 1, extend=True)


def test_draw_is_uniform_over_seeds(tmp_path: Path, small_run: tuple[Path, str]) -> None:
    """Every 2-subset of the 6 tasks is equally likely (chi-square over 15 cells), every task appears as often at
    each position, and a 2-then-1 extension gives every 3-subset with equal frequency (the union is uniform)."""
    folder, key = _fresh(tmp_path, small_run), small_run[1]
    population = _contents(folder, key)
    index = {c: i for i, c in enumerate(population)}
    rounds = 1000
    pairs: dict[frozenset[int], int] = {frozenset(s): 0 for s in combinations(range(6), 2)}
    first_position = np.zeros(6)
    for seed in range(rounds):
        _forget_plans(folder)
        sample = draw_label_plan(folder, 2, seed=seed)
        pairs[frozenset(index[c] for c in sample.plan.contents)] += 1
        first_position[index[sample.plan.contents[0]]] += 1
    assert stats.chisquare(list(pairs.values())).pvalue > 0.001
    assert stats.chisquare(first_position).pvalue > 0.001

    triples: dict[frozenset[int], int] = {frozenset(s): 0 for s in combinations(range(6), 3)}
    for seed in range(rounds):
        _forget_plans(folder)
        draw_label_plan(folder, 2, seed=seed)
        union = draw_label_plan(folder, 1, seed=rounds + seed, extend=True)
        triples[frozenset(index[c] for c in union.plan.contents)] += 1
    assert len(triples) == comb(6, 3)
    assert stats.chisquare(list(triples.values())).pvalue > 0.001
    assert min(triples.values()) > 0.6 * rounds / 20  # no subset starved (expected 50 each)


def test_single_grading_runs_are_sampled_by_response(tmp_path: Path) -> None:
    folder = tmp_path / "single"
    result = run_batch(folder, _dataset(3), _judge(), BatchOptions(mode="single"))
    sample = draw_label_plan(folder, 4, seed=9)
    assert sample.plan.population == 6 and sample.info.mode == "single"
    label_planned_task(folder, result.run_key, sample.plan.contents[0], 7.5)
    assert load_label_plan(folder).labels == {sample.plan.contents[0]: 7.5}

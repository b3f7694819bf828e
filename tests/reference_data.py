"""Reference data the tests read, kept in the repository (tests/data/) so a clean clone tests all of itself.

Copied from the team's shared folder: PandaLM's human-labelled test set (data/testset-v1.json of the public PandaLM
repository, code licensed Apache-2.0) and judge-formats.md, the exact published prompts of PandaLM, Auto-J and
Prometheus 2. A test that needs them fails when they are missing; it never skips.
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
PANDALM_TESTSET = DATA / "pandalm-testset-v1.json"
JUDGE_FORMATS = DATA / "judge-formats.md"

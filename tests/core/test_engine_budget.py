"""An output budget that cannot fit the judge's context (Arena-Hard's published 4096 tokens on a 4096-token judge):
the prompt keeps half the context and the critique stops where the context ends, instead of every item failing
with a context overflow; a budget that fits is reserved whole, as before (mock backend, one token per character,
so the budgets here are twice the published ones with a context to match)."""

from __future__ import annotations

from judgedesk.core import DecodingSettings, EvalItem, Judge
from judgedesk.core.backends._mock import MockBackend

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
LONG = EvalItem(id="long", instruction="Explain the history of Rome.",
                responses=(" ".join(["alpha"] * 6000), " ".join(["beta"] * 6000)))


def _judge(n_ctx: int, max_tokens: int | None = None) -> tuple[Judge, MockBackend]:
    backend = MockBackend(lambda prompt: "Assistant A is fine. My final verdict is: [[",
                          option_scores=lambda prompt, options: [0.0 if o.startswith("A>B") else -5.0 for o in options],
                          n_ctx=n_ctx, chat_template=CHATML)
    return Judge(backend, format="arenahard", decoding=DecodingSettings(max_tokens=max_tokens)), backend


def test_a_budget_the_context_cannot_hold_leaves_the_prompt_half_and_the_critique_the_rest() -> None:
    judge, backend = _judge(8192, max_tokens=8192)
    verdict = judge.compare(LONG)
    assert verdict.status == "truncated" and verdict.strength == "A>B" and verdict.winner == "A"
    [generation] = [call for call in backend.calls if call["kind"] == "generate"]
    preview = judge.prompt_preview(LONG)
    assert preview.token_count <= 8192 // 2 + 1
    assert generation["max_tokens"] < 8192 - preview.token_count
    assert generation["max_tokens"] > 8192 // 2 - 64


def test_a_budget_that_fits_is_reserved_whole() -> None:
    judge, backend = _judge(8192, max_tokens=512)
    judge.compare(LONG)
    [generation] = [call for call in backend.calls if call["kind"] == "generate"]
    assert generation["max_tokens"] == 512
    assert judge.prompt_preview(LONG).token_count > 8192 - 512 - 64

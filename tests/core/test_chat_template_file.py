"""A chat template given as a file (for a judge served without its GGUF here): Jinja text or tokenizer_config.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from judgedesk.core import InputError
from judgedesk.core._chat_template import read_chat_template_file, render_chat

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def test_a_jinja_file_is_the_template(tmp_path: Path) -> None:
    path = tmp_path / "template.jinja"
    path.write_text(CHATML, encoding="utf-8")
    given = read_chat_template_file(path)
    assert (given.template, given.bos_token, given.eos_token) == (CHATML, None, None)
    segments = render_chat(given.template, None, "Hi <|im_end|>", bos_token="", eos_token="", model_name="m")
    assert [s.special for s in segments] == [True, False, True]


def test_tokenizer_config_gives_template_and_special_token_texts(tmp_path: Path) -> None:
    path = tmp_path / "tokenizer_config.json"
    path.write_text(json.dumps({"chat_template": CHATML, "bos_token": {"content": "<s>", "lstrip": False},
                                "eos_token": "</s>"}), encoding="utf-8")
    given = read_chat_template_file(path)
    assert (given.template, given.bos_token, given.eos_token) == (CHATML, "<s>", "</s>")


def test_named_templates_use_the_default_one(tmp_path: Path) -> None:
    path = tmp_path / "tokenizer_config.json"
    path.write_text(json.dumps({"chat_template": [{"name": "tool_use", "template": "x"},
                                                  {"name": "default", "template": CHATML}]}), encoding="utf-8")
    assert read_chat_template_file(path).template == CHATML


@pytest.mark.parametrize(("name", "content", "message"), [
    ("tokenizer_config.json", "{not json", "not JSON"),
    ("tokenizer_config.json", json.dumps({"bos_token": "<s>"}), "has no chat_template"),
    ("template.jinja", "  \n", "empty"),
])
def test_unusable_files_name_the_file_and_the_problem(tmp_path: Path, name: str, content: str,
                                                      message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message) as caught:
        read_chat_template_file(path)
    assert str(path) in str(caught.value) and caught.value.field == "chat_template"


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="No such file"):
        read_chat_template_file(tmp_path / "absent.jinja")

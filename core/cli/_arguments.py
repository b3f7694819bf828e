"""Argument parsing for the `judgedesk` command: the subcommands and their shared option groups."""

from __future__ import annotations

import argparse
from pathlib import Path

from .._errors import InputError
from .._version import __version__
from ..formats import format_names

__all__ = ["build_parser", "read_text_argument"]

_TEXT_HELP = "text, or @FILE to read it from a UTF-8 file (@@ for a literal leading @)"


def read_text_argument(value: str | None, field: str) -> str | None:
    """A TEXT|@FILE argument's text; errors name the option and the file."""
    if value is None:
        return None
    if value.startswith("@@"):
        return value[1:]
    if value.startswith("@") and len(value) > 1:
        path = Path(value[1:]).expanduser()
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError("no such file", path=path, field=field) from None
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text (byte {exc.start})", path=path, field=field) from None
        except OSError as exc:
            raise InputError(exc.strerror or str(exc), path=path, field=field) from None
    return value


def _judge_options(parser: argparse.ArgumentParser, formats: list[str], *, several_judges: bool = False) -> None:
    group = parser.add_argument_group("judge")
    group.add_argument("--judge", metavar="NAME|PATH", action="append" if several_judges else "store",
                       help="judge model: 'demo' (default), a library name, or a .gguf path; with --server, the "
                            "local copy of the file the server serves (optional)"
                            + ("; give it several times for a jury, judged one after another" if several_judges
                               else ""))
    group.add_argument("--format", choices=formats, help="judge format (default: the judge's own, else generic)")
    group.add_argument("--lang", choices=["en", "zh"], default="en", help="prompt language (zh: Auto-J only)")
    group.add_argument("--rubric", metavar="TEXT|@FILE", help="evaluation criteria (prometheus, generic)")
    runtime = parser.add_argument_group("runtime")
    runtime.add_argument("--ctx", type=int, default=4096, metavar="N", help="context window in tokens (4096)")
    runtime.add_argument("--threads", type=int, metavar="N", help="CPU threads (default: cores - 1, at most 8)")
    runtime.add_argument("--gpu-layers", type=int, default=0, metavar="N",
                         help="layers to offload to a GPU (0 = CPU only, -1 = all)")
    server = parser.add_argument_group("inference server (instead of loading the judge here)")
    server.add_argument("--server", metavar="URL", help="judge through this OpenAI-compatible server (llama.cpp's "
                        "llama-server, vLLM, llama-cpp-python): an IP on the loopback or your private network, e.g. "
                        "http://10.0.0.5:8080; only that host:port is let through the offline guard")
    server.add_argument("--allow-cgnat", action="store_true",
                        help="accept a --server in the CGNAT block 100.64.0.0/10 (Tailscale-style private networks); "
                             "refused by default, since that block is also a carrier's shared address space")
    server.add_argument("--server-model", metavar="ID", help="the model id to request when the server serves several")
    server.add_argument("--chat-template", type=Path, metavar="FILE",
                        help="the judge's chat template (a Jinja file, or the model's tokenizer_config.json), for "
                             "chat formats when there is no local GGUF (--judge) and the server does not report it "
                             "(vLLM)")
    server.add_argument("--in-flight", type=int, default=4, metavar="N",
                        help="requests kept in flight at once in a batch (4)")
    server.add_argument("--timeout", type=float, default=120.0, metavar="S",
                        help="seconds to wait for one answer, queueing included (120)")
    server.add_argument("--retries", type=int, default=5, metavar="N",
                        help="retries, with backoff, of a request that got no answer or a 5xx (5); an answer is "
                             "never asked again. A bearer token for --api-key servers is read from the "
                             "JUDGEDESK_SERVER_API_KEY environment variable")
    decoding = parser.add_argument_group("decoding")
    decoding.add_argument("--seed", type=int, default=2023, help="sampler seed, passed on every call (2023)")
    decoding.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    decoding.add_argument("--max-tokens", type=int, metavar="N", help="output budget (default: the format's "
                                                                       "published budget)")
    decoding.add_argument("--no-grammar", action="store_true",
                          help="do not constrain the output; a verdict that does not parse is reported as unparsed")
    decoding.add_argument("--json", action="store_true", help="print the full record as JSON")


def build_parser() -> argparse.ArgumentParser:
    """The `judgedesk` argument parser."""
    formats = format_names()
    parser = argparse.ArgumentParser(
        prog="judgedesk",
        description="Offline LLM judge: compare or grade model outputs with a local judge model. Nothing leaves "
                    "this machine from judgedesk's code: its connections, datagrams and name lookups are refused, "
                    "except to a --server you name.",
    )
    parser.add_argument("--version", action="version", version=f"judgedesk {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    compare = commands.add_parser("compare", help="which of two responses is better (both orders by default)",
                                  description="Judge two responses to one instruction, in both orders unless "
                                              "--one-order. Verdict-first formats (pandalm, generic) read the "
                                              "verdict from logits in one forward pass unless --generate.")
    compare.add_argument("--instruction", required=True, metavar="TEXT|@FILE", help=_TEXT_HELP)
    compare.add_argument("--input", metavar="TEXT|@FILE", help="optional context for the instruction")
    compare.add_argument("--a", required=True, metavar="TEXT|@FILE", help="response A: " + _TEXT_HELP)
    compare.add_argument("--b", required=True, metavar="TEXT|@FILE", help="response B: " + _TEXT_HELP)
    compare.add_argument("--reference", metavar="TEXT|@FILE", help="reference answer (prometheus)")
    compare.add_argument("--explain", action="store_true", help="also generate the reason (and reference)")
    compare.add_argument("--one-order", action="store_true", help="judge only with A shown first")
    compare.add_argument("--inconsistent-as-tie", action="store_true",
                         help="count contradicting orders as a tie (PandaLM's protocol) instead of 'inconsistent'")
    compare.add_argument("--generate", action="store_true",
                         help="generate the full verdict text instead of reading it from logits")
    _judge_options(compare, formats)

    grade = commands.add_parser("grade", help="grade one response on the format's scale",
                                description="Grade a single response: Auto-J 1-10, Prometheus 1-5 with a rubric, "
                                            "generic 1-10.")
    grade.add_argument("--instruction", required=True, metavar="TEXT|@FILE", help=_TEXT_HELP)
    grade.add_argument("--input", metavar="TEXT|@FILE", help="optional context for the instruction")
    grade.add_argument("--response", required=True, metavar="TEXT|@FILE", help=_TEXT_HELP)
    grade.add_argument("--reference", metavar="TEXT|@FILE", help="reference answer (prometheus)")
    _judge_options(grade, formats)

    from ._prompt_command import add_prompt_parser  # imported here: that module reads its texts with this one
    add_prompt_parser(commands, formats, judge_options=_judge_options, text_help=_TEXT_HELP)

    parse = commands.add_parser("parse", help="parse judge outputs produced elsewhere (JSONL)",
                                description="Read one JSON object per line with the judge's raw text under "
                                            "'output'; write one JSON verdict or grade per line to stdout. Lines "
                                            "that cannot be read are reported on stderr with their line number.")
    parse.add_argument("file", type=Path, metavar="FILE.jsonl")
    parse.add_argument("--format", required=True, choices=[f for f in formats if f != "generic"] + ["generic"])
    parse.add_argument("--task", required=True, choices=["pairwise", "single"])
    parse.add_argument("--lang", choices=["en", "zh"], default="en")

    batch = commands.add_parser(
        "batch", help="judge a whole file or folder into a resumable run folder, then write the reports",
        description="Judge every pair of a pairs file (PandaLM / Auto-J test sets, plain JSONL/JSON/CSV pairs) or a "
                    "folder of per-model outputs (AlpacaEval, MT-bench, plain JSONL) in both orders. Every judged "
                    "order is saved at once in DIR/run.sqlite: running the same command again continues where it "
                    "stopped (Ctrl-C, a crash, kill -9) and never judges anything twice. Writes report.html, "
                    "verdicts.csv (one row per order), pairs.csv and pairs.xlsx (one row per pair), summary.json "
                    "and battles.jsonl in DIR.")
    batch.add_argument("path", type=Path, metavar="PATH", help="a pairs file or a folder of per-model outputs")
    batch.add_argument("--out", type=Path, required=True, metavar="DIR", help="the run folder (created owner-only)")
    batch.add_argument("--mode", choices=["pairwise", "single"], default="pairwise",
                       help="pairwise comparison (default) or single grading of every response")
    batch.add_argument("--baseline", metavar="MODEL", help="pair every model with this one instead of all pairs")
    batch.add_argument("--one-order", action="store_true", help="judge only with A shown first")
    batch.add_argument("--limit", type=int, metavar="N", help="take the first N items")
    batch.add_argument("--strict", action="store_true", help="stop before judging if the input has any problem")
    batch.add_argument("--resume", action="store_true",
                       help="continue the run in --out (the default anyway; also fine for a new folder)")
    batch.add_argument("--retry-unparsed", action="store_true", help="judge again the orders that did not parse")
    batch.add_argument("--dry-run", action="store_true", help="show what was read from PATH and stop")
    batch.add_argument("--explain", action="store_true", help="also generate reasons (slower)")
    batch.add_argument("--generate", action="store_true", help="generate verdict text instead of reading logits")
    batch.add_argument("--inconsistent-as-tie", action="store_true",
                       help="statistics count contradicting orders as ties (PandaLM's protocol)")
    _judge_options(batch, formats, several_judges=True)
    batch.add_argument_group("runtime").add_argument(
        "--sequences", default="auto", metavar="N|auto",
        help="orders judged together in one forward pass, each in its own sequence of llama.cpp's KV cache, with the "
             "same verdicts as one at a time (fast verdicts only). auto (default): 1 on the CPU, where it does not "
             "pay; with GPU layers, as many as the memory plan fits, up to 8")
    from ._jury_command import add_jury_parser  # its own module, like `prompt`
    add_jury_parser(commands, batch)

    report = commands.add_parser("report", help="rebuild a run folder's reports from its database",
                                 description="Rebuild report.html, verdicts.csv, pairs.csv, pairs.xlsx, summary.json "
                                             "and battles.jsonl from DIR/run.sqlite (the latest run, or --run KEY).")
    report.add_argument("folder", type=Path, metavar="DIR")
    report.add_argument("--run", metavar="KEY", help="a run key (prefix) when the folder holds several")
    report.add_argument("--baseline", metavar="MODEL", help="anchor the ratings at this model (1000)")
    report.add_argument("--inconsistent-as-tie", action="store_true",
                        help="count contradicting orders as ties (PandaLM's protocol)")
    report.add_argument("--apply-overrides", action="store_true",
                        help="count the analyst's overrides (set in the desktop app's Results view) in the rankings "
                             "and tables instead of the judge's decisions; agreement with them is reported either way")
    report.add_argument("--list", action="store_true", help="list the runs in the folder and stop")
    report.add_argument("--leaderboard", action="store_true",
                        help="print the run's AlpacaEval leaderboard (one row per model against the baseline) in "
                             "AlpacaEval's CSV shape, instead of the headline")

    imported = commands.add_parser(
        "import-verdicts", help="import published judgements as a run, to compare with your local judge",
        description="Read judgements made elsewhere for the items of --data, store them as one run in --out, and "
                    "write its reports. Each FILE's layout is recognised on its own: AlpacaEval annotations.json "
                    "(soft preferences), FastChat MT-bench model_judgment/*_pair.jsonl or *_single.jsonl, "
                    "Arena-Hard model_judgment/<judge>/<model>.jsonl (five-level verdicts, both orders), or "
                    "judgedesk's JSONL ('id' plus 'winner' A/B/tie, or the judge's raw 'output' parsed with "
                    "--format; optional 'order' AB/BA). Several files (e.g. one annotations.json per model) "
                    "become one run; pairwise judgements and single grades cannot be mixed. Exit 1 if any "
                    "judgement could not be imported (each is listed with its file and line).")
    imported.add_argument("files", type=Path, nargs="+", metavar="FILE")
    imported.add_argument("--data", type=Path, required=True, metavar="PATH",
                          help="the data set judged: a pairs file, or a folder of outputs (an AlpacaEval results "
                               "folder with <model>/model_outputs.json, an MT-bench or Arena-Hard folder)")
    imported.add_argument("--out", type=Path, required=True, metavar="DIR")
    imported.add_argument("--name", help="the judge's name, e.g. 'PandaLM-7B (published)' (default: the judges the "
                                         "files name; needed for judgedesk's JSONL)")
    imported.add_argument("--format", choices=formats, help="parse 'output' texts of JSONL files with this format")
    imported.add_argument("--lang", choices=["en", "zh"], default="en")

    from ._label_commands import add_label_plan_parser  # its own module, like `prompt`
    add_label_plan_parser(commands)

    _quantize_commands(commands, formats)

    models = commands.add_parser("models", help="list, import or remove the judge models known on this machine",
                                 description="The embedded demo judge and the judge library (imported judges, "
                                             "copied or referenced, and every .gguf placed in the library "
                                             "folder), with size, quantization, architecture and default format.")
    models.add_argument("--json", action="store_true", help="print JSON")
    library = models.add_subparsers(dest="models_command", metavar="ACTION")
    add = library.add_parser("import", help="add a GGUF judge to the library",
                             description="Check a GGUF judge file and add it to the library: copied into the "
                                         "library folder (default) or referenced where it is (--reference).")
    add.add_argument("path", type=Path, metavar="FILE.gguf")
    add.add_argument("--name", help="library name (default: from the file name)")
    add.add_argument("--reference", action="store_true", help="do not copy: use the file where it is")
    add.add_argument("--format", choices=formats, help="its default judge format (default: recorded in the file, "
                                                       "else recognised from its name, else generic)")
    remove = library.add_parser("remove", help="delete a copied judge, or forget a referenced one",
                                description="Remove a judge from the library. A copied judge's file is deleted; "
                                            "a referenced judge is only forgotten and its file stays.")
    remove.add_argument("name")

    doctor = commands.add_parser(
        "doctor", help="what this installation is and whether it can judge here (paste it into a bug report)",
        description="Print judgedesk's version, the CPU's instruction sets (read with CPUID), how llama.cpp was "
                    "built and whether this CPU can run it, llama.cpp's system info, GPU support, the demo judge "
                    "and the data folders. Exit 1 if something stops judging on this machine.")
    doctor.add_argument("--json", action="store_true", help="print JSON")
    return parser


# The same as judgedesk.quantize.QUANT_TYPES (tested); listed here so that building the parser imports nothing heavy.
QUANT_TYPES = ["F16", "BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S", "Q4_0", "Q3_K_M", "Q2_K"]
# The same as judgedesk.quantize.SYNTHETIC_SHAPES' names (tested), for the same reason.
SYNTHETIC_SHAPES = ["llama-7b", "llama2-13b", "mistral-7b", "test-tiny"]


def _quantize_commands(commands: argparse._SubParsersAction, formats: list[str]) -> None:
    """`judgedesk quantize convert|gguf|gptq|import-gptq|plan|verify|synthetic`: the quantize pipeline."""
    quantize = commands.add_parser(
        "quantize", help="convert a Hugging Face judge to GGUF or GPTQ, plan its memory, check its verdicts",
        description="Turn a trained judge's Hugging Face weights into files that fit a 24 GB GPU or run on the CPU, "
                    "offline: convert to GGUF, quantize to K-quants or GPTQ, plan memory, and verify that the "
                    "quantized judge still decides like the original.")
    steps = quantize.add_subparsers(dest="quantize_command", required=True, metavar="STEP")

    convert = steps.add_parser("convert", help="Hugging Face checkpoint folder -> GGUF (f32, f16, bf16, q8_0)",
                               description="Convert a LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM "
                                           "folder (config.json, safetensors weights, tokenizer) to one GGUF file, "
                                           "reading the weights tensor by tensor. The output appears only when "
                                           "complete.")
    convert.add_argument("folder", type=Path, metavar="HF_DIR")
    convert.add_argument("--out", type=Path, required=True, metavar="FILE.gguf")
    convert.add_argument("--outtype", choices=["f32", "f16", "bf16", "q8_0"], default="f16")
    convert.add_argument("--format", choices=formats, help="record this judge format in the file's metadata")
    convert.add_argument("--allow-pickle", action="store_true",
                         help="read pytorch_model.bin weights (unpickling can run code: only for files you trust)")

    gguf = steps.add_parser("gguf", help="GGUF -> K-quant (Q4_K_M, Q5_K_M, Q8_0, ...)",
                            description="Quantize an f32/f16/bf16 GGUF with llama.cpp's quantizer. Cancel with "
                                        "Ctrl-C; the output appears only when complete.")
    gguf.add_argument("source", type=Path, metavar="IN.gguf")
    gguf.add_argument("--type", dest="qtype", required=True, type=str.upper, choices=QUANT_TYPES, metavar="TYPE",
                      help=f"one of {', '.join(QUANT_TYPES)}")
    gguf.add_argument("--out", type=Path, required=True, metavar="FILE.gguf")
    gguf.add_argument("--imatrix", type=Path, metavar="FILE", help="importance matrix (llama.cpp imatrix GGUF)")
    gguf.add_argument("--threads", type=int, metavar="N")
    gguf.add_argument("--allow-requantize", action="store_true",
                      help="quantize an already quantized file (loses more quality than quantizing from f16)")

    gptq = steps.add_parser("gptq", help="Hugging Face checkpoint folder -> GPTQ folder (GPTQModel)",
                            description="Quantize with GPTQ, calibrated on judge-format prompts built from the "
                                        "demo data, so the judge is calibrated on what it will see. Needs "
                                        "`pip install judgedesk[hf]`.")
    gptq.add_argument("folder", type=Path, metavar="HF_DIR")
    gptq.add_argument("--out", type=Path, required=True, metavar="DIR")
    gptq.add_argument("--bits", type=int, choices=[2, 3, 4, 8], default=4)
    gptq.add_argument("--group-size", type=int, default=128, metavar="N")
    gptq.add_argument("--format", choices=formats, default=None,
                      help="judge format of the calibration prompts (pandalm when not given), recorded in the "
                           "output's config.json so the quantized judge is prompted in it")
    gptq.add_argument("--calibration", type=int, default=256, metavar="N", help="calibration prompts (256)")

    imported = steps.add_parser("import-gptq", help="make a published auto-gptq checkpoint loadable (on a copy)",
                                description="Copy an auto-gptq checkpoint (e.g. Auto-J's 4-bit GPTQ) into DIR with "
                                            "its weights renamed to model.safetensors and is_marlin_format dropped.")
    imported.add_argument("folder", type=Path, metavar="GPTQ_DIR")
    imported.add_argument("--out", type=Path, required=True, metavar="DIR")

    plan = steps.add_parser("plan", help="memory plan of a judge for a GPU budget or the CPU",
                            description="For a Hugging Face folder (config.json is enough) or a GGUF file: weight "
                                        "size, KV cache, compute buffer and total per quant type; whether it fits "
                                        "the budget, and how many layers to offload when it does not.")
    plan.add_argument("path", type=Path, metavar="PATH")
    plan.add_argument("--budget", type=float, default=24.0, metavar="GIB",
                      help="GPU memory in GiB (24 = RTX 3090 / 4090; also 8, 12, 16, 48)")
    plan.add_argument("--ctx", type=int, default=4096, metavar="N", help="context size per sequence (4096)")
    plan.add_argument("--sequences", type=int, default=1, metavar="N",
                      help="sequences judged together, each with its own KV cache of --ctx tokens (1)")
    plan.add_argument("--cache-type", choices=["f16", "q8_0"], default="f16", help="KV cache type (f16)")
    plan.add_argument("--cpu", action="store_true", help="plan RAM for running on the CPU")
    plan.add_argument("--json", action="store_true", help="print JSON")

    synthetic = steps.add_parser(
        "synthetic", help="write a shape-only judge (real layout, random weights) to measure speed and memory",
        description="Write a GGUF with the tensor names, shapes and types of a real judge's base model (llama-7b: "
                    "PandaLM-7B; mistral-7b: Prometheus-2-7B; llama2-13b: Auto-J-13B; test-tiny: 2 layers, for "
                    "tests) at a llama.cpp file type, with random weights and the demo judge's tokenizer. Its "
                    "verdicts mean nothing: the file is marked judgedesk.synthetic, and judgedesk labels it and "
                    "its results as synthetic everywhere. Written tensor by tensor (little memory); the output "
                    "appears only when complete.")
    synthetic.add_argument("--shape", required=True, choices=SYNTHETIC_SHAPES)
    synthetic.add_argument("--type", dest="qtype", default="Q4_K_M", type=str.upper, choices=QUANT_TYPES,
                           metavar="TYPE", help=f"one of {', '.join(QUANT_TYPES)} (Q4_K_M)")
    synthetic.add_argument("--context", type=int, metavar="N",
                           help="training context recorded in the file (default: the base model's published one)")
    synthetic.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the random weights (0)")
    synthetic.add_argument("--out", type=Path, required=True, metavar="FILE.gguf")

    verify = steps.add_parser("verify", help="does the quantized judge decide like the original?",
                              description="Judge the same pairs (both orders) with REF and QUANT: verdict "
                                          "agreement, mean KL divergence of the verdict options, flipped items. "
                                          "REF / QUANT: a .gguf file, a library name, or a Hugging Face / GPTQ "
                                          "folder.")
    verify.add_argument("reference", metavar="REF")
    verify.add_argument("candidate", metavar="QUANT")
    verify.add_argument("--data", type=Path, metavar="PATH", help="pairs file or outputs folder (default: demo data)")
    verify.add_argument("--format", choices=formats, help="judge format (default: the reference's own)")
    verify.add_argument("--limit", type=int, metavar="N", help="take the first N items")
    verify.add_argument("--one-order", action="store_true", help="judge only with A shown first")
    verify.add_argument("--ctx", type=int, default=4096, metavar="N")
    verify.add_argument("--threads", type=int, metavar="N")
    verify.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu",
                        help="device for Hugging Face folders (cpu)")
    verify.add_argument("--json", action="store_true", help="print JSON")

"""Peak memory of judgedesk's HF -> GGUF converter versus the checkpoint's size on disk, in one run.

The checkpoint is the embedded demo judge (SmolLM2-135M-Instruct) dequantized to float32 by transformers and saved
as a Hugging Face folder (built once into --work). Each measurement runs in a fresh child process and reads the
child's peak resident set size (VmHWM), so the figures do not pile up:
- interpreter: python importing judgedesk.quantize and doing nothing (the fixed cost);
- load all: reading every tensor of the checkpoint into memory at once (what a converter that loads the model does);
- convert: `judgedesk quantize convert` to f16 and to q8_0, which streams tensor by tensor.
Prints peak anonymous memory (what the process really needs; sampled every millisecond) and the ratio of each peak
above the interpreter to the checkpoint size, and peak RSS, which also counts the memory-mapped checkpoint pages
read so far (clean page cache the kernel reclaims under pressure).

Usage: python bench/convert_memory.py [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

# Peak RSS (VmHWM) counts the checkpoint's memory-mapped pages once they are read, although the kernel can drop those
# clean file pages at any time; what a conversion really needs is anonymous memory (RssAnon), whose peak the kernel
# does not keep, so a thread samples it every millisecond.
_PEAK = """
import json, re, threading, time
def _field(name):
    text = open('/proc/self/status').read()
    return int(re.search(name + r':\\s+(\\d+) kB', text).group(1)) * 1024
_anon = [0]
def _sample():
    while True:
        _anon[0] = max(_anon[0], _field('RssAnon'))
        time.sleep(0.001)
threading.Thread(target=_sample, daemon=True).start()
def peak():
    time.sleep(0.01)
    return [max(_anon[0], _field('RssAnon')), _field('VmHWM')]
"""

_CHILDREN = {
    "interpreter": "import judgedesk.quantize",
    "load all": """
import judgedesk.quantize
from pathlib import Path
from safetensors.numpy import load_file
import numpy as np
tensors = {}
for f in sorted(Path(FOLDER).glob('*.safetensors')):
    tensors.update(load_file(f))
total = sum(t.nbytes for t in tensors.values())
""",
    "convert f16": "from judgedesk.quantize import convert_to_gguf\nconvert_to_gguf(FOLDER, OUT + '/f16.gguf', "
                   "outtype='f16')",
    "convert q8_0": "from judgedesk.quantize import convert_to_gguf\nconvert_to_gguf(FOLDER, OUT + '/q8.gguf', "
                    "outtype='q8_0')",
}


def build_checkpoint(folder: Path) -> None:
    """Dequantize the demo judge into a HF folder (float32 safetensors), once."""
    if (folder / "config.json").exists() and any(folder.glob("*.safetensors")):
        return
    script = f"""
import torch, warnings
warnings.simplefilter('ignore')
from transformers import AutoModelForCausalLM, AutoTokenizer
from judgedesk.core import demo_judge_path
gguf = demo_judge_path()
model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
model.hf_quantizer = None
if hasattr(model.config, 'quantization_config'):
    del model.config.quantization_config
model.save_pretrained({str(folder)!r})
tokenizer.save_pretrained({str(folder)!r})
"""
    subprocess.run([sys.executable, "-c", script], check=True)


def measure(code: str, folder: Path, out: Path) -> tuple[int, int]:
    """(peak anonymous memory, peak RSS) of a child process running `code`, in bytes."""
    script = f"FOLDER = {str(folder)!r}\nOUT = {str(out)!r}\n{_PEAK}\n{code}\nprint(json.dumps(peak()))"
    result = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    anon, rss = json.loads(result.stdout.strip().splitlines()[-1])
    return anon, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "judgedesk-bench-smollm2-hf")
    args = parser.parse_args()
    build_checkpoint(args.work)
    on_disk = sum(f.stat().st_size for f in args.work.glob("*.safetensors"))
    print(f"checkpoint: {args.work} (float32 safetensors, {on_disk / 2**20:.1f} MiB on disk)\n")
    with tempfile.TemporaryDirectory() as out:
        peaks = {name: measure(code, args.work, Path(out)) for name, code in _CHILDREN.items()}
    base = peaks["interpreter"][0]
    header = f"{'peak anonymous':>15s} {'above interpreter':>18s} {'/ checkpoint':>13s} {'peak RSS (+ mapped)':>20s}"
    print(f"{'':14s} {header}")
    for name, (anon, rss) in peaks.items():
        above = anon - base
        print(f"{name:14s} {anon / 2**20:11.1f} MiB {above / 2**20:14.1f} MiB {above / on_disk:12.2f}x "
              f"{rss / 2**20:16.1f} MiB")
    ratio = (peaks["load all"][0] - base) / max(1, peaks["convert f16"][0] - base)
    print(f"\nstreaming conversion needs {ratio:.1f}x less anonymous memory above the interpreter than loading "
          "the checkpoint")


if __name__ == "__main__":
    main()

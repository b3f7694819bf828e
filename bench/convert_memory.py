"""Peak memory of judgedesk's HF -> GGUF converter versus the checkpoint's size on disk, in one run.

The checkpoint is the embedded demo judge (SmolLM2-135M-Instruct) dequantized to float32 by transformers and saved
as a Hugging Face folder (built once into --work). Each measurement runs in a fresh child process and reads the
child's peak resident set size (VmHWM), so the figures do not pile up:
- interpreter: python importing judgedesk.quantize and doing nothing (the fixed cost);
- load all: reading every tensor of the checkpoint into memory at once (what a converter that loads the model does);
- convert: `judgedesk quantize convert` to f16 and to q8_0, which streams tensor by tensor.
Prints the peaks, the checkpoint size, and the ratios of each peak above the interpreter to the checkpoint size.

Usage: python bench/convert_memory.py [--work DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

_PEAK = """
import json, re
def peak():
    text = open('/proc/self/status').read()
    return int(re.search(r'VmHWM:\\s+(\\d+) kB', text).group(1)) * 1024
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


def measure(code: str, folder: Path, out: Path) -> int:
    script = f"FOLDER = {str(folder)!r}\nOUT = {str(out)!r}\n{_PEAK}\n{code}\nprint(json.dumps(peak()))"
    result = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    return int(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "judgedesk-bench-smollm2-hf")
    args = parser.parse_args()
    build_checkpoint(args.work)
    on_disk = sum(f.stat().st_size for f in args.work.glob("*.safetensors"))
    print(f"checkpoint: {args.work} (float32 safetensors, {on_disk / 2**20:.1f} MiB on disk)\n")
    with tempfile.TemporaryDirectory() as out:
        peaks = {name: measure(code, args.work, Path(out)) for name, code in _CHILDREN.items()}
    base = peaks["interpreter"]
    print(f"{'':14s} {'peak RSS':>10s} {'above interpreter':>18s} {'/ checkpoint size':>18s}")
    for name, value in peaks.items():
        above = value - base
        print(f"{name:14s} {value / 2**20:8.1f} MiB {above / 2**20:14.1f} MiB {above / on_disk:17.2f}x")
    ratio = (peaks["load all"] - base) / max(1, peaks["convert f16"] - base)
    print(f"\nstreaming conversion needs {ratio:.1f}x less memory above the interpreter than loading the checkpoint")


if __name__ == "__main__":
    main()

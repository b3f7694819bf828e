"""Quantize judges: Hugging Face weights to GGUF K-quants and GPTQ, memory planning, fidelity checks."""

"""What the installed llama-cpp-python was built with, for tests that hold only on one kind of build."""

from __future__ import annotations

import llama_cpp
import pytest

GPU_BUILD = bool(llama_cpp.llama_supports_gpu_offload())
"""True for a CUDA (or Metal, Vulkan...) build that can offload layers; CI's CPU build cannot."""

cpu_only_build = pytest.mark.skipif(GPU_BUILD, reason="this llama-cpp-python build offloads to a GPU")

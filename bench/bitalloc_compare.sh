#!/usr/bin/env bash
# Dynamic bit allocation (--target-bpw + calibrate-sensitivity alphas) against uniform bits at the same
# budget, on SmolLM2-135M. One JSON line per run to $OUT/bitalloc.jsonl.
# Usage: bench/bitalloc_compare.sh ALPHAS.json RUN ...   RUN = uniform:METHOD:BITS | dynamic:METHOD:BPW
# Env: OUT (bench/work/smollm2: model dir smollm2-135m and the texts), GROUP (128), NSAMPLES (16), SEQLEN (512),
#      EVAL_TOKENS (8192), SQ (build/bin/streamquant), THREADS (0 = all), QUANT_ARGS (extra quantize flags, e.g.
#      "--hadamard-size 64" for higgs). bpw = the job's achieved_bpw, else bits + (16 + bits) / GROUP over the linear
#      layers; effective_bpw = every stored byte (the quantizer's own count). HIGGS methods write the sq format.
set -euo pipefail
cd "$(dirname "$0")/.."
SQ=${SQ:-build/bin/streamquant}
OUT=${OUT:-bench/work/smollm2}
GROUP=${GROUP:-128}; NSAMPLES=${NSAMPLES:-16}; SEQLEN=${SEQLEN:-512}; EVAL_TOKENS=${EVAL_TOKENS:-8192}
THREADS=${THREADS:-0}; read -r -a QUANT_EXTRA <<< "${QUANT_ARGS:-}"
ALPHAS=$1; shift
MODEL="$OUT/smollm2-135m"
ppl() { $SQ eval "$1" --text "$OUT/$2.txt" --seqlen 512 --max-tokens "$EVAL_TOKENS" --threads "$THREADS" --json |
        python3 -c "import json,sys; print(json.load(sys.stdin)['perplexity'])"; }
for run in "$@"; do
  IFS=: read -r kind method arg <<< "$run"
  dir="$OUT/q-$kind-$method-$arg"
  rm -rf "$dir"
  if [ "$kind" = uniform ]; then extra=(--bits "$arg"); else extra=(--target-bpw "$arg" --sensitivity "$ALPHAS"); fi
  fmt=gptq; case "$method" in higgs*) fmt=sq ;; esac
  start=$(date +%s.%N)
  $SQ quantize "$MODEL" -o "$dir" --calib "$OUT/sotu-calib.txt" --nsamples "$NSAMPLES" --seqlen "$SEQLEN" \
      --method "$method" --group-size "$GROUP" --format "$fmt" --threads "$THREADS" "${extra[@]}" \
      ${QUANT_EXTRA[@]+"${QUANT_EXTRA[@]}"} 2> "$dir.log"
  wall=$(python3 -c "import time,sys; print(round(time.time()-float(sys.argv[1]),1))" "$start")
  p1=$(ppl "$dir" sotu-test); p2=$(ppl "$dir" moby-dick)
  python3 - "$dir" "$run" "$p1" "$p2" "$wall" "$GROUP" <<'PY' | tee -a "$OUT/bitalloc.jsonl"
import json, sys
d, run, p1, p2, wall, group = sys.argv[1:]
qc = json.load(open(d + "/config.json"))["quantization_config"]
bits = qc["bits"]; g = int(group)
per = qc.get("per_layer")
hist = {}
if per:
    for e in per.values(): hist[e["bits"]] = hist.get(e["bits"], 0) + 1
bpw = qc.get("achieved_bpw", bits + (16 + bits) / g)
print(json.dumps({"config": run, "method": qc["method"], "group_size": g, "bpw": round(bpw, 4),
                  "effective_bpw": qc.get("effective_bits_per_weight"), "target_bpw": qc.get("target_bpw"), "layers_by_bits": hist or None,
                  "predicted_dppl": qc.get("predicted_dppl"), "ppl_sotu_test": float(p1),
                  "ppl_moby_dick": float(p2), "wall_s": float(wall)}))
PY
  rm -rf "$dir"
done

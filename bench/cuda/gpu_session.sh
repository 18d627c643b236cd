#!/usr/bin/env bash
# The measurements issue 7 asks for, one step per call, on a GPU machine with the CUDA driver, Python with
# numpy (and, for the baseline, torch + transformers), and the runtime archive of bench/cuda/pack_runtime.sh
# unpacked beside this checkout as sq-runtime/. Each step is meant to end within ten minutes; logs and one JSON
# line per measured run go to $OUT (default bench/work/gpu).
#
#   bench/cuda/gpu_session.sh STEP [...]
#     info        the GPU, driver, toolkit, torch
#     tests       sq_cuda_tests: every kernel, backend op and method against the CPU (label cuda)
#     ceilings    measured rates (bf16 / tf32 / fp32 GEMM, device copy) through torch, and floor.py with them
#     gptq8b      streamquant GPTQ 4-bit g128 on synthetic Llama-3-8B shapes, 128 x 2048 tokens, 24 GiB budget
#     leanquant8b the same with LeanQuant (LUT) and LeanQuant-affine
#     block70b    one block of Llama-3-70B shapes under a 32 GiB budget (x 80 = the projected 70B time)
#     reference   IST-DASLab/gptq on the same 8B model and tokens (REF=checkout, BLOCKS=8 by default; PRESET=small
#                 DEVICE=cpu NSAMPLES=4 SEQLEN=64 checks its plumbing on any machine)
#     smoke       the quantize step's plumbing on the small preset (e.g. DEVICE=cpu NSAMPLES=4 SEQLEN=64 on any machine)
# Env: SQ (sq-runtime/bin/streamquant), DATA (/tmp/sq-gpu: synthetic models and tokens), MATMUL (fp32),
#      DEVICE (cuda:0), NSAMPLES (128), SEQLEN (2048).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-bench/work/gpu}
DATA=${DATA:-/tmp/sq-gpu}
SQ=${SQ:-sq-runtime/bin/streamquant}
MATMUL=${MATMUL:-fp32}
DEVICE=${DEVICE:-cuda:0}
NSAMPLES=${NSAMPLES:-128}
SEQLEN=${SEQLEN:-2048}
mkdir -p "$OUT" "$DATA"
[ -d sq-runtime/lib ] && export LD_LIBRARY_PATH="$PWD/sq-runtime/lib:${LD_LIBRARY_PATH:-}:/usr/local/cuda/lib64"

tokens() {  # tokens [BOUND]: 2^20 random token ids below BOUND (Llama-3's vocabulary), the same for every run
  local bound=${1:-128000}
  CALIB="$DATA/calib-$bound.npy"
  [ -f "$CALIB" ] || python3 -c "import numpy as np; np.save('$CALIB', \
np.random.default_rng(0).integers(0, $bound, 2**20, dtype=np.int32))"
}

model() {  # model PRESET: a synthetic Llama in $DATA/PRESET, written once
  [ -f "$DATA/$1/model.safetensors" ] || python3 tools/make_synthetic_llama.py "$DATA/$1" --preset "$1" >&2
}

quantize() {  # quantize NAME PRESET BUDGET FLAGS...: one timed run, its log, and a JSON line in results.jsonl
  local name=$1 preset=$2 budget=$3; shift 3
  if [ "$preset" = small ]; then tokens 1024; else tokens; fi
  model "$preset"
  rm -rf "${DATA:?}/$name.out" "$DATA/$name.out.checkpoint"
  local t0 t1
  t0=$(date +%s.%N)
  "$SQ" quantize "$DATA/$preset" -o "$DATA/$name.out" "$@" --calib "$CALIB" --nsamples "$NSAMPLES" \
    --seqlen "$SEQLEN" --device "$DEVICE" --gpu-mem-budget "$budget" --gpu-matmul "$MATMUL" 2>&1 | tr '\r' '\n' | tee "$OUT/$name.log" | tail -5
  t1=$(date +%s.%N)
  python3 - "$OUT/$name.log" "$name" "$preset" "$budget" "$MATMUL" "$t0" "$t1" "$*" >> "$OUT/results.jsonl" <<'PY'
import json, re, sys
log, name, preset, budget, matmul, t0, t1, flags = sys.argv[1:]
text = open(log).read()
stages = re.findall(r"stage seconds: (\{.*\})", text)
peak = re.findall(r"peak device memory held: ([0-9.]+) GiB", text)
print(json.dumps({"run": name, "model": preset, "flags": flags, "budget": budget, "gpu_matmul": matmul,
                  "wall_s": round(float(t1) - float(t0), 2), "stage_seconds": json.loads(stages[-1]) if stages else None,
                  "peak_device_gib": float(peak[-1]) if peak else None}))
PY
  tail -1 "$OUT/results.jsonl"
}

for step in "$@"; do
  case "$step" in
    info)
      { nvidia-smi; nvcc --version || true; python3 -c "import torch; print('torch', torch.__version__)" || true
        date -u; } 2>&1 | tee "$OUT/info.log" ;;
    tests)
      set +e
      sq-runtime/bin/sq_cuda_tests 2>&1 | tee "$OUT/cuda_tests.log" | tail -40
      set -e ;;
    ceilings)
      python3 - <<'PY' 2>&1 | tee "$OUT/ceilings.log"
import json, torch
def rate(dtype, tf32=False, n=8192, reps=10):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    a = torch.randn(n, n, device="cuda", dtype=dtype); b = torch.randn(n, n, device="cuda", dtype=dtype)
    for _ in range(3): a @ b
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(reps): a @ b
    e.record(); torch.cuda.synchronize()
    return 2 * n**3 * reps / (s.elapsed_time(e) / 1e3) / 1e12
x = torch.empty(2**30, device="cuda", dtype=torch.float32); y = torch.empty_like(x)
s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
y.copy_(x); s.record()
for _ in range(10): y.copy_(x)
e.record(); torch.cuda.synchronize()
bw = 2 * 4 * 2**30 * 10 / (s.elapsed_time(e) / 1e3) / 1e12
print(json.dumps({"bf16_tflops": round(rate(torch.bfloat16), 1), "tf32_tflops": round(rate(torch.float32, True), 1),
                  "fp32_tflops": round(rate(torch.float32), 1), "copy_tbs": round(bw, 2),
                  "device": torch.cuda.get_device_name(0)}))
PY
      read -r BF TF FP BW < <(tail -1 "$OUT/ceilings.log" | python3 -c \
        "import json,sys; d=json.load(sys.stdin); print(d['bf16_tflops'], d['tf32_tflops'], d['fp32_tflops'], d['copy_tbs'])")
      for shape in llama3-8b llama3-70b; do
        python3 bench/cuda/floor.py --shape "$shape" --bf16-tflops "$BF" --tf32-tflops "$TF" --fp32-tflops "$FP" \
          --bandwidth-tbs "$BW" | tee "$OUT/floor_$shape.log"
      done ;;
    gptq8b) quantize gptq8b llama3-8b 24G --method gptq --bits 4 --group-size 128 ;;
    leanquant8b)
      quantize leanquant8b llama3-8b 24G --method leanquant --bits 4 --group-size 128
      quantize leanquant_affine8b llama3-8b 24G --method leanquant-affine --bits 4 --group-size 128 ;;
    smoke) quantize smoke small 1G --method gptq --bits 4 --group-size 128 ;;
    block70b) quantize gptq70b_block llama3-70b-block 32G --method gptq --bits 4 --group-size 128 ;;
    reference)
      preset=${PRESET:-llama3-8b}
      if [ "$preset" = small ]; then tokens 1024; else tokens; fi
      model "$preset"
      python3 bench/cuda/reference_gptq.py --src "${REF:?set REF to a checkout of IST-DASLab/gptq}" \
        --model "$DATA/$preset" --calib "$CALIB" --nsamples "$NSAMPLES" --seqlen "$SEQLEN" --blocks "${BLOCKS:-8}" \
        --device "$DEVICE" 2>&1 | tee "$OUT/reference.log" | tail -3
      tail -1 "$OUT/reference.log" >> "$OUT/results.jsonl" ;;
    *) echo "unknown step '$step' (info, tests, ceilings, gptq8b, leanquant8b, block70b, reference, smoke)" >&2; exit 2 ;;
  esac
done

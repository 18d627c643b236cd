#!/usr/bin/env bash
# Calibration passes with and without checkpoints (pipeline/pass_checkpoints.hpp) in one script run: the same
# quantize job on SmolLM2-135M twice, `--no-pass-checkpoints` second, then the stage seconds of both, the
# forward and total ratios, peak RSS, and whether the two outputs are the same bytes (they must be).
# Usage: bench/pass_checkpoints.sh [quantize flags...]   (default: --method gptq --bits 4 --group-size 128)
# Env: NSAMPLES (16), SEQLEN (512), DEVICE (cpu), OUT (bench/work/pass_checkpoints)
set -euo pipefail
cd "$(dirname "$0")/.."
SQ=${SQ:-build/bin/streamquant}
OUT=${OUT:-bench/work/pass_checkpoints}
NSAMPLES=${NSAMPLES:-16}; SEQLEN=${SEQLEN:-512}; DEVICE=${DEVICE:-cpu}
SHARED=${SQ_SHARED_DIR:-../shared}
FLAGS=("$@"); [ ${#FLAGS[@]} -gt 0 ] || FLAGS=(--method gptq --bits 4 --group-size 128)
mkdir -p "$OUT"
[ -f "$OUT/sotu-calib.txt" ] || zstd -q -d -f "$SHARED/data/text/sotu-calib.txt.zst" -o "$OUT/sotu-calib.txt"
MODEL="$OUT/smollm2-135m"
[ -d "$MODEL" ] || $SQ convert "$(tools/fetch_smollm2.sh)" -o "$MODEL"

run() {  # run NAME [extra flags]: quantize into $OUT/NAME, log and /usr/bin/time "wall_s rss_kb" beside it
  local name=$1; shift
  rm -rf "${OUT:?}/$name" "$OUT/$name.checkpoint"
  /usr/bin/time -f "%e %M" -o "$OUT/$name.time" $SQ quantize "$MODEL" -o "$OUT/$name" "${FLAGS[@]}" \
    --calib "$OUT/sotu-calib.txt" --nsamples "$NSAMPLES" --seqlen "$SEQLEN" --device "$DEVICE" "$@" > "$OUT/$name.log" 2>&1
}
run with
run without --no-pass-checkpoints

python3 - "$OUT" "${FLAGS[*]}" "$NSAMPLES" "$SEQLEN" "$DEVICE" <<'PY'
import filecmp, json, os, sys
out, flags, nsamples, seqlen, device = sys.argv[1:]
def stages(name):
    line = [l for l in open(os.path.join(out, name + ".log")) if l.startswith("stage seconds:")][-1]
    wall, rss = open(os.path.join(out, name + ".time")).read().split()
    return json.loads(line.split(":", 1)[1]), float(wall), int(rss) / 1024
(a, wa, ra), (b, wb, rb) = stages("with"), stages("without")
same = all(filecmp.cmp(os.path.join(out, "with", f), os.path.join(out, "without", f), shallow=False)
           for f in sorted(os.listdir(os.path.join(out, "with"))))
print(f"SmolLM2-135M, {flags}, {nsamples} x {seqlen} calibration tokens, device {device}")
print(f"{'stage':10} {'checkpoints':>12} {'none':>10}")
for k in a:
    print(f"{k:10} {a[k]:12.2f} {b[k]:10.2f}")
print(f"{'wall':10} {wa:12.2f} {wb:10.2f}")
print(f"{'peak RSS MiB':10} {ra:8.0f} {rb:10.0f}")
print(f"forward: {b['forward'] / a['forward']:.2f}x faster with checkpoints; wall: {wb / wa:.2f}x; outputs identical: {same}")
sys.exit(0 if same else 1)
PY

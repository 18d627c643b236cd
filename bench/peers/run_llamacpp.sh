#!/usr/bin/env bash
# llama.cpp side of the comparison: F16 GGUF of the converted model, importance matrix on sotu-calib,
# k-quants / i-quants, perplexity on the same texts with 512-token windows over the first 8192 tokens.
# Usage: LLAMA=/path/to/llama.cpp OUT=/work/results/peers bench/peers/run_llamacpp.sh [TYPE ...]
# (TYPE defaults to Q4_K_M Q3_K_M IQ3_XXS Q2_K). Appends JSON lines to $OUT/llamacpp.jsonl.
# Note: llama-imatrix reads consecutive 512-token chunks from the start of the calibration text (16 chunks =
# 8192 tokens), not streamquant's 16 random windows; llama-perplexity scores only the second half of each
# window (its default), so its F16 number differs from streamquant's and only the increase over F16 compares.
set -uo pipefail
: "${LLAMA:?}" "${OUT:?}"
THREADS=${THREADS:-2}
B=$LLAMA/build/bin
G=$OUT/gguf
F16=$G/smollm2-135m-f16.gguf
mkdir -p "$G"
[ -f "$F16" ] || PYTHONPATH=$LLAMA/gguf-py python3 "$LLAMA/convert_hf_to_gguf.py" "$OUT/smollm2-135m" --outtype f16 --outfile "$F16"
ppl() {  # ppl GGUF TEXT -> final perplexity
  "$B/llama-perplexity" -m "$1" -f "$2" -c 512 -b 512 --chunks 16 -t "$THREADS" > "$1.$(basename "$2" .txt).ppl.log" 2>&1
  grep -o 'Final estimate: PPL = [0-9.]*' "$1.$(basename "$2" .txt).ppl.log" | awk '{print $5}'
}
bpw() {  # bits per weight of the whole file as llama.cpp's loader reports it
  grep -o 'file size.*BPW)' "$1.sotu-test.ppl.log" | grep -o '[0-9.]* BPW' | awk '{print $1}'
}
if [ ! -f "$G/f16.done" ]; then
  a=$(ppl "$F16" "$OUT/sotu-test.txt"); b=$(ppl "$F16" "$OUT/moby-dick.txt")
  echo "{\"tool\": \"llama.cpp\", \"method\": \"F16\", \"type\": \"F16\", \"bpw\": 16, \"ppl_sotu_test\": $a, \"ppl_moby_dick\": $b}" | tee -a "$OUT/llamacpp.jsonl"
  touch "$G/f16.done"
fi
[ -f "$G/imatrix.dat" ] || /usr/bin/time -f "%e %M" -o "$G/imatrix.time" "$B/llama-imatrix" -m "$F16" -f "$OUT/sotu-calib.txt" \
  -c 512 --chunks 16 -t "$THREADS" -o "$G/imatrix.dat" > "$G/imatrix.log" 2>&1
TYPES=("$@"); [ ${#TYPES[@]} -gt 0 ] || TYPES=(Q4_K_M Q3_K_M IQ3_XXS Q2_K)
for t in "${TYPES[@]}"; do
  q="$G/smollm2-135m-$t.gguf"
  /usr/bin/time -f "%e %M" -o "$q.time" "$B/llama-quantize" --imatrix "$G/imatrix.dat" "$F16" "$q" "$t" "$THREADS" > "$q.log" 2>&1 ||
    { echo "quantize $t failed: $q.log"; continue; }
  read -r wall rss < "$q.time"
  a=$(ppl "$q" "$OUT/sotu-test.txt"); b=$(ppl "$q" "$OUT/moby-dick.txt")
  echo "{\"tool\": \"llama.cpp\", \"method\": \"$t\", \"type\": \"$t\", \"bpw\": $(bpw "$q"), \"ppl_sotu_test\": $a, \"ppl_moby_dick\": $b, \"quant_wall_s\": $wall, \"peak_rss_mb\": $((rss / 1024)), \"imatrix\": true}" | tee -a "$OUT/llamacpp.jsonl"
done

#!/usr/bin/env bash
# Run a list of comparison jobs one after another (the machine is shared: one heavy job at a time).
# Each argument: ours:METHOD:BITS:GROUP[:SEED[:ARGS]] | ist:METHOD:BITS:GROUP[:SEED] | py:SCRIPT:METHOD:BITS:GROUP[:SEED[:ARGS]]
#   | llamacpp (bench/peers/run_llamacpp.sh; LLAMA defaults to $PEER_SRC/llama.cpp)
# ARGS: extra options for `streamquant quantize` or the driver, comma-separated (--outlier=0.01, --outlierorder=3.12).
# Env: OUT (work dir holding smollm2-135m and the texts), SQ (streamquant binary), PEER_SRC (/work/peers-src),
#      THREADS (2). Results: $OUT/ours.jsonl (our rows via run_smollm2_results.sh layout) and $OUT/peers.jsonl.
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${OUT:?}"; SQ=${SQ:-build/bin/streamquant}; PEER_SRC=${PEER_SRC:-/work/peers-src}; THREADS=${THREADS:-2}
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS PEERS_WORK=$OUT
for job in "$@"; do
  IFS=: read -r kind a b c d e f <<< "$job"
  echo "== $(date +%T) $job"
  case $kind in
    ours)
      method=$a bits=$b group=$c seed=${d:-0}
      extra=(); [ -n "$e" ] && IFS=, read -r -a extra <<< "$e"
      fmt=gptq
      case $method in leanquant) fmt=lut ;; claq|higgs*) fmt=sq ;; esac  # formats that hold the method's grid
      case $e in *outlier-fraction*) fmt=sq ;; esac                       # sparse outliers need sq
      dst="$OUT/q-$method-$bits-$group-s$seed${e:+-${e//[^A-Za-z0-9.]/}}"; rm -rf "$dst" "$dst.checkpoint"
      /usr/bin/time -f "%e %M" -o "$dst.time" $SQ quantize "$OUT/smollm2-135m" -o "$dst" --method "$method" --bits "$bits" \
        --group-size "$group" --calib "$OUT/sotu-calib.txt" --nsamples 16 --seqlen 512 --seed "$seed" --format "$fmt" \
        --threads "$THREADS" "${extra[@]}" > "$dst.log" 2>&1 || { echo "quantize failed: $dst.log"; continue; }
      read -r wall rss < "$dst.time"
      p=()
      for t in sotu-test moby-dick; do
        p+=("$($SQ eval "$dst" --text "$OUT/$t.txt" --seqlen 512 --max-tokens 8192 --threads "$THREADS" --json |
               python3 -c 'import json,sys; print(json.load(sys.stdin)["perplexity"])')")
      done
      echo "{\"tool\": \"streamquant\", \"method\": \"$method\", \"bits\": $bits, \"group_size\": $group, \"seed\": $seed, \"format\": \"$fmt\", \"args\": \"$e\", \"ppl_sotu_test\": ${p[0]}, \"ppl_moby_dick\": ${p[1]}, \"quant_wall_s\": $wall, \"peak_rss_mb\": $((rss / 1024)), \"threads\": $THREADS}" | tee -a "$OUT/ours.jsonl"
      ;;
    ist)
      log="$OUT/ist-$a-$b-$c-s${d:-0}.log"
      /usr/bin/time -v python3 bench/peers/run_ist_gptq.py --src "$PEER_SRC/gptq" --method "$a" --bits "$b" \
        --group-size "$c" --seed "${d:-0}" --threads "$THREADS" --json-out "$OUT/peers.jsonl" > "$log" 2>&1
      grep -E '^\{|Maximum resident|Elapsed' "$log"
      ;;
    py)
      extra=(); [ -n "$f" ] && IFS=, read -r -a extra <<< "$f"
      log="$OUT/$(basename "$a" .py)-$b-$c-$d-s${e:-0}${f:+-${f//[^A-Za-z0-9.]/}}.log"
      /usr/bin/time -v python3 "bench/peers/$a" --src "$PEER_SRC" --method "$b" --bits "$c" --group-size "$d" \
        --seed "${e:-0}" --threads "$THREADS" --json-out "$OUT/peers.jsonl" "${extra[@]}" > "$log" 2>&1
      grep -E '^\{|Maximum resident|Elapsed' "$log"
      ;;
  esac
done
echo "== $(date +%T) queue done"

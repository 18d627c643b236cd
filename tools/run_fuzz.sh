#!/usr/bin/env bash
# Run every libFuzzer target of a fuzz build for a bounded time; any crash (sanitizer report, uncaught
# non-sq exception, timeout, out-of-memory) fails the script.
#   tools/run_fuzz.sh BUILD_DIR SECONDS [TARGET...]
# BUILD_DIR is configured with -DCMAKE_CXX_COMPILER=clang++ -DSQ_BUILD_FUZZ=ON -DSQ_SANITIZE=address,undefined
# and built with --target sq_fuzz_all. Seeds come from fuzz/corpus/<target> (read only: new inputs go to a
# scratch corpus). Reproducers land in BUILD_DIR/fuzz-artifacts; a summary line per target
# (executions, new corpus entries, crashes) in BUILD_DIR/fuzz-artifacts/summary.tsv.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2; exit 2; }
build=$(cd "$1" && pwd); seconds=$2; shift 2
src=$(cd "$(dirname "$0")/.." && pwd)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors model_files gguf tokenizer layer_codec quantized_reader)
artifacts="$build/fuzz-artifacts"; mkdir -p "$artifacts"
summary="$artifacts/summary.tsv"
printf 'target\tseconds\texecutions\tcorpus_added\tcrashes\n' > "$summary"
failed=0
for t in "${targets[@]}"; do
  bin="$build/bin/fuzz_$t"
  [ -x "$bin" ] || { echo "missing $bin (build --target sq_fuzz_all)" >&2; exit 2; }
  work=$(mktemp -d); log="$artifacts/$t.log"
  touch "$work/.started"  # reproducers newer than this belong to this run
  rc=0
  # detect_leaks=0: a parser that throws mid-way releases everything through RAII; leak checking of every
  # one of ~10^5 inputs would dominate the run time and is covered by the unit tests under LeakSanitizer.
  ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=70000 \
      -print_final_stats=1 -dict="$src/fuzz/json.dict" -artifact_prefix="$artifacts/$t-" "$work" "$src/fuzz/corpus/$t" \
      >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  added=$(find "$work" -type f ! -name .started | wc -l)
  crashes=$(find "$artifacts" -maxdepth 1 -name "$t-*" -type f -newer "$work/.started" | wc -l)
  rm -rf "$work"
  printf '%s\t%s\t%s\t%s\t%s\n' "$t" "$seconds" "${execs:-?}" "$added" "$crashes" >> "$summary"
  if [ "$rc" -ne 0 ]; then
    failed=1
    echo "fuzz_$t FAILED (exit $rc); log: $log" >&2
    grep -m5 -E 'ERROR|escaped|runtime error|SUMMARY' "$log" >&2 || tail -20 "$log" >&2
  else
    echo "fuzz_$t: ${execs:-?} executions in ${seconds}s, no crash"
  fi
done
column -t "$summary"
exit "$failed"

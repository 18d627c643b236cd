#!/usr/bin/env bash
# Build and run the language bindings' test suites against a build directory.
#
#   tests/bindings/run_all.sh BUILD_DIR [python] [rust] [go] [csharp]     (no language = all four)
#
# Each suite gets: STREAMQUANT_LIB (libstreamquant.so), STREAMQUANT_LIB_DIR, SQ_TINY_MODEL (a tiny model
# made by tools/make_tiny_model.py) and SQ_ABI_LAYOUT (the header's sizes and constants, printed by
# abi_layout.c). A language whose toolchain is missing is SKIPPED with the reason. Exit status: 0 when
# every suite that ran passed, 1 when one failed, 77 when every requested suite was skipped.
set -u
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="$(cd "${1:?usage: run_all.sh BUILD_DIR [python|rust|go|csharp ...]}" && pwd)"
shift
LANGS=("$@")
[ ${#LANGS[@]} -eq 0 ] && LANGS=(python rust go csharp)

export STREAMQUANT_LIB_DIR="$BUILD/lib"
export STREAMQUANT_LIB="$STREAMQUANT_LIB_DIR/libstreamquant.so"
export LD_LIBRARY_PATH="$STREAMQUANT_LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
WORK="$BUILD/test-work/bindings"
mkdir -p "$WORK"
PY="${PYTHON:-python3}"

skip_all() { echo "SKIP all bindings: $1"; exit 77; }
[ -f "$STREAMQUANT_LIB" ] || skip_all "$STREAMQUANT_LIB is not built (cmake --build $BUILD --target streamquant)"

# Shared fixtures, made once per build directory.
export SQ_ABI_LAYOUT="$WORK/abi_layout.txt"
"${CC:-cc}" -std=c99 -Wall -Wextra -Werror -I"$SRC/include" "$SRC/tests/bindings/abi_layout.c" -o "$WORK/abi_layout" \
  && "$WORK/abi_layout" > "$SQ_ABI_LAYOUT" || { echo "FAIL: could not build or run abi_layout.c"; exit 1; }
export SQ_TINY_MODEL="$WORK/tiny-model"
if [ ! -f "$SQ_TINY_MODEL/model.safetensors" ]; then
  rm -rf "$SQ_TINY_MODEL"
  "$PY" "$SRC/tools/make_tiny_model.py" "$SQ_TINY_MODEL" >/dev/null \
    || skip_all "tools/make_tiny_model.py could not make the tiny model (needs numpy, safetensors, zstd)"
fi

have() { command -v "$1" >/dev/null 2>&1; }

run_python() {
  "$PY" -c "import numpy, pytest" 2>/dev/null || { echo "SKIP python: numpy and pytest are needed"; return 77; }
  PYTHONPATH="$SRC/bindings/python/src${PYTHONPATH:+:$PYTHONPATH}" \
    "$PY" -m pytest -q -p no:cacheprovider "$SRC/bindings/python/tests"
}

run_rust() {
  have cargo || { echo "SKIP rust: cargo is not installed"; return 77; }
  # The target directory lives in the build tree so the source tree stays clean.
  CARGO_TARGET_DIR="$WORK/cargo-target" cargo test --offline --quiet \
    --manifest-path "$SRC/bindings/rust/Cargo.toml" --workspace
}

run_go() {
  have go || { echo "SKIP go: the go toolchain is not installed (apt-get install golang-go)"; return 77; }
  ( cd "$SRC/bindings/go" && \
    CGO_ENABLED=1 GOFLAGS=-mod=mod GOPROXY=off GOCACHE="${GOCACHE:-$WORK/go-cache}" \
    CGO_LDFLAGS="-L$STREAMQUANT_LIB_DIR -Wl,-rpath,$STREAMQUANT_LIB_DIR" go test -count=1 ./... )
}

run_csharp() {
  have mcs && have mono || { echo "SKIP csharp: mcs and mono are needed (apt-get install mono-devel)"; return 77; }
  local out="$WORK/csharp"
  mkdir -p "$out"
  mcs -nologo -warnaserror -out:"$out/StreamquantTests.exe" \
    "$SRC"/bindings/csharp/src/*.cs "$SRC"/bindings/csharp/tests/*.cs || return 1
  mono "$out/StreamquantTests.exe"
}

failed=0 ran=0
for lang in "${LANGS[@]}"; do
  case "$lang" in python|rust|go|csharp) ;; *) echo "unknown language '$lang' (python, rust, go, csharp)"; exit 2 ;; esac
  echo "=== bindings: $lang"
  start=$(date +%s.%N)
  "run_$lang"
  rc=$?
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  case $rc in
    0) echo "PASS $lang (${secs}s)"; ran=$((ran + 1)) ;;
    77) echo "SKIPPED $lang" ;;
    *) echo "FAIL $lang (exit $rc, ${secs}s)"; failed=1; ran=$((ran + 1)) ;;
  esac
done
[ $failed -ne 0 ] && exit 1
[ $ran -eq 0 ] && exit 77
exit 0

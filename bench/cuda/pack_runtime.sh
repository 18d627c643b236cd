#!/usr/bin/env bash
# Pack a CUDA build into one archive that runs on a GPU machine which has the CUDA 13 runtime libraries
# (cuBLAS, cuSOLVER) but none of our other dependencies and no package registry: the programs, the library,
# and every shared library they load that is neither part of glibc/libstdc++ nor of CUDA.
#   bench/cuda/pack_runtime.sh BUILD_DIR OUT.tar.xz
# On the GPU machine: tar xf OUT.tar.xz && LD_LIBRARY_PATH=sq-runtime/lib:$CUDA_LIBS sq-runtime/bin/...
set -euo pipefail
build=${1:?build directory (configured with -DSQ_WITH_CUDA=ON)}
out=${2:?output archive (.tar.xz)}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/sq-runtime/bin" "$stage/sq-runtime/lib"
for prog in streamquant sq_cuda_tests sq_unit_tests; do
  cp "$build/bin/$prog" "$stage/sq-runtime/bin/"
done
cp -L "$build/lib/libstreamquant.so.0" "$stage/sq-runtime/lib/"
# Dependencies by resolved path, minus the C/C++ runtime (present everywhere) and CUDA (the GPU machine's own).
ldd "$build/bin/sq_cuda_tests" "$build/bin/sq_unit_tests" "$build/bin/streamquant" \
  | awk '/=>/ && $3 ~ /^\// {print $1, $3}' | sort -u \
  | grep -v -E '^(libc|libm|libdl|librt|libpthread|libgcc_s|libstdc\+\+|ld-linux)[.-]' \
  | grep -v -E '/cuda|libcu|libnv' \
  | while read -r soname path; do cp -L "$path" "$stage/sq-runtime/lib/$soname"; done
tar -C "$stage" -cJf "$out" sq-runtime
ls -la "$out"

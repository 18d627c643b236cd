#!/usr/bin/env bash
# Install the build into a temporary prefix, then build examples/c as an outside project twice:
# once with CMake's find_package(streamquant), once with pkg-config. Both programs must run.
set -euo pipefail
build="$1"; src="$2"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
libdir=$(ls -d "$work/prefix"/lib* | head -1)

cmake -S "$src/examples/c" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cmake-build" >/dev/null
LD_LIBRARY_PATH="$libdir" "$work/cmake-build/sq_example_version"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -std=c99 -Wall -Werror "$src/examples/c/version.c" $(pkg-config --cflags --libs streamquant) -o "$work/version_pc"
LD_LIBRARY_PATH="$libdir" "$work/version_pc"
echo "OK: find_package and pkg-config builds ran"

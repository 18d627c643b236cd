#!/usr/bin/env bash
# Install what streamquant needs to build and test on Debian/Ubuntu (run as root or with sudo).
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
APT_PACKAGES="build-essential cmake pkg-config zstd libzstd-dev nlohmann-json3-dev libopenblas-dev liblapacke-dev \
libcli11-dev libpcre2-dev libicu-dev libgtest-dev libgmock-dev libbenchmark-dev python3 python3-pip \
golang-go mono-devel clang libclang-rt-dev"
missing=""
for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
# Python packages used by the tests as independent references (and by tools/make_tiny_model.py).
python3 -m pip install -q numpy pytest safetensors gguf tokenizers zstandard 2>/dev/null \
  || python3 -m pip install -q --break-system-packages numpy pytest safetensors gguf tokenizers zstandard

#!/usr/bin/env bash
# Configures and builds the rwkv binary into build/ (Release); the test suites are built by scripts/test.sh.
# Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j "$(nproc)" --target rwkv

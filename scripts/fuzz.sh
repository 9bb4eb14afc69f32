#!/usr/bin/env bash
# Fuzzes every input format for a bounded time (fuzz/README.md): builds the libFuzzer targets with clang into
# build-fuzz/, writes seed corpora cut down from ../shared/testdata, and runs each target for
# SECONDS_PER_TARGET (default 30). Exits non-zero when any target finds a crash, a leak, a hang, an
# allocation past the memory limits or a sanitizer report; the input that did it is kept under
# build-fuzz/fuzz/artifacts/<target>/.
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     TARGET: pth safetensors gguf rwkvcpp model tokenizer state json_schema
#
# Environment: FUZZ_BUILD_DIR (build-fuzz), FUZZ_RSS_LIMIT_MB (2048), FUZZ_MALLOC_LIMIT_MB (256: one allocation
# past this from an input of at most -max_len bytes counts as an amplification), FUZZ_TIMEOUT_S (30: one input
# running longer is a hang).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(pth safetensors gguf rwkvcpp model tokenizer state json_schema)
build=${FUZZ_BUILD_DIR:-build-fuzz}
rss_mb=${FUZZ_RSS_LIMIT_MB:-2048}
malloc_mb=${FUZZ_MALLOC_LIMIT_MB:-256}
timeout_s=${FUZZ_TIMEOUT_S:-30}
shared=$(cd .. && pwd)/shared

# Longest input per target: the seeds' sizes (fuzz_seeds.cpp keeps them small, so runs are fast).
max_len() {
  case $1 in
    model) echo 163840 ;;
    tokenizer) echo 65536 ;;
    state) echo 8192 ;;
    json_schema) echo 4096 ;;
    *) echo 131072 ;;
  esac
}

# Debian packages: the project's (scripts/setup.sh), then clang with its runtime (libFuzzer, the sanitizers)
# and llvm-symbolizer for readable reports.
bash scripts/setup.sh
install_missing() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq || true
    $sudo apt-get install -y -qq "${missing[@]}"
  fi
}
install_missing clang
clang_major=$(clang -dumpversion | cut -d. -f1)
install_missing "libclang-rt-${clang_major}-dev" "llvm-${clang_major}"
symbolizer=$(command -v llvm-symbolizer || echo "/usr/lib/llvm-${clang_major}/bin/llvm-symbolizer")

CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRWKV_FUZZ=ON \
  -DRWKV_BUILD_TESTS=OFF >/dev/null
if ! cmake --build "$build" -j "$(nproc)" --target fuzz_seeds $(printf 'fuzz_%s ' "${targets[@]}") \
    >"$build/fuzz-build.log" 2>&1; then
  tail -40 "$build/fuzz-build.log"
  echo "fuzz: build failed (log: $build/fuzz-build.log)" >&2
  exit 1
fi

work=$build/fuzz
rm -rf "$work/seeds"
"$work/fuzz_seeds" "$shared" "$work/seeds"

export RWKV_FUZZ_TMPDIR
RWKV_FUZZ_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/rwkv-fuzz.XXXXXX")
trap 'rm -rf "$RWKV_FUZZ_TMPDIR"' EXIT
export ASAN_OPTIONS="detect_leaks=1:symbolize=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
[ -x "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH="$symbolizer"

failed=()
printf '%-12s %6s %10s %8s %6s %6s %8s  %s\n' target seconds runs exec/s cov ft rss_mb result
for t in "${targets[@]}"; do
  mkdir -p "$work/corpus/$t" "$work/artifacts/$t" "$work/logs"
  log=$work/logs/$t.log
  rc=0
  "$work/fuzz_$t" -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout="$timeout_s" \
    -rss_limit_mb="$rss_mb" -malloc_limit_mb="$malloc_mb" -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/$t/" "$work/corpus/$t" "$work/seeds/$t" >"$log" 2>&1 || rc=$?
  final_stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  result=ok
  if [ $rc -ne 0 ]; then
    result="FAILED (exit $rc)"
    failed+=("$t")
  fi
  printf '%-12s %6s %10s %8s %6s %6s %8s  %s\n' "$t" "$seconds" "$(final_stat number_of_executed_units)" \
    "$(final_stat average_exec_per_sec)" "${cov:-?}" "${ft:-?}" "$(final_stat peak_rss_mb)" "$result"
  if [ $rc -ne 0 ]; then
    report='ERROR|SUMMARY|WARNING: libFuzzer|fuzz (invariant|harness)|terminate called|what\(\)'
    grep -E "$report" "$log" | head -5 | sed 's/^/    /' || true
    for a in "$work/artifacts/$t"/*; do
      if [ -e "$a" ]; then echo "    reproduce: $work/fuzz_$t $a"; fi
    done
    echo "    full log: $log"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failures in: ${failed[*]} (inputs under $work/artifacts/)" >&2
  exit 1
fi
echo "fuzz: no failures (${#targets[@]} targets, ${seconds}s each)"

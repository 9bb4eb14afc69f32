#!/usr/bin/env bash
# Generation speed on a busy machine: tokens/s with -t 1 and with the default thread count (plus any other
# counts asked for), alone and beside CPU-bound competitors (shell busy loops), the settings alternating within
# each round so the machine's drift reaches them alike. Prints each setting's median and its runs.
#
#   bench/busy.sh MODEL [TOKENS=1000] [ROUNDS=5] [COMPETITORS="0 2"] [THREADS="1 default"]
#
# MODEL must read and write bytes (vocabulary 256: the shipped model, or `rwkv init ... --vocab 256`), so
# that any sampled token can be printed. RWKV="path ..." picks the binary, or several to compare side by side
# (default build/rwkv).
set -euo pipefail
model=$1
tokens=${2:-1000}
rounds=${3:-5}
competitors=${4:-"0 2"}
threads=${5:-"1 default"}
read -r -a binaries <<<"${RWKV:-"$(dirname "$0")/../build/rwkv"}"

busy=()
stop_busy() {
    if [ ${#busy[@]} -gt 0 ]; then
        kill "${busy[@]}" 2>/dev/null || true
        wait "${busy[@]}" 2>/dev/null || true
    fi
    busy=()
}
trap stop_busy EXIT

run() {  # binary threads -> "tokens/s threads-used"
    local t=()
    [ "$2" != default ] && t=(-t "$2")
    "$1" generate -m "$model" --tokenizer bytes -p "ROMEO:" -n "$tokens" --ignore-eos --seed 1 "${t[@]}" 2>&1 >/dev/null |
        sed -n 's/.*generated: .*(\([0-9.]*\) tokens\/s)[^;]*;[^;]*\(; threads: \([0-9]*\)\)\{0,1\}.*/\1 \3/p'
}

echo "model $model, $tokens tokens, $rounds rounds, $(nproc) cores:$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
for ((b = 0; b < ${#binaries[@]}; b++)); do echo "binary $b: ${binaries[$b]}"; done
for c in $competitors; do
    for ((i = 0; i < c; i++)); do
        (while :; do :; done) &
        busy+=($!)
    done
    sleep 0.5
    declare -A speeds=() used=()
    for ((r = 0; r < rounds; r++)); do
        for ((b = 0; b < ${#binaries[@]}; b++)); do
            for t in $threads; do
                read -r tps n <<<"$(run "${binaries[$b]}" "$t")"
                speeds[$b/$t]+="$tps "
                used[$b/$t]=${n:-?}
            done
        done
    done
    stop_busy
    for ((b = 0; b < ${#binaries[@]}; b++)); do
        for t in $threads; do
            median=$(tr ' ' '\n' <<<"${speeds[$b/$t]}" | grep . | sort -g |
                awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
            printf 'competitors %d  binary %d  -t %-7s (%s threads)  median %8.1f tok/s   runs: %s\n' "$c" "$b" "$t" \
                "${used[$b/$t]}" "$median" "${speeds[$b/$t]}"
        done
    done
    unset speeds used
done

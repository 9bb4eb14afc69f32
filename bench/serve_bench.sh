#!/usr/bin/env bash
# Serving side by side: `rwkv serve` and llama.cpp's `llama-server`, each with 64 parallel sequences on the same model
# (ours, and the same weights in llama.cpp's layout from bench/to_llama_gguf), under serve_load at 1, 4, 16 and 64
# concurrent streams; then, for ours, the memory an idle cached conversation costs. One JSON object per line on
# stdout (bench/README.md, "Serving").
#
#   bench/serve_bench.sh OURS.gguf [LLAMA.gguf] [TOKENS] [REQUESTS]
#
# Environment: RWKV (build/rwkv), LOAD (build/bench/serve_load), LLAMA_SERVER (llama-server; none: ours only),
# TOKENIZER (the World vocabulary for ours), THREADS (2), STREAMS ("1 4 16 64").
set -euo pipefail
cd "$(dirname "$0")/.."
ours=$1
theirs=${2:-}
tokens=${3:-128}
requests=${4:-2}
rwkv=${RWKV:-build/rwkv}
load=${LOAD:-build/bench/serve_load}
llama=${LLAMA_SERVER:-}
tokenizer=${TOKENIZER:-../shared/testdata/tokenizer/rwkv_vocab_v20230424.txt}
threads=${THREADS:-2}
streams=${STREAMS:-1 4 16 64}
port=18190

wait_up() {  # port pid
    for _ in $(seq 600); do
        curl -sf "http://127.0.0.1:$1/health" >/dev/null 2>&1 && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.2
    done
    return 1
}

run_loads() {  # server name
    # Prompts as 32 token ids: the llama.cpp-layout file carries placeholder tokens, not the World vocabulary.
    "$load" --port $port --streams 2 --tokens 16 --requests 1 --prompt-tokens 32 --salt 1 >/dev/null  # warm-up
    for s in $streams; do
        echo "{\"server\": \"$1\", \"model\": \"$2\", \"load\": $("$load" --port $port --streams "$s" --tokens "$tokens" --requests "$requests" --prompt-tokens 32)}"
    done
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

"$rwkv" serve -m "$ours" --tokenizer "$tokenizer" --port $port --parallel 64 -t "$threads" --no-log 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
wait_up $port $pid || { echo "rwkv serve did not start" >&2; exit 1; }

# Idle cached conversations, on the fresh server: one chat turn each, then what the state cache and the process
# hold per conversation.
before=$(rss_kb $pid)
conversations=32
for i in $(seq $conversations); do
    curl -sf "http://127.0.0.1:$port/v1/chat/completions" -H 'Content-Type: application/json' \
        -d "{\"messages\": [{\"role\": \"user\", \"content\": \"Conversation $i: tell me something.\"}], \"max_tokens\": 8}" >/dev/null
done
after=$(rss_kb $pid)
metrics=$(curl -sf "http://127.0.0.1:$port/metrics")
cache_bytes=$(awk '/^rwkv_state_cache_bytes/ {print $2}' <<<"$metrics")
entries=$(awk '/^rwkv_state_cache_entries/ {print $2}' <<<"$metrics")
echo "{\"server\": \"rwkv\", \"model\": \"$ours\", \"idle_conversations\": $conversations, \"state_cache_bytes\": $cache_bytes, \"state_cache_entries\": $entries, \"rss_growth_bytes\": $(( (after - before) * 1024 ))}"

run_loads rwkv "$ours"
kill -TERM $pid
wait $pid || true
trap - EXIT

if [ -n "$llama" ] && [ -n "$theirs" ]; then
    # llama-server divides its context among the slots; each slot needs room for a prompt and its tokens.
    port=$((port + 1))  # ours may still hold its port in TIME_WAIT
    "$llama" -m "$theirs" --port $port -np 64 -c $((64 * (tokens + 128))) -t "$threads" -tb "$threads" --no-webui \
        >/dev/null 2>&1 &
    pid=$!
    trap 'kill $pid 2>/dev/null || true' EXIT
    wait_up $port $pid || { echo "llama-server did not start" >&2; exit 1; }
    run_loads llama.cpp "$theirs"
    kill -TERM $pid
    wait $pid || true
    trap - EXIT
fi

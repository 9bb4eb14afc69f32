#!/usr/bin/env bash
# Runs a Node.js test against a live `rwkv serve` on the shipped model: installs the npm package the test needs
# into DEPS_DIR on first use, starts the server on a free port, runs SCRIPT with RWKV_URL set (and SCREENSHOT, a
# path under DEPS_DIR), then stops the server with SIGTERM, after which it must exit 0.
#   node_test.sh RWKV_BINARY DEPS_DIR NPM_PACKAGE SCRIPT [SERVER_OPTIONS...]
set -euo pipefail
rwkv=$1
deps=$2
package=$3
script=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
model=$here/../../assets/rwkv7-shakespeare-4x256.gguf
name=${package%@*}
if [ ! -d "$deps/node_modules/$name" ]; then
    mkdir -p "$deps"
    npm install --prefix "$deps" --no-audit --no-fund --silent "$package" >/dev/null
fi
log=$(mktemp)
"$rwkv" serve -m "$model" --tokenizer bytes --port 0 --name shakespeare --no-log "$@" 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
port=""
for _ in $(seq 300); do
    port=$(sed -n 's/.*http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
    [ -n "$port" ] && break
    kill -0 $pid 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.1
done
[ -n "$port" ] || { echo "the server did not start"; cat "$log"; exit 1; }
rc=0
NODE_PATH="$deps/node_modules" RWKV_URL="http://127.0.0.1:$port/" SCREENSHOT="$deps/$(basename "$script" .cjs).png" \
    node "$here/$script" || rc=$?
kill -TERM $pid
server_rc=0
wait $pid || server_rc=$?
trap - EXIT
rm -f "$log"
if [ $server_rc -ne 0 ]; then
    echo "rwkv serve exited with $server_rc after SIGTERM"
    exit 1
fi
exit $rc

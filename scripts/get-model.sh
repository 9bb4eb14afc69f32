#!/usr/bin/env bash
# Downloads the official RWKV-7 World 0.1B checkpoint and the World tokenizer into models/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p models
model=RWKV-x070-World-0.1B-v2.8-20241210-ctx4096.pth
fetch() {  # url dest: download to a temporary name, then rename, so an interrupted download is not kept
  [ -s "$2" ] && return 0
  if command -v curl >/dev/null; then curl -fL --retry 3 -o "$2.part" "$1"; else wget -O "$2.part" "$1"; fi
  mv "$2.part" "$2"
}
fetch "https://huggingface.co/BlinkDL/rwkv-7-world/resolve/main/$model" "models/$model"
fetch "https://raw.githubusercontent.com/BlinkDL/ChatRWKV/main/tokenizer/rwkv_vocab_v20230424.txt" \
  models/rwkv_vocab_v20230424.txt
echo "models/$model"

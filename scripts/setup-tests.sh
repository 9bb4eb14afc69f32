#!/usr/bin/env bash
# What the test suites need beyond scripts/setup.sh: Node.js and npm (the openai client and puppeteer-core tests
# install their npm packages into the build tree themselves) and Debian's chromium for the browser test.
set -euo pipefail
missing=()
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed" || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || true
  $SUDO apt-get install -y -qq "${missing[@]}"
fi

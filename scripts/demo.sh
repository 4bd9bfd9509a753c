#!/usr/bin/env bash
# The main job: install dependencies, build, and run `tapsec demo` (a handshake and
# an echo over loopback with every implemented composition), then print the table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
./build/tools/tapsec demo
echo
./build/tools/tapsec table

#!/usr/bin/env bash
# Run every test: installs the test requirements and Debian's chromium (for the real-browser tests) when missing.
#   bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -r requirements-dev.txt
if ! command -v chromium >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests..."
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
runtime="${MLP_PYODIDE_DIR:-$HOME/.cache/mlp/pyodide-0.27.7}"
[ -f "$runtime/pyodide.asm.wasm" ] || echo "NOTE: no local Pyodide runtime at $runtime: the offline browser-build tests will be skipped (see README, 'Browser build')."
exec python3 -m pytest "$@"

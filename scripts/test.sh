#!/usr/bin/env bash
# Run every test: installs the test requirements, Debian's chromium (for the real-browser tests) and a local
# Pyodide 0.27.7 runtime (for the offline browser-build tests) when missing.
#   bash scripts/test.sh [pytest args]
# The runtime: $MLP_PYODIDE_DIR if set, else ~/.cache/mlp/pyodide-0.27.7, assembled there by
# scripts/get_pyodide.py (npm package pyodide@0.27.7 + the NumPy wheel from the Pyodide release on jsDelivr).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -r requirements-dev.txt
if ! command -v chromium >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests..."
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
if [ -n "${MLP_PYODIDE_DIR:-}" ]; then
  [ -f "$MLP_PYODIDE_DIR/pyodide.asm.wasm" ] || echo "NOTE: MLP_PYODIDE_DIR=$MLP_PYODIDE_DIR holds no Pyodide runtime."
else
  export MLP_PYODIDE_DIR="$HOME/.cache/mlp/pyodide-0.27.7"
  if [ ! -f "$MLP_PYODIDE_DIR/pyodide.asm.wasm" ]; then
    echo "Assembling a Pyodide 0.27.7 runtime in $MLP_PYODIDE_DIR for the browser-build tests..."
    python3 scripts/get_pyodide.py --out "$MLP_PYODIDE_DIR" || echo "NOTE: the offline browser-build tests will be skipped."
  fi
fi
exec python3 -m pytest "$@"

#!/usr/bin/env bash
# Runs the provider benchmark with its Node baseline installed beside it.
# Prints Markdown tables (the figures in BENCHMARKS.md come from here).
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v npm >/dev/null 2>&1; then
  (cd bench && npm install --no-audit --no-fund --silent)
else
  echo "npm not found: the Node baseline is skipped" >&2
fi
cargo bench -p mock-provider --bench provider
cargo build --release -p reference-server
cargo bench -p conformance --bench suite

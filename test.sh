#!/usr/bin/env bash
# The whole test suite, from a fresh clone: set-up (idempotent), then every xunit test: unit, TorchSharp,
# parity with the official implementation, notebook smoke runs through Jupyter, report checks in headless
# Chromium. Executed notebooks and HTML reports land in reports/. Extra arguments go to `dotnet test`
# (for example --filter "Category!=Notebook").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
environment/setup.sh
export CONVMAE_SMOKE=1
results="$root/artifacts/test-results"
rm -rf "$results"
status=0
dotnet test tests/ConvMAE.Tests -c Release --no-build -nologo \
  --logger "console;verbosity=normal" --logger "trx;LogFileName=tests.trx" --results-directory "$results" "$@" || status=$?
# One plain closing line with the counts, read from the test results file.
if trx=$(ls "$results"/*.trx 2>/dev/null | head -1) && [ -n "$trx" ]; then
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
  echo "tests: $(get passed) passed, $(get failed) failed, $(( $(get total) - $(get executed) )) skipped"
fi
exit $status

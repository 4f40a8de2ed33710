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
  # CI keeps only the tail of the log: name each failed test here with its message (up to 40 lines; a one-line
  # summary hid the page's error text once). When all passed awk prints nothing and exits 0.
  awk -v max=40 '
    function unxml(t) { gsub(/&lt;/,"<",t); gsub(/&gt;/,">",t); gsub(/&quot;/,"\"",t); gsub(/&apos;/,"\047",t); gsub(/&amp;/,"\\&",t); return t }
    /<UnitTestResult / && /outcome="Failed"/ { match($0, /testName="[^"]*"/); print "FAILED: " unxml(substr($0, RSTART+10, RLENGTH-11)); failed=1 }
    failed && /<Message>/ { inmsg=1; n=0; sub(/.*<Message>/, "") }
    inmsg { done=sub(/<\/Message>.*/, ""); if (n < max) print "  | " unxml($0); else if (n == max) print "  | ..."; n++
            if (done) { inmsg=0; failed=0 } }' "$trx"
fi
exit $status

#!/usr/bin/env bash
# The main job on the embedded demo data: set-up (idempotent; generates data/demo when missing), then the quickstart
# pipeline (pretrain the tiny preset, linear-probe it against a random encoder, finetune it; 9-15 minutes on 2
# cores), then every notebook into reports/. `./run.sh --smoke` (or CONVMAE_SMOKE=1) does a two-epoch pass of each.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
if [ "${1:-}" = "--smoke" ]; then export CONVMAE_SMOKE=1; shift; fi
environment/setup.sh
smoke=()
[ "${CONVMAE_SMOKE:-0}" = "1" ] && smoke=(--smoke)
artifacts/bin/ConvMAE.Cli/release/ConvMAE.Cli quickstart --data_path data/demo --output_dir runs/quickstart "${smoke[@]}"
artifacts/bin/ConvMAE.Environment/release/convmae-env run-notebooks "${smoke[@]}"
echo "reports: $root/reports/   runs: $root/runs/quickstart/"

#!/usr/bin/env bash
# The main job on the embedded defaults: set-up (idempotent), then execute every notebook in normal mode
# into reports/ (an executed .ipynb and a self-contained HTML report each). Set CONVMAE_SMOKE=1 for a quick pass.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
environment/setup.sh
artifacts/bin/ConvMAE.Environment/release/convmae-env run-notebooks "$@"

#!/usr/bin/env bash
# Side by side on this machine: the official ConvMAE PyTorch code (bench/official, a dev tool needing Debian's
# python3-torch) and the kit's `bench`, one after the other, same model, batch, size and threads. Prints each JSON
# line and the kit/official ratios. Usage:
#   bench/compare-official.sh [pretrain|infer|finetune] [BATCH] [THREADS] [STEPS]      (defaults: pretrain 8 2 5)
# Set-up once: bench/official/setup.sh /path/to/Alpha-VL/ConvMAE/.git
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode=${1:-pretrain}; batch=${2:-8}; threads=${3:-2}; steps=${4:-5}
cli="$root/artifacts/bin/ConvMAE.Cli/release/ConvMAE.Cli"
[ -d "$root/bench/official/.work" ] || { echo "run bench/official/setup.sh OFFICIAL_GIT_DIR first" >&2; exit 2; }
common=(--batch_size "$batch" --input_size 224 --threads "$threads" --steps "$steps" --warmup 2)
official=$(/usr/bin/python3 "$root/bench/official/bench_official.py" "$mode" "${common[@]}" 2>/dev/null)
echo "$official"
results=("$official")
for dtype in fp32 bf16; do
    [ "$mode" = infer ] && [ "$dtype" = bf16 ] && [ "${INFER_BF16:-1}" = 0 ] && continue
    kit=$("$cli" bench "$mode" --model convmae_base --dtype "$dtype" "${common[@]}" 2>/dev/null)
    echo "$kit"
    results+=("$kit")
done
printf '%s\n' "${results[@]}" | /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
o = rows[0]
for k in rows[1:]:
    line = "kit %s: %.2fx official img/s" % (k["dtype"], k["img_per_s"] / o["img_per_s"])
    if "fwd_img_per_s" in k and "fwd_img_per_s" in o:
        line += ", forward %.2fx" % (k["fwd_img_per_s"] / o["fwd_img_per_s"])
    line += ", peak memory %.0f MB vs %.0f MB" % (k["peak_rss_mb"], o["peak_rss_mb"])
    print(line)
'

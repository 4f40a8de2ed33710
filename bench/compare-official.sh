#!/usr/bin/env bash
# Side by side on this machine, in one sitting: the official ConvMAE PyTorch code (bench/official, a dev tool needing
# Debian's python3-torch) and the kit's `bench`, one after the other, same model, batch, size and threads. Prints each
# JSON line and the kit/official ratios, with the CPU model. Usage:
#   [ROUNDS=N] [BF16=0|1] bench/compare-official.sh [all|pretrain|finetune|infer] [BATCH] [THREADS] [STEPS]   (defaults: all 8 2 5)
# all = pretrain then finetune. The official side gets its fastest correct OpenBLAS kernel: bench_official.py probes
# OPENBLAS_CORETYPE candidates with a 2048³ product and says which it used (fields openblas_coretype, gemm_gflops).
# For pretrain the kit also runs its dense form (--no_sparse_stages, what the official computes) for reference.
# Set-up once: bench/official/setup.sh /path/to/Alpha-VL/ConvMAE/.git
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
what=${1:-all}; batch=${2:-8}; threads=${3:-2}; steps=${4:-5}
cli="$root/artifacts/bin/ConvMAE.Cli/release/ConvMAE.Cli"
[ -d "$root/bench/official/.work" ] || { echo "run bench/official/setup.sh OFFICIAL_GIT_DIR first" >&2; exit 2; }
common=(--batch_size "$batch" --input_size 224 --threads "$threads" --steps "$steps" --warmup 2)
source "$root/bench/cpu.sh"
echo "cpu: $cpu, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
# The bf16 runs only where the processor computes bf16, unless BF16=1 (BF16=0 skips them anywhere).
bf16=${BF16:-$native_bf16}
[ "$bf16" = 0 ] && echo "bf16 runs skipped (BF16=0 where the processor emulates bf16 or by request; BF16=1 forces them)"
# ROUNDS=N (default 1) repeats each mode N times, alternating the order (official first in odd rounds, the kit first
# in even ones), and reads the ratio on the means with the range over rounds: these machines drift by 2x within minutes.
rounds=${ROUNDS:-1}
modes=("$what"); [ "$what" = all ] && modes=(pretrain finetune)
for mode in "${modes[@]}"; do
    results=()
    run_official() {
        local official
        official=$(/usr/bin/python3 "$root/bench/official/bench_official.py" "$mode" "${common[@]}" 2>/dev/null)
        echo "$official"
        results+=("$official")
    }
    run_kit() {
        local runs=("--dtype fp32" "--dtype bf16") run kit
        [ "$mode" = pretrain ] && runs+=("--dtype fp32 --no_sparse_stages" "--dtype bf16 --no_sparse_stages")
        for run in "${runs[@]}"; do
            [[ "$run" == *bf16* ]] && [ "$bf16" = 0 ] && continue
            # shellcheck disable=SC2086
            kit=$("$cli" bench "$mode" --model convmae_base $run "${common[@]}" 2>/dev/null)
            [[ "$run" == *no_sparse* ]] && kit=$(echo "$kit" | sed 's/"dtype":"\([a-z0-9]*\)"/"dtype":"\1 dense"/')
            echo "$kit"
            results+=("$kit")
        done
    }
    for ((round = 1; round <= rounds; round++)); do
        if ((round % 2)); then run_official; run_kit; else run_kit; run_official; fi
    done
    printf '%s\n' "${results[@]}" | /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
official = [r for r in rows if r["impl"] == "official-pytorch"]
kits = {}
for r in rows:
    if r["impl"] != "official-pytorch": kits.setdefault(r["dtype"], []).append(r)
mean = lambda rs, key: sum(r[key] for r in rs) / len(rs)
o = official[0]
print("%s: official %s img/s (OpenBLAS kernel %s, %s GFLOP/s)" % (o["mode"], " / ".join("%.3f" % r["img_per_s"] for r in official),
      " / ".join(r.get("openblas_coretype", "?") for r in official), " / ".join(str(r.get("gemm_gflops", "?")) for r in official)))
def ratio(rs, key):
    # on the means, and the range of the per-round ratios when there are several rounds
    text = "%.2fx" % (mean(rs, key) / mean(official, key))
    if len(rs) > 1:
        per = [k[key] / off[key] for k, off in zip(rs, official)]
        text += " (rounds %.2f-%.2fx)" % (min(per), max(per))
    return text
for dtype, rs in kits.items():
    line = "  kit %s: %s official img/s" % (dtype, ratio(rs, "img_per_s"))
    if all("fwd_img_per_s" in r for r in rs + official):
        line += ", forward %s" % ratio(rs, "fwd_img_per_s")
    line += ", peak memory %.0f MB vs %.0f MB" % (max(r["peak_rss_mb"] for r in rs), max(r["peak_rss_mb"] for r in official))
    print(line)
'
done

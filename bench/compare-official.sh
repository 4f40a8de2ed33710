#!/usr/bin/env bash
# Side by side on this machine, in one sitting: the official ConvMAE PyTorch code (bench/official, a dev tool needing
# Debian's python3-torch) and the kit's `bench`, one after the other, same model, batch, size and threads. Prints each
# JSON line and the kit/official ratios, with the CPU model. Usage:
#   bench/compare-official.sh [all|pretrain|finetune|infer] [BATCH] [THREADS] [STEPS]      (defaults: all 8 2 5)
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
cpu=$("$cli" info 2>/dev/null | sed -n 's/^CPU *//p')
echo "cpu: $cpu, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
# Without AVX512-BF16 or AMX, libtorch converts around every bf16 kernel (ConvMAE-Base: over 5 minutes a step on an
# AVX2 EPYC): the bf16 runs are skipped there unless BF16=1.
bf16=${BF16:-auto}
[ "$bf16" = auto ] && { [[ "$cpu" == *"bf16 emulated"* ]] && bf16=0 || bf16=1; }
[ "$bf16" = 0 ] && echo "bf16 runs skipped (BF16=$bf16: this processor emulates bf16; BF16=1 forces them)"
modes=("$what"); [ "$what" = all ] && modes=(pretrain finetune)
for mode in "${modes[@]}"; do
    official=$(/usr/bin/python3 "$root/bench/official/bench_official.py" "$mode" "${common[@]}" 2>/dev/null)
    echo "$official"
    results=("$official")
    runs=("--dtype fp32" "--dtype bf16")
    [ "$mode" = pretrain ] && runs+=("--dtype fp32 --no_sparse_stages" "--dtype bf16 --no_sparse_stages")
    for run in "${runs[@]}"; do
        [[ "$run" == *bf16* ]] && [ "$bf16" = 0 ] && continue
        # shellcheck disable=SC2086
        kit=$("$cli" bench "$mode" --model convmae_base $run "${common[@]}" 2>/dev/null)
        [[ "$run" == *no_sparse* ]] && kit=$(echo "$kit" | sed 's/"dtype":"\([a-z0-9]*\)"/"dtype":"\1 dense"/')
        echo "$kit"
        results+=("$kit")
    done
    printf '%s\n' "${results[@]}" | /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
o = rows[0]
print("%s: official %.3f img/s (OpenBLAS kernel %s, %s GFLOP/s)" % (o["mode"], o["img_per_s"], o.get("openblas_coretype", "?"), o.get("gemm_gflops", "?")))
for k in rows[1:]:
    line = "  kit %s: %.2fx official img/s" % (k["dtype"], k["img_per_s"] / o["img_per_s"])
    if "fwd_img_per_s" in k and "fwd_img_per_s" in o:
        line += ", forward %.2fx" % (k["fwd_img_per_s"] / o["fwd_img_per_s"])
    line += ", peak memory %.0f MB vs %.0f MB" % (k["peak_rss_mb"], o["peak_rss_mb"])
    print(line)
'
done

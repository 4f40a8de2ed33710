#!/usr/bin/env bash
# The scaling table of docs/performance.md: images/s and peak memory against batch size and input size, for the
# base and CPU presets, with the kit's `bench` command (2 threads). Prints a Markdown table; every row is one
# `ConvMAE.Cli bench` process, so peak memory is per configuration. About 10 minutes on 2 cores.
#   bench/scaling.sh > /tmp/scaling.md
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cli="$root/artifacts/bin/ConvMAE.Cli/release/ConvMAE.Cli"
threads=${THREADS:-2}
source "$root/bench/cpu.sh"
# bf16 rows only where the processor computes bf16; DTYPES="fp32 bf16" forces them.
dtypes=${DTYPES:-fp32 bf16}
if [ -z "${DTYPES:-}" ] && [ "$native_bf16" = 0 ]; then dtypes=fp32; fi
echo "$cpu, $(nproc) cores, $threads threads, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| preset | mode | dtype | input | batch | img/s | step ms (median) | fwd img/s | peak MB | GFLOP/img | achieved GFLOP/s |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
run() {  # model mode dtype size batch steps warmup
    "$cli" bench "$2" --model "$1" --dtype "$3" --input_size "$4" --batch_size "$5" --steps "$6" --warmup "$7" --threads "$threads" 2>/dev/null |
    python3 -c '
import json, sys
j = json.loads(sys.stdin.read()); m = sys.argv[1]
f = lambda k, fmt: (fmt % j[k]) if k in j else "–"
print("| %s | %s | %s | %d | %d | %s | %s | %s | %s | %s | %s |" % (m, j["mode"], j["dtype"], j["input_size"], j["batch_size"],
      f("img_per_s", "%.2f"), "%.0f" % j["step_ms"]["median"], f("fwd_img_per_s", "%.2f"), f("peak_rss_mb", "%.0f"),
      f("gflop_per_img", "%.2f"), f("achieved_gflops", "%.0f")))' "$1"
}
for dtype in $dtypes; do
    for b in 1 8 32; do run convmae_base pretrain $dtype 224 $b 2 1; done
    for s in 320 448; do run convmae_base pretrain $dtype $s 8 2 1; done
done
for b in 1 8 32; do run convmae_base infer fp32 224 $b 3 1; done
for s in 320 448; do run convmae_base infer fp32 $s 8 3 1; done
for b in 1 8 32; do run convmae_small_cpu pretrain fp32 128 $b 5 2; done
for s in 224 320 448; do run convmae_small_cpu pretrain fp32 $s 8 3 1; done
for b in 8 32 64; do run convmae_tiny_cpu pretrain fp32 64 $b 10 5; done
for s in 224 320 448; do run convmae_tiny_cpu pretrain fp32 $s 8 3 1; done

#!/usr/bin/env bash
# Prepares a scratch copy of the OFFICIAL ConvMAE model code for bench_official.py (a dev tool; see README.md).
# Nothing of the official code is committed to this repository: it is extracted here, into a git-ignored folder.
#
#   bench/official/setup.sh OFFICIAL_GIT_DIR [DEST]
#
# OFFICIAL_GIT_DIR: a (bare) git dir of github.com/Alpha-VL/ConvMAE, e.g. /work/.mirror/Alpha-VL+ConvMAE/repo
# DEST:             default bench/official/.work (git-ignored)
# REV (env):        the commit to extract, default HEAD (the parity fixtures were made from 4c97b4c)
# OPENBLAS=0 (env): skip the local OpenBLAS (see below)
#
# Debian's python3-torch links libblas.so.3, which here is the netlib *reference* BLAS (libblas3): single-threaded and
# ~30-70x slower at the encoder's matmuls than an optimized BLAS, which would make the official timings meaningless.
# So this script also unpacks Debian's libopenblas0-openmp into DEST/openblas (apt-get download + dpkg -x; nothing is
# installed system-wide) and bench_official.py puts it first on LD_LIBRARY_PATH (its --blas option).
# It also needs Debian's python3-torch (PyTorch 1.13) and installs it when missing (as root; otherwise it prints the
# apt-get line). THIS CHANGES THE MACHINE: python3-torch puts a libtorch 1.13 on the system's library path. The kit
# and its tests never need it and never load it (they pin TorchSharp's own libtorch by full path and a test checks
# /proc/self/maps), but a machine with it is no longer a fresh machine: check set-up on a fresh one before trusting it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if ! dpkg-query -W -f='${Status}' python3-torch 2>/dev/null | grep -q "install ok installed"; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "installing Debian's python3-torch (changes this machine: libtorch 1.13 on the system's library path)" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null
    else
        echo "bench/official needs Debian's python3-torch; run: sudo apt-get install -y python3-torch" >&2
        echo "(this changes the machine: it puts libtorch 1.13 on the system's library path)" >&2
        exit 1
    fi
fi
git_dir=${1:?usage: setup.sh OFFICIAL_GIT_DIR [DEST]}
dest=${2:-$here/.work}
rev=${REV:-HEAD}
commit=$(git --git-dir="$git_dir" rev-parse --verify "$rev^{commit}")

mkdir -p "$dest/util"
for f in models_convmae.py models_convvit.py vision_transformer.py util/pos_embed.py util/lr_decay.py LICENSE; do
    git --git-dir="$git_dir" show "$commit:$f" > "$dest/$f"
done
: > "$dest/util/__init__.py"          # the official repo has no util/__init__.py
# np.float was removed in numpy 1.24 (np.float32 etc. are left alone by the \b)
sed -i 's/\bnp\.float\b/np.float64/g' "$dest/util/pos_embed.py"
# our own minimal stand-in for timm 0.3.2 (only what the model files import)
rm -rf "$dest/timm"
cp -r "$here/timm_standin/timm" "$dest/timm"
find "$dest/timm" -name __pycache__ -prune -exec rm -rf {} +
echo "$commit" > "$dest/OFFICIAL_COMMIT"

if [[ ${OPENBLAS:-1} != 0 ]]; then
    tmp=$(mktemp -d)
    if (cd "$tmp" && apt-get download libopenblas0-openmp >/dev/null 2>&1 && dpkg -x libopenblas0-openmp_*.deb x); then
        rm -rf "$dest/openblas"
        cp -r "$tmp/x/usr/lib/x86_64-linux-gnu/openblas-openmp" "$dest/openblas"
        echo "local OpenBLAS (libopenblas0-openmp) -> $dest/openblas" >&2
    else
        echo "warning: could not fetch libopenblas0-openmp (apt-get update first?); the bench will use the system BLAS" >&2
    fi
    rm -rf "$tmp"
fi
echo "official ConvMAE @ ${commit:0:7} -> $dest" >&2

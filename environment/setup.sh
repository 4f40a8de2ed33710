#!/usr/bin/env bash
# One idempotent set-up for a fresh Debian 12 machine with the .NET 10 SDK. Every step prints what it did,
# or that nothing was needed. Safe to run any number of times; a second run changes nothing.
#   1. Debian packages (Jupyter front end, ffmpeg, Chromium for report checks): installed when run as root,
#      otherwise the exact apt-get command is printed.
#   2. NuGet restore of the solution (TorchSharp-cpu/libtorch, Plotly.NET, FSharp.Core, ...).
#   3. convmae-env setup: libstdc++ edit of libLibTorchSharp.so where needed, dotnet-interactive tool into
#      .tools/, its FSharp.Core aligned with Plotly.NET 6, the .NET (C#) Jupyter kernelspec, plotly.js for reports.
#   4. Release build of the kit, which notebooks load from artifacts/bin/ConvMAE.Interactive/release/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
say() { echo "[setup] $*"; }
incomplete=0

command -v dotnet >/dev/null || { say "the .NET 10 SDK is required (dotnet not on PATH)"; exit 1; }

# 1. Debian packages
pkgs=(jupyter-nbconvert jupyter-client python3-ipykernel ffmpeg chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  say "Debian packages: nothing needed (${pkgs[*]} installed)"
elif [ "$(id -u)" -eq 0 ]; then
  say "Debian packages: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  say "Debian packages: installed ${missing[*]}"
else
  say "Debian packages: missing ${missing[*]}; not root, so run this, then set-up again:"
  echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}"
  incomplete=1
fi

# 2. NuGet restore (prints "All projects are up-to-date" when nothing is needed)
say "NuGet restore of ConvMAE.Notebooks.sln"
dotnet restore ConvMAE.Notebooks.sln --verbosity quiet -nologo | sed 's/^/    /'
say "NuGet restore: done"

# 3. .NET-side set-up (its own steps say what they did)
dotnet build environment/ConvMAE.Environment -c Release --no-restore -nologo -v:q -clp:ErrorsOnly | sed 's/^/    /'
artifacts/bin/ConvMAE.Environment/release/convmae-env setup

# 4. Build the kit (incremental: reports whether anything was rebuilt)
stamp=$(mktemp)
dotnet build ConvMAE.Notebooks.sln -c Release --no-restore -nologo -v:q -clp:ErrorsOnly | sed 's/^/    /'
if [ -n "$(find artifacts/bin -name '*.dll' -newer "$stamp" -print -quit)" ]; then
  say "build: the kit was (re)built into artifacts/bin"
else
  say "build: nothing needed (the kit was up to date)"
fi
rm -f "$stamp"

if [ "$incomplete" -ne 0 ]; then say "set-up is incomplete: see the apt-get command above"; exit 1; fi
say "ready"

#!/usr/bin/env bash
# The whole chain behind the results table on a machine of many cores and, where there is one, a
# GPU (the trainings use it): `rtgs2 reproduce` with the data set built as shards (2 threads each),
# then the weights with their cards, the training curves, the logs and the table copied into one
# folder (checkpoints stay in the cache: a rerun resumes from them).
#
#   bash benchmarks/reproduce_on_device.sh [PRESET] [SHARDS]   # default: v3x3, nproc / 2 shards
#
# A preset that continues another (v3 continues v2, v3x3 continues v3) brings the outputs of every chain it
# continues too, each in <dest>/<that preset>/.
#
# The folder is $OUT/reproduce_<preset> when OUT is set (the device tool's folder), else
# outputs/reproduce_<preset>. The cards say where each model was trained (`machine`).
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-v3x3}
shards=${2:-$(( $(nproc) / 2 > 0 ? $(nproc) / 2 : 1 ))}
dest=${OUT:-outputs}/reproduce_$preset
mkdir -p "$dest"
exec > >(tee -a "$dest/reproduce.log") 2>&1
extras=dev
if command -v nvidia-smi >/dev/null 2>&1; then extras=dev,cuda; nvidia-smi --query-gpu=name,memory.total --format=csv; fi
test -x .venv/bin/python || python3 -m venv .venv
.venv/bin/pip install --quiet -e ".[$extras]"
date -u
.venv/bin/rtgs2 reproduce --preset "$preset" --build-jobs "$shards"
date -u
copy_chain() {  # copy_chain PRESET DEST: the weights, cards, curves and table of one chain
  local src=${RTGS2_CACHE:-$HOME/.cache/rtgs2}/reproduce/$1 to=$2
  mkdir -p "$to"
  cp "$src/reproduce.json" "$src/results.md" "$to/"
  for step in features fusion-both fusion-image fusion-features; do
    mkdir -p "$to/$step"
    for f in weights.pt weights.json best.pt best.json metrics.csv curves.png; do
      if [ -f "$src/$step/$f" ]; then cp "$src/$step/$f" "$to/$step/"; fi
    done
  done
  mkdir -p "$to/eval"
  cp "$src/eval"/*.md "$src/eval"/*.json "$to/eval/"
  cp -r "$src/eval/figures" "$to/eval/"
}
base_of() { .venv/bin/python -c "from rtgs2.eval.reproduce_config import PRESETS; print(PRESETS['$1'].base or '')"; }
copy_chain "$preset" "$dest"
chain=$preset
while chain=$(base_of "$chain") && [ -n "$chain" ]; do copy_chain "$chain" "$dest/$chain"; done  # v3x3: v3, then v2
du -sh "$dest"

#!/usr/bin/env bash
# The GPU checks of rtgs2 in one run, for a machine with CUDA (the CPU machines here have none):
# install the [cuda] extra (gsplat) beside the dev extras, run the CUDA tests (networks and the
# gsplat renderer against the CPU), then time the per-frame path end to end on the GPU (gsplat
# render of Î and Z, fusion, argmax) and the network alone, appending the rows to RESULTS.md.
#
#   bash benchmarks/gpu_check.sh [SYNTHROOMS_ROOT]     # the root's first test scene, else the procedural room
#
# Everything it prints also goes to $OUT/gpu_check.log when OUT is set (the device tool's folder).
set -euo pipefail
cd "$(dirname "$0")/.."
log=${OUT:-.}/gpu_check.log
exec > >(tee "$log") 2>&1
python3 -m venv .venv
.venv/bin/pip install --quiet -e '.[dev,cuda]'
nvidia-smi --query-gpu=name,memory.total --format=csv
.venv/bin/python -m pytest -q -m 'cuda or not slow' tests/test_cuda.py tests/render/test_gsplat_backend.py
data=()
if [ $# -gt 0 ]; then data=(--data "$1"); fi
.venv/bin/python benchmarks/fusion.py --device cuda --sizes small --modes eager --resolutions 320x240 640x480 \
  --scene-resolutions 320x240 640x480 "${data[@]}"
cp benchmarks/RESULTS.md "${OUT:-.}/RESULTS.md" 2>/dev/null || true

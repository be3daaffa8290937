#!/usr/bin/env bash
# The GPU-machine run, prepared so that one call measures everything issue 6 asks of a GPU:
#   1. conformance of tfjs-webgpu and onnxruntime-webgpu on every backend-scope clause (quick profile);
#   2. `bench --gpu-goals` on the small U-Net at 32² × 1 (a smoke run, seconds);
#   3. `bench --gpu-goals` as specified: glyffuser-size U-Net, 128², batch 16, 20-step DPM-Solver++(2M)
#      loop vs its 20 model passes: on onnxruntime-webgpu with its fused attention in fp16 and in fp32,
#      then with explicit, chunked attention (fp32) on onnxruntime-webgpu and tfjs-webgpu.
# Everything is written under $OUT (JSON reports, console text). Built by bench/device/pack.sh; run from
# the repo root with the .bench-device folder carried:   bash .bench-device/run.sh
# BUDGET_S (default 540) bounds the whole run; each step gets a share and a hard timeout. GOALS_EXTRA is
# appended to the three full-size bench steps: a dry run on a machine without a GPU (llvmpipe) uses
#   GOALS_EXTRA="--unet small --resolution 32 --batch 1" bash .bench-device/run.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-/tmp/diffspec-out}; mkdir -p "$OUT"
t0=$(date +%s); budget=${BUDGET_S:-540}
elapsed() { echo $(( $(date +%s) - t0 )); }

# Setup: Node.js, node_modules, and (where the machine has none) the Vulkan loader.
mkdir -p /tmp/node && xz -dc .bench-device/node.tar.xz | tar -C /tmp/node -xf -
[ -d node_modules/tsx ] || xz -T0 -dc .bench-device/modules.tar.xz | tar -xf -
if ! ldconfig -p | grep -q 'libvulkan.so.1 '; then for f in .bench-device/*.deb; do dpkg -x "$f" /; done; ldconfig; fi
export PATH=/tmp/node/bin:$PATH
nv=/usr/local/nvidia/share
[ -f $nv/vulkan/icd.d/nvidia_icd.json ] && export VK_DRIVER_FILES=$nv/vulkan/icd.d/nvidia_icd.json
[ -f $nv/glvnd/egl_vendor.d/10_nvidia.json ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$nv/glvnd/egl_vendor.d/10_nvidia.json
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi";
  echo "node $(node --version), $(nproc) cores, setup $(elapsed) s"; } | tee "$OUT/machine.txt"

# step NAME SECONDS ARGS…: runs `diffspec ARGS…` with a hard limit, keeping its console text.
step() {
  local name=$1 lim=$2; shift 2
  local left=$(( budget - $(elapsed) )); (( lim > left )) && lim=$left
  if (( lim < 10 )); then echo "=== $name skipped: budget spent"; return; fi
  echo "=== $name ($lim s): diffspec $*"
  timeout -k 5 "$lim" node bin/diffspec.mjs "$@" > "$OUT/$name.txt" 2>&1
  echo "exit $? at $(elapsed) s"
  grep -E -A14 '^GPU goal' "$OUT/$name.txt" || tail -4 "$OUT/$name.txt"
}
step conformance-tfjs-webgpu 60 conformance --backend tfjs-webgpu --json "$OUT/conformance-tfjs-webgpu.json"
step conformance-onnxruntime-webgpu 60 conformance --backend onnxruntime-webgpu --json "$OUT/conformance-onnxruntime-webgpu.json"
step goals-smoke-small-32x1 45 bench --gpu-goals --unet small --resolution 32 --batch 1 --time-cap 15 --json "$OUT/goals-smoke-small-32x1.json"
step goals-full-128x16-fused-fp16 110 bench --gpu-goals --backends onnxruntime-webgpu --attention fused --precision fp16 --time-cap 50 --json "$OUT/goals-full-128x16-fused-fp16.json" ${GOALS_EXTRA:-}
step goals-full-128x16-fused-fp32 110 bench --gpu-goals --backends onnxruntime-webgpu --attention fused --time-cap 50 --json "$OUT/goals-full-128x16-fused-fp32.json" ${GOALS_EXTRA:-}
step goals-full-128x16-matmul-fp32 200 bench --gpu-goals --backends onnxruntime-webgpu,tfjs-webgpu --attention matmul --time-cap 60 --json "$OUT/goals-full-128x16-matmul-fp32.json" ${GOALS_EXTRA:-}
echo "total $(elapsed) s"

